// RL arithmetic (see rl_losses.h for the formulas). Plain loops over host floats, sums in double.
#include "train/rl_losses.h"

#include <algorithm>
#include <cmath>

#include "util/util.h"

namespace chamber {

void gae(const float* rewards, const float* values, int n, float gamma, float lambda,
         float* advantages, float* returns) {
  // Backwards in time: A_t = delta_t + gamma*lambda*A_{t+1}, with V_n = 0 and A_n = 0.
  double next_value = 0.0, next_adv = 0.0;
  for (int t = n - 1; t >= 0; t--) {
    double delta = (double)rewards[t] + gamma * next_value - values[t];
    double adv = delta + (double)gamma * lambda * next_adv;
    advantages[t] = (float)adv;
    returns[t] = (float)(adv + values[t]);
    next_value = values[t];
    next_adv = adv;
  }
}

void whiten(std::vector<float>& x, bool shift_mean) {
  if (x.size() < 2) return;
  double mean = 0.0, var = 0.0;
  for (float v : x) mean += v;
  mean /= (double)x.size();
  for (float v : x) var += (v - mean) * (v - mean);
  var /= (double)x.size();
  whiten_with(x, mean, var, shift_mean);
}

void whiten_with(std::vector<float>& x, double mean, double var, bool shift_mean) {
  double inv = 1.0 / (std::sqrt(var) + 1e-8);
  for (float& v : x) v = (float)((v - mean) * inv + (shift_mean ? 0.0 : mean));
}

std::vector<float> grpo_advantages(const std::vector<float>& rewards, int group_size, float eps,
                                   bool scale_by_std) {
  if (group_size <= 0 || rewards.size() % (size_t)group_size != 0)
    fail("grpo_advantages: ", rewards.size(), " rewards do not split into groups of ", group_size);
  std::vector<float> adv(rewards.size());
  for (size_t g = 0; g < rewards.size(); g += group_size) {
    double mean = 0.0, var = 0.0;
    for (int i = 0; i < group_size; i++) mean += rewards[g + i];
    mean /= group_size;
    for (int i = 0; i < group_size; i++) var += (rewards[g + i] - mean) * (rewards[g + i] - mean);
    var /= group_size;
    double scale = scale_by_std ? 1.0 / (std::sqrt(var) + eps) : 1.0;
    for (int i = 0; i < group_size; i++) adv[g + i] = (float)((rewards[g + i] - mean) * scale);
  }
  return adv;
}

float kl_k1(float logp, float ref_logp) { return logp - ref_logp; }

float kl_k3(float logp, float ref_logp) {
  // expm1 keeps precision when the policies are close (the usual case): k3 ~ d^2/2 for small d.
  double d = (double)ref_logp - logp;
  return (float)(std::expm1(d) - d);
}

float kl_k3_dlogp(float logp, float ref_logp) {
  return (float)(-std::expm1((double)ref_logp - logp));
}

PolicyLossTerm ppo_policy_loss(float logp, float old_logp, float advantage, float clip_eps) {
  PolicyLossTerm r;
  double ratio = std::exp((double)logp - old_logp);
  double clipped_ratio = std::clamp(ratio, 1.0 - clip_eps, 1.0 + clip_eps);
  double unclipped_obj = ratio * advantage, clipped_obj = clipped_ratio * advantage;
  r.ratio = (float)ratio;
  r.clipped = std::fabs(ratio - 1.0) > clip_eps;
  if (unclipped_obj <= clipped_obj) {       // min picks the unclipped term: it carries the gradient
    r.loss = (float)-unclipped_obj;
    r.dloss_dlogp = (float)(-advantage * ratio);   // d ratio / d logp = ratio
  } else {
    r.loss = (float)-clipped_obj;
    r.dloss_dlogp = 0.0f;
  }
  return r;
}

ValueLossTerm ppo_value_loss(float value, float old_value, float ret, float clip_eps) {
  ValueLossTerm r;
  double err = (double)value - ret;
  double plain = 0.5 * err * err;
  if (clip_eps <= 0) {
    r.loss = (float)plain;
    r.dloss_dvalue = (float)err;
    return r;
  }
  double v_clip = old_value + std::clamp((double)value - old_value, -(double)clip_eps, (double)clip_eps);
  double err_clip = v_clip - ret;
  double clipped = 0.5 * err_clip * err_clip;
  if (plain >= clipped) {
    r.loss = (float)plain;
    r.dloss_dvalue = (float)err;
  } else {
    // v_clip is constant in value outside the clip range, so the active branch has no gradient.
    r.loss = (float)clipped;
    r.clipped = true;
    bool inside = std::fabs((double)value - old_value) < clip_eps;
    r.dloss_dvalue = inside ? (float)err_clip : 0.0f;
  }
  return r;
}

float entropy_bonus_dlogp(float logp, float entropy, float coef) {
  // L = -coef * H, surrogate grad H = (-logp - H) grad logp  =>  dL/dlogp = coef * (logp + H).
  return coef * (logp + entropy);
}

double loss_agg_weight(LossAgg agg, int len, int sequences, double tokens) {
  return agg == LossAgg::seq_mean ? 1.0 / ((double)sequences * len) : 1.0 / tokens;
}

void policy_token_weights(const PolicyLossConfig& cfg, int sequences, double tokens, int n,
                          const float* logp, const float* old_logp, const float* ref_logp,
                          const float* advantages, const float* entropy, float* w,
                          PolicyLossSums& sums) {
  if (cfg.kl_loss && !ref_logp) fail("policy_token_weights: the k3 loss term needs the reference log-probs");
  const double c = loss_agg_weight(cfg.agg, n, sequences, tokens);
  for (int t = 0; t < n; t++) {
    const float old_lp = old_logp ? old_logp[t] : logp[t];
    PolicyLossTerm pl = ppo_policy_loss(logp[t], old_lp, advantages[t], cfg.clip_eps);
    double dloss = pl.dloss_dlogp;
    if (cfg.kl_loss) dloss += cfg.kl_coef * kl_k3_dlogp(logp[t], ref_logp[t]);
    if (cfg.entropy_coef > 0) dloss += entropy_bonus_dlogp(logp[t], entropy[t], cfg.entropy_coef);
    w[t] = (float)(-c * dloss);
    sums.loss += pl.loss;
    sums.clipped += pl.clipped;
    sums.approx_kl_old += old_lp - logp[t];
    if (ref_logp) sums.kl_ref += kl_k3(logp[t], ref_logp[t]);
    sums.entropy += entropy[t];
    sums.tokens += 1;
  }
}

void value_token_grads(const PolicyLossConfig& cfg, int sequences, double tokens, int n,
                       const float* values, const float* old_values, const float* returns,
                       float* dvalues, PolicyLossSums& sums) {
  const double c = loss_agg_weight(cfg.agg, n, sequences, tokens);
  for (int t = 0; t < n; t++) {
    ValueLossTerm vl = ppo_value_loss(values[t], old_values[t], returns[t], cfg.value_clip);
    dvalues[t] = (float)(c * cfg.vf_coef * vl.dloss_dvalue);
    sums.value_loss += vl.loss;
    sums.value_clipped += vl.clipped;
  }
}

double explained_variance(const std::vector<float>& values, const std::vector<float>& returns) {
  size_t n = returns.size();
  if (n == 0 || values.size() != n) return 0.0;
  double mr = 0.0, md = 0.0;
  for (size_t i = 0; i < n; i++) {
    mr += returns[i];
    md += returns[i] - values[i];
  }
  mr /= n;
  md /= n;
  double vr = 0.0, vd = 0.0;
  for (size_t i = 0; i < n; i++) {
    vr += (returns[i] - mr) * (returns[i] - mr);
    double d = returns[i] - values[i] - md;
    vd += d * d;
  }
  if (vr <= 0.0) return 0.0;
  return 1.0 - vd / vr;
}

}  // namespace chamber
