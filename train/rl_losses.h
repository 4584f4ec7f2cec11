// The arithmetic of RL post-training, as pure functions on host arrays: advantages (GAE, GRPO's
// group normalisation, whitening), KL estimators against the frozen reference, PPO's clipped
// policy and value losses with their derivatives, the per-token weights and value gradients that
// PPO's and GRPO's update assembles from them, explained variance. The loops in rl_*.cpp only
// gather numbers, call these and hand the derivatives to the model, so these are what the
// finite-difference tests check.
//
// How a loss reaches the model: every per-token objective here is a function of the token's
// log-probability under the current policy, L = sum_t f_t(logp_t). The fused classifier computes
// the gradient of sum_t w_t * (-logp_t) (kernels/ops.h), so setting w_t = -dL/dlogp_t makes the
// model receive exactly dL/dtheta. The value loss reaches the value head as dL/dvalue_t.
//
// Conventions: logp = log pi(token | prefix) under the current policy, old_logp under the policy
// that sampled the rollout (recomputed by a forward pass), ref_logp under the frozen reference.
#pragma once
#include <vector>

namespace chamber {

// How a minibatch's per-token terms are averaged into its loss (policy.loss_agg):
//   token_mean  every response token weighs 1 / (response tokens of the minibatch)
//   seq_mean    every sequence weighs the same: its tokens 1 / (sequences * its length)
enum class LossAgg { token_mean, seq_mean };

// Generalised advantage estimation for one finished sequence of n tokens (the value after the last
// token is 0: the episode ends there):
//   delta_t = r_t + gamma * V_{t+1} - V_t,   A_t = delta_t + gamma * lambda * A_{t+1},
//   returns R_t = A_t + V_t (the value head's regression target).
void gae(const float* rewards, const float* values, int n, float gamma, float lambda,
         float* advantages, float* returns);

// In place (x - mean) / (std + 1e-8) over all entries (population std). With shift_mean false
// the mean is added back (scale only). Fewer than two entries: unchanged.
void whiten(std::vector<float>& x, bool shift_mean = true);
// The same with the mean and (population) variance given: those of a batch spread over ranks.
void whiten_with(std::vector<float>& x, double mean, double var, bool shift_mean = true);

// GRPO: rewards come in consecutive groups of group_size samples of the same prompt;
//   A_i = (r_i - mean(group)) / (std(group) + eps)   (population std; scale_by_std false: no division)
// A group with identical rewards gets advantage 0 (no signal, no gradient).
std::vector<float> grpo_advantages(const std::vector<float>& rewards, int group_size, float eps,
                                   bool scale_by_std = true);

// KL(pi || ref) estimators from one sampled token (Schulman's k1 and k3):
//   k1 = logp - ref_logp                           unbiased, can be negative (a reward penalty)
//   k3 = exp(ref_logp - logp) - (ref_logp - logp) - 1   unbiased, always >= 0 (a loss term)
float kl_k1(float logp, float ref_logp);
float kl_k3(float logp, float ref_logp);
float kl_k3_dlogp(float logp, float ref_logp);   // d k3 / d logp = 1 - exp(ref_logp - logp)

// PPO's clipped surrogate for one token, as a loss (to minimise):
//   ratio = exp(logp - old_logp)
//   loss  = -min(ratio * A, clip(ratio, 1 - eps, 1 + eps) * A)
// The derivative is -A * ratio where the unclipped term is the active one and 0 where the clipped
// (constant) term is. clipped reports |ratio - 1| > eps (the usual "clip fraction").
struct PolicyLossTerm {
  float loss = 0, dloss_dlogp = 0, ratio = 1;
  bool clipped = false;
};
PolicyLossTerm ppo_policy_loss(float logp, float old_logp, float advantage, float clip_eps);

// PPO's clipped value loss for one token (clip_eps <= 0: plain squared error):
//   v_clip = old_value + clip(value - old_value, -eps, eps)
//   loss   = 0.5 * max((value - R)^2, (v_clip - R)^2)
// clipped reports that the clipped branch is active (its gradient is 0).
struct ValueLossTerm {
  float loss = 0, dloss_dvalue = 0;
  bool clipped = false;
};
ValueLossTerm ppo_value_loss(float value, float old_value, float ret, float clip_eps);

// Entropy bonus, approximately: the classifier gives no entropy gradient, so the bonus
// -coef * H(pi(.|prefix)) is differentiated by the score-function form with the exact entropy as
// baseline, grad H ~= (-logp(a) - H) * grad logp(a) for the sampled token a. This is unbiased only
// when a was drawn from the current untempered policy (rollouts at temperature != 1 or stale
// rollouts make it approximate). Returns d(-coef * H)/dlogp for the token.
float entropy_bonus_dlogp(float logp, float entropy, float coef);

// ---- the per-token derivatives of the clipped-surrogate update (PPO and GRPO) ----
// For a minibatch the update minimises, over the response tokens t of its sequences,
//   L = sum_t c_t * [ ppo_policy_loss(logp_t)
//                     + kl_coef * k3(logp_t, ref_logp_t)         (kl_loss only)
//                     - entropy_coef * H_t                       (entropy_bonus_dlogp's surrogate)
//                     + vf_coef * ppo_value_loss(value_t) ]      (PPO only)
// with c_t the aggregation weight (loss_agg_weight). The model receives L through the classifier's
// token weights w_t = -dL/dlogp_t (policy_token_weights) and the value head's dL/dvalue_t
// (value_token_grads).
struct PolicyLossConfig {
  float clip_eps = 0.2f;
  bool kl_loss = false;           // the k3 term is part of L (kl_mode loss_k3 with kl_coef > 0)
  float kl_coef = 0.0f;
  float entropy_coef = 0.0f;      // 0 = no entropy bonus
  LossAgg agg = LossAgg::token_mean;
  float vf_coef = 0.5f;           // value loss (PPO)
  float value_clip = 0.2f;
};

// c_t of every token of a sequence with `len` response tokens, in a minibatch of `sequences`
// sequences holding `tokens` response tokens: 1 / tokens (token_mean), 1 / (sequences * len)
// (seq_mean). Either way the c_t of a minibatch sum to 1.
double loss_agg_weight(LossAgg agg, int len, int sequences, double tokens);

// Sums over the tokens seen of each term, for the step's metrics (divide by tokens).
struct PolicyLossSums {
  double loss = 0;           // ppo_policy_loss
  double clipped = 0;        // tokens whose ratio left [1 - eps, 1 + eps]
  double approx_kl_old = 0;  // old_logp - logp
  double kl_ref = 0;         // k3 to the reference (where ref_logp is given)
  double entropy = 0;
  double tokens = 0;
  double value_loss = 0, value_clipped = 0;   // value_token_grads
};

// The token weights w[0..n) of one sequence of n response tokens in a minibatch of `sequences`
// sequences and `tokens` response tokens; adds the sequence's terms to `sums`. Per token:
//   logp        log-prob under the current weights
//   old_logp    under the weights that sampled it; null: they are the current ones (ratio 1)
//   ref_logp    under the frozen reference; null: not scored (then kl_loss must be false)
//   advantages  A_t;  entropy  the exact entropy H_t of the current policy at the token
void policy_token_weights(const PolicyLossConfig& cfg, int sequences, double tokens, int n,
                          const float* logp, const float* old_logp, const float* ref_logp,
                          const float* advantages, const float* entropy, float* w,
                          PolicyLossSums& sums);

// dL/dvalue_t of the value term, dvalues[0..n) for one sequence (same minibatch arguments):
// c_t * vf_coef * d ppo_value_loss / dvalue, given the current values, the values at sampling
// time (old_values, the clip's centre) and the GAE returns. Adds value_loss and value_clipped to
// `sums`.
void value_token_grads(const PolicyLossConfig& cfg, int sequences, double tokens, int n,
                       const float* values, const float* old_values, const float* returns,
                       float* dvalues, PolicyLossSums& sums);

// 1 - Var(returns - values) / Var(returns); 0 when Var(returns) is 0. 1 is perfect, <= 0 useless.
double explained_variance(const std::vector<float>& values, const std::vector<float>& returns);

}  // namespace chamber
