// The gradient half of RL: the clipped-surrogate update that PPO and GRPO share, supervised
// fine-tuning for expert iteration, and AdamW with separate actor and critic learning rates.
//
// Per micro-batch of the update: forward, classifier without gradient to read logp_t and the
// entropy under the current weights, then the derivatives of the minibatch loss at every response
// token (policy_token_weights and value_token_grads in rl_losses.h, which state the loss), then the
// classifier again with those token weights w_t = -dL/dlogp_t, and backward with
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

double rl_optimizer_step(const RLSession& s, GPT& m, float lr, float value_lr) {
  const RLConfig& cfg = s.cfg;
  double norm = rl_average_gradients(s, m);
  if (!std::isfinite(norm))
    fail("RL update: the gradient norm is not finite (NaN or Inf); lower optim.lr or raise "
         "optim.warmup_steps");
  float scale = cfg.grad_clip > 0 ? clip_grad_scale(norm, cfg.grad_clip) : 1.0f;
  // The arena holds the ranks' mean; their sum is the gradient (rl_average_gradients).
  scale *= (float)rl_comm(s).world;
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

// The loss settings of one update, from the config (kl_loss: the k3 term is in the loss).
static PolicyLossConfig policy_loss_config(const RLConfig& cfg) {
  PolicyLossConfig l;
  l.clip_eps = cfg.clip;
  l.kl_loss = cfg.kl_mode == KLMode::loss_k3 && cfg.kl_coef > 0;
  l.kl_coef = cfg.kl_coef;
  l.entropy_coef = cfg.entropy_coef;
  l.agg = cfg.loss_agg;
  l.vf_coef = cfg.vf_coef;
  l.value_clip = cfg.value_clip;
  return l;
}

void rl_policy_update(RLSession& s, std::vector<Rollout>& rollouts, int step, bool with_values,
                      nlohmann::json& line) {
  NamedRange range(*s.policy->ops, "rl update");
  const RLConfig& cfg = s.cfg;
  GPT& policy = *s.policy;
  const bool shared_value = with_values && !s.critic;
  const PolicyLossConfig loss_cfg = policy_loss_config(cfg);
  const float lr = rl_learning_rate(cfg, cfg.lr, step);
  const float value_lr = rl_learning_rate(cfg, cfg.critic_lr, step);
  const int n = (int)rollouts.size();
  const int micro = std::min(cfg.micro_batch, policy.max_B);
  std::vector<int> order(n);
  for (int i = 0; i < n; i++) order[i] = i;
  PolicyLossSums sums;
  double grad_norm = 0, critic_grad_norm = 0;
  int optimizer_steps = 0;
  std::vector<float> losses, entropy, values, weights, dvalues, logp;

  for (int epoch = 0; epoch < cfg.epochs; epoch++) {
    if (cfg.epochs > 1 || cfg.minibatches > 1) shuffle(order, s.rng);
    // Exactly `minibatches` optimiser steps per epoch, on every rank alike (a data-parallel step
    // is collective), each over an even share of this rank's rollouts.
    for (int k = 0; k < cfg.minibatches; k++) {
      const int mb0 = (int)((int64_t)n * k / cfg.minibatches);
      const int mb_n = (int)((int64_t)n * (k + 1) / cfg.minibatches) - mb0;
      // The loss is a mean over the whole minibatch: over every rank's share of it.
      double counts[2] = {(double)mb_n, 0.0};   // sequences, response tokens
      for (int i = 0; i < mb_n; i++) counts[1] += rollouts[order[mb0 + i]].response_len();
      rl_sum_over_ranks(s, counts, 2);
      const int mb_sequences = (int)counts[0];
      const double mb_tokens = counts[1];
      if (mb_sequences == 0) continue;   // the same on every rank
      gpt_zero_grad(policy);
      if (s.critic) gpt_zero_grad(*s.critic);
      for (int u0 = 0; u0 < mb_n; u0 += micro) {
        const int count = std::min(micro, mb_n - u0);
        const int* idx = order.data() + mb0 + u0;
        PackedBatch p = pack_rollouts(rollouts, idx, count);
        const size_t N = p.inputs.size();
        // Forward, and the classifier without gradient for logp and the entropy under the
        // current weights.
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
        // The loss's derivatives at each sequence's response positions (contiguous in the row).
        weights.assign(N, 0.0f);
        dvalues.assign(N, 0.0f);
        for (int b = 0; b < count; b++) {
          const Rollout& r = rollouts[idx[b]];
          const int len = r.response_len();
          const size_t at = p.position(b, r.prompt_len, 0);
          logp.resize(len);
          for (int k = 0; k < len; k++) logp[k] = -losses[at + k];
          // With one epoch and one minibatch the first update is at the sampling weights: the
          // ratio is exactly 1, so the old log-probs are this forward's (no extra pass needed).
          const float* old_logp = r.old_logprobs.empty() ? nullptr : r.old_logprobs.data();
          const float* ref_logp = r.ref_logprobs.empty() ? nullptr : r.ref_logprobs.data();
          policy_token_weights(loss_cfg, mb_sequences, mb_tokens, len, logp.data(), old_logp, ref_logp,
                               r.advantages.data(), entropy.data() + at, weights.data() + at, sums);
          if (with_values)
            value_token_grads(loss_cfg, mb_sequences, mb_tokens, len, values.data() + at, r.values.data(),
                              r.returns.data(), dvalues.data() + at, sums);
        }
        // The classifier again, now with the token weights, and backward with dvalues.
        gpt_classifier(policy, p.targets.data(), weights.data(), true);
        gpt_backward(policy, shared_value ? dvalues.data() : nullptr);
        if (s.critic && with_values) {
          // The critic learns only through its value head: no gradient from its logits.
          GPT& cr = *s.critic;
          cr.ops->zero(cr.acts.logits, N * (size_t)cr.cfg.padded_vocab * cr.compute_bytes);
          gpt_backward(cr, dvalues.data());
        }
      }
      grad_norm += rl_optimizer_step(s, policy, lr, value_lr);
      if (s.critic && with_values) critic_grad_norm += rl_optimizer_step(s, *s.critic, value_lr, value_lr);
      optimizer_steps++;
    }
  }
  double summed[8] = {sums.loss, sums.clipped, sums.approx_kl_old, sums.kl_ref, sums.entropy, sums.tokens,
                      sums.value_loss, sums.value_clipped};
  rl_sum_over_ranks(s, summed, 8);
  sums = {summed[0], summed[1], summed[2], summed[3], summed[4], summed[5], summed[6], summed[7]};
  double t = std::max(1.0, sums.tokens);
  line["policy_loss"] = sums.loss / t;
  line["clip_fraction"] = sums.clipped / t;
  line["approx_kl_old"] = sums.approx_kl_old / t;
  line["kl"] = sums.kl_ref / t;
  line["entropy"] = sums.entropy / t;
  line["grad_norm"] = grad_norm / std::max(1, optimizer_steps);
  line["lr"] = lr;
  if (with_values) {
    line["value_loss"] = sums.value_loss / t;
    line["value_clip_fraction"] = sums.value_clipped / t;
    line["critic_lr"] = value_lr;
    if (s.critic) line["critic_grad_norm"] = critic_grad_norm / std::max(1, optimizer_steps);
  }
}

double rl_sft(RLSession& s, const std::vector<Rollout>& data, int epochs) {
  NamedRange range(*s.policy->ops, "ei finetune");
  const RLConfig& cfg = s.cfg;
  const Comm& comm = rl_comm(s);
  GPT& policy = *s.policy;
  const int n = (int)data.size(), micro = std::min(cfg.micro_batch, policy.max_B);
  if (n == 0) return 0.0;
  std::vector<int> order(n);
  for (int i = 0; i < n; i++) order[i] = i;
  double total_loss = 0, total_tokens = 0;
  int sft_step = 0;
  std::vector<float> weights;
  for (int epoch = 0; epoch < epochs; epoch++) {
    // Every rank holds the same data (rl_step_ei gathers it); the lead's shuffle is everyone's.
    shuffle(order, s.rng);
    comm_broadcast(comm, order.data(), order.size() * sizeof(int), 0);
    for (int mb0 = 0; mb0 < n; mb0 += cfg.ei_batch) {
      const int mb_n = std::min(cfg.ei_batch, n - mb0);
      double mb_tokens = 0;
      for (int i = 0; i < mb_n; i++) mb_tokens += data[order[mb0 + i]].response_len();
      // This rank's share of the minibatch's sequences; the token mean is over all of them.
      const RankShare share = comm_share(comm, mb_n);
      gpt_zero_grad(policy);
      for (int u0 = 0; u0 < share.count; u0 += micro) {
        const int count = std::min(micro, share.count - u0);
        PackedBatch p = pack_rollouts(data, order.data() + mb0 + share.first + u0, count);
        gpt_forward(policy, p.inputs.data(), p.B, p.T);
        weights.assign(p.inputs.size(), (float)(1.0 / mb_tokens));   // token-mean NLL
        double loss = gpt_classifier(policy, p.targets.data(), weights.data(), true);
        gpt_backward(policy);
        total_loss += loss * mb_tokens;   // the summed NLL of this micro-batch
      }
      total_tokens += mb_tokens;
      // Warm-up restarts each round: a round may restart from the base model.
      float lr = rl_learning_rate(cfg, cfg.lr, sft_step++);
      rl_optimizer_step(s, policy, lr, lr);
    }
  }
  rl_sum_over_ranks(s, &total_loss, 1);
  return total_tokens > 0 ? total_loss / total_tokens : 0.0;
}

}  // namespace chamber
