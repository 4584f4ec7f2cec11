// GRPO: n samples per prompt; each sample's advantage is its reward normalised within its group,
//   A_i = (r_i - mean(group)) / (std(group) + eps),
// broadcast to every token of the sample; then the clipped surrogate with the k3 KL to the frozen
// reference as a loss term (kl_mode loss_k3, GRPO's default; with reward_k1 the sequence's summed
// k1 is subtracted from its reward before normalising instead) in the update of rl_update.cpp.
// No value function: the group mean is the baseline.
#include "train/rl.h"
#include "train/rl_internal.h"
#include "train/rl_losses.h"

namespace chamber {

nlohmann::json rl_step_grpo(RLSession& s, int step) {
  const RLConfig& cfg = s.cfg;
  nlohmann::json line = {{"step", step}};
  double t0 = now_seconds();
  // Data parallel: this rank's share of the prompts, whole groups (advantages need no exchange).
  const RankShare share = comm_share(rl_comm(s), cfg.prompts_per_step);
  std::vector<Rollout> rollouts = rl_generate(s, (int64_t)step * cfg.prompts_per_step + share.first,
                                              share.count, cfg.samples_per_prompt,
                                              rl_sampling_params(cfg, false));
  // Old log-probs by a forward pass; with a single update the ratio is 1 by definition and the
  // update's own forward provides them (rl_update.cpp).
  if (cfg.epochs > 1 || cfg.minibatches > 1) {
    rl_score(s, *s.policy, rollouts, ScoreInto::old_logprobs, false, false);
    line["sampler_logprob_gap"] = sampler_logprob_gap(rollouts);
  }
  if (cfg.kl_coef > 0) rl_score(s, *s.reference, rollouts, ScoreInto::ref_logprobs, false, false);

  std::vector<float> rewards(rollouts.size());
  double k1_total = 0, tokens = 0;
  for (size_t i = 0; i < rollouts.size(); i++) {
    Rollout& r = rollouts[i];
    rewards[i] = r.reward.reward;
    const std::vector<float>& lp = r.old_logprobs.empty() ? r.sampler_logprobs : r.old_logprobs;
    double seq_k1 = 0;
    for (size_t k = 0; k < r.ref_logprobs.size(); k++) seq_k1 += kl_k1(lp[k], r.ref_logprobs[k]);
    k1_total += seq_k1;
    tokens += r.response_len();
    // kl_mode reward_k1: the sequence's summed k1 penalises its reward before normalisation.
    if (cfg.kl_mode == KLMode::reward_k1) rewards[i] -= (float)(cfg.kl_coef * seq_k1);
  }
  std::vector<float> adv = grpo_advantages(rewards, cfg.samples_per_prompt, cfg.grpo_eps,
                                           cfg.grpo_scale_by_std);
  int groups_with_signal = 0;
  for (size_t g = 0; g < adv.size(); g += cfg.samples_per_prompt) {
    bool any = false;
    for (int j = 0; j < cfg.samples_per_prompt; j++) any |= adv[g + j] != 0.0f;
    groups_with_signal += any;
  }
  for (size_t i = 0; i < rollouts.size(); i++) rollouts[i].advantages.assign(rollouts[i].response_len(), adv[i]);

  rl_policy_update(s, rollouts, step, false, line);
  rl_rollout_metrics(s, rollouts, line);
  double summed[3] = {k1_total, tokens, (double)groups_with_signal};
  rl_sum_over_ranks(s, summed, 3);
  if (cfg.kl_coef > 0) line["kl_k1_rollout"] = summed[0] / std::max(1.0, summed[1]);
  line["groups_with_signal"] = summed[2] / cfg.prompts_per_step;
  rl_step_times(s, t0, line);
  return line;
}

}  // namespace chamber
