// The gradient half of RL: the clipped-surrogate update that PPO and GRPO share, supervised
// fine-tuning for expert iteration, and AdamW with separate actor and critic learning rates.
//
// Per micro-batch of the update: forward, classifier without gradient to read logp_t and the
// entropy under the current weights, then the per-token derivatives of the minibatch loss
//   L = sum_t c_t * [ ppo_clip(logp_t) + kl_coef * k3(logp_t, ref_t) (loss_k3)
//                     - entropy_coef * H_t (surrogate) + vf_coef * value_clip_loss(v_t) ]
// (c_t = the aggregation weight: 1/tokens for token_mean, 1/(sequences * length) for seq_mean),
// then the classifier again with token weights w_t = -dL/dlogp_t, and backward with
// dvalues_t = dL/dv_t. Gradients of the micro-batches add up; one optimiser step per minibatch.
#include <algorithm>
#include <cmath>

#include "kernels/adamw.h"
#include "train/rl.h"
#include "train/rl_internal.h"
#include "train/rl_losses.h"

namespace chamber {

float rl_learning_rate(const RLConfig& cfg, float peak, int step) {
  if (step < cfg.warmup_steps) return peak * (float)(step + 1) / (float)cfg.warmup_steps;
  return peak;
}

double rl_optimizer_step(GPT& m, const RLConfig& cfg, float lr, float value_lr) {
  double norm = gpt_grad_norm(m);
  if (!std::isfinite(norm))
    fail("RL update: the gradient norm is not finite (NaN or Inf); lower optim.lr or raise "
         "optim.warmup_steps");
  float scale = cfg.grad_clip > 0 ? clip_grad_scale(norm, cfg.grad_clip) : 1.0f;
  gpt_adamw_step(m, {.lr = lr, .beta1 = cfg.beta1, .beta2 = cfg.beta2, .eps = cfg.adam_eps,
                     .weight_decay = cfg.weight_decay, .grad_scale = scale,
                     .value_head_lr = value_lr});
  return norm;
}

void rl_reset_policy_to_reference(RLSession& s) {
  gpt_parameters_from_host(*s.policy, gpt_parameters_to_host(*s.reference));
  GPT& m = *s.policy;
  m.ops->zero(m.m_arena.base, m.m_arena.bytes);
  m.ops->zero(m.v_arena.base, m.v_arena.bytes);
  m.adam_step = 0;
}

static void shuffle(std::vector<int>& v, Rng& rng) {
  for (size_t i = v.size(); i > 1; i--) std::swap(v[i - 1], v[rng.below(i)]);
}

namespace {
struct UpdateStats {
  double policy_loss = 0, clipped = 0, approx_kl = 0, ref_kl = 0, entropy = 0, value_loss = 0,
         value_clipped = 0, tokens = 0, grad_norm = 0, critic_grad_norm = 0;
  int steps = 0;
};
}  // namespace

void rl_policy_update(RLSession& s, std::vector<Rollout>& rollouts, int step, bool with_values,
                      nlohmann::json& line) {
  NamedRange range(*s.policy->ops, "rl update");
  const RLConfig& cfg = s.cfg;
  GPT& policy = *s.policy;
  const bool shared_value = with_values && !s.critic;
  const bool kl_loss = cfg.kl_mode == "loss_k3" && cfg.kl_coef > 0;
  const float lr = rl_learning_rate(cfg, cfg.lr, step);
  const float value_lr = rl_learning_rate(cfg, cfg.critic_lr, step);
  const int n = (int)rollouts.size();
  const int mb_size = (n + cfg.minibatches - 1) / cfg.minibatches;
  const int micro = std::min(cfg.micro_batch, policy.max_B);
  std::vector<int> order(n);
  for (int i = 0; i < n; i++) order[i] = i;
  UpdateStats st;
  std::vector<float> losses, entropy, values, weights, dvalues;

  for (int epoch = 0; epoch < cfg.epochs; epoch++) {
    if (cfg.epochs > 1 || cfg.minibatches > 1) shuffle(order, s.rng);
    for (int mb0 = 0; mb0 < n; mb0 += mb_size) {
      const int mb_n = std::min(mb_size, n - mb0);
      double mb_tokens = 0;
      for (int i = 0; i < mb_n; i++) mb_tokens += rollouts[order[mb0 + i]].response_len();
      gpt_zero_grad(policy);
      if (s.critic) gpt_zero_grad(*s.critic);
      for (int u0 = 0; u0 < mb_n; u0 += micro) {
        const int count = std::min(micro, mb_n - u0);
        const int* idx = order.data() + mb0 + u0;
        PackedBatch p = pack_rollouts(rollouts, idx, count);
        const size_t N = p.inputs.size();
        gpt_forward(policy, p.inputs.data(), p.B, p.T);
        gpt_classifier(policy, p.targets.data(), nullptr, false);
        losses.resize(N);
        entropy.resize(N);
        gpt_copy_losses(policy, losses.data());
        gpt_copy_entropy(policy, entropy.data());
        values.assign(N, 0.0f);
        if (shared_value) gpt_copy_values(policy, values.data());
        if (s.critic && with_values) {
          gpt_forward(*s.critic, p.inputs.data(), p.B, p.T);
          gpt_copy_values(*s.critic, values.data());
        }
        weights.assign(N, 0.0f);
        dvalues.assign(N, 0.0f);
        for (int b = 0; b < count; b++) {
          Rollout& r = rollouts[idx[b]];
          const int len = r.response_len();
          const double c = cfg.loss_agg == "seq_mean" ? 1.0 / ((double)mb_n * len) : 1.0 / mb_tokens;
          for (int k = 0; k < len; k++) {
            size_t pos = p.position(b, r.prompt_len, k);
            float logp = -losses[pos];
            // With one epoch and one minibatch the first update is at the sampling weights: the
            // ratio is exactly 1, so the old log-prob is this forward's (no extra pass needed).
            float old_lp = r.old_logprobs.empty() ? logp : r.old_logprobs[k];
            PolicyLossTerm pl = ppo_policy_loss(logp, old_lp, r.advantages[k], cfg.clip);
            double d = pl.dloss_dlogp;
            if (kl_loss) d += cfg.kl_coef * kl_k3_dlogp(logp, r.ref_logprobs[k]);
            if (cfg.entropy_coef > 0) d += entropy_bonus_dlogp(logp, entropy[pos], cfg.entropy_coef);
            weights[pos] = (float)(-c * d);
            st.policy_loss += pl.loss;
            st.clipped += pl.clipped;
            st.approx_kl += old_lp - logp;
            if (!r.ref_logprobs.empty()) st.ref_kl += kl_k3(logp, r.ref_logprobs[k]);
            st.entropy += entropy[pos];
            st.tokens += 1;
            if (with_values) {
              ValueLossTerm vl = ppo_value_loss(values[pos], r.values[k], r.returns[k], cfg.value_clip);
              dvalues[pos] = (float)(c * cfg.vf_coef * vl.dloss_dvalue);
              st.value_loss += vl.loss;
              st.value_clipped += vl.clipped;
            }
          }
        }
        gpt_classifier(policy, p.targets.data(), weights.data(), true);
        gpt_backward(policy, shared_value ? dvalues.data() : nullptr);
        if (s.critic && with_values) {
          // The critic learns only through its value head: no gradient from its logits.
          GPT& cr = *s.critic;
          cr.ops->zero(cr.acts.logits, N * (size_t)cr.cfg.padded_vocab * sizeof(float));
          gpt_backward(cr, dvalues.data());
        }
      }
      st.grad_norm += rl_optimizer_step(policy, cfg, lr, value_lr);
      if (s.critic && with_values) st.critic_grad_norm += rl_optimizer_step(*s.critic, cfg, value_lr, value_lr);
      st.steps++;
    }
  }
  double t = std::max(1.0, st.tokens);
  line["policy_loss"] = st.policy_loss / t;
  line["clip_fraction"] = st.clipped / t;
  line["approx_kl_old"] = st.approx_kl / t;
  line["kl"] = st.ref_kl / t;
  line["entropy"] = st.entropy / t;
  line["grad_norm"] = st.grad_norm / std::max(1, st.steps);
  line["lr"] = lr;
  if (with_values) {
    line["value_loss"] = st.value_loss / t;
    line["value_clip_fraction"] = st.value_clipped / t;
    line["critic_lr"] = value_lr;
    if (s.critic) line["critic_grad_norm"] = st.critic_grad_norm / std::max(1, st.steps);
  }
}

double rl_sft(RLSession& s, const std::vector<Rollout>& data, int epochs) {
  NamedRange range(*s.policy->ops, "ei finetune");
  const RLConfig& cfg = s.cfg;
  GPT& policy = *s.policy;
  const int n = (int)data.size(), micro = std::min(cfg.micro_batch, policy.max_B);
  if (n == 0) return 0.0;
  std::vector<int> order(n);
  for (int i = 0; i < n; i++) order[i] = i;
  double total_loss = 0, total_tokens = 0;
  int sft_step = 0;
  std::vector<float> weights;
  for (int epoch = 0; epoch < epochs; epoch++) {
    shuffle(order, s.rng);
    for (int mb0 = 0; mb0 < n; mb0 += cfg.ei_batch) {
      const int mb_n = std::min(cfg.ei_batch, n - mb0);
      double mb_tokens = 0;
      for (int i = 0; i < mb_n; i++) mb_tokens += data[order[mb0 + i]].response_len();
      gpt_zero_grad(policy);
      for (int u0 = 0; u0 < mb_n; u0 += micro) {
        const int count = std::min(micro, mb_n - u0);
        PackedBatch p = pack_rollouts(data, order.data() + mb0 + u0, count);
        gpt_forward(policy, p.inputs.data(), p.B, p.T);
        weights.assign(p.inputs.size(), (float)(1.0 / mb_tokens));   // token-mean NLL
        double loss = gpt_classifier(policy, p.targets.data(), weights.data(), true);
        gpt_backward(policy);
        total_loss += loss * mb_tokens;   // the summed NLL of this micro-batch
      }
      total_tokens += mb_tokens;
      // Warm-up restarts each round: a round may restart from the base model.
      float lr = rl_learning_rate(cfg, cfg.lr, sft_step++);
      rl_optimizer_step(policy, cfg, lr, lr);
    }
  }
  return total_tokens > 0 ? total_loss / total_tokens : 0.0;
}

}  // namespace chamber
