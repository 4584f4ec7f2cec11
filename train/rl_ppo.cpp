// PPO with a value function. Per sampled token t of a response (the last token gets the reward):
//   r_t = -kl_coef * k1(old_logp_t, ref_logp_t)  (kl_mode reward_k1)  + [t last] * reward
//   GAE(gamma, lambda) over r_t and the critic's values -> advantages A_t and returns R_t,
//   A whitened over the batch, then epochs x minibatches of clipped policy loss and
//   vf_coef * clipped value loss (rl_update.cpp). The value head shares the policy trunk (its
//   gradient flows into the trunk) unless separate_critic gives the critic its own GPT.
#include "train/rl.h"
#include "train/rl_internal.h"
#include "train/rl_losses.h"

namespace chamber {

// Count, mean and population variance of x (or of x - minus) over every rank's values: two passes,
// each summed over the ranks, in the order whiten and explained_variance sum in.
struct BatchMoments {
  double n = 0, mean = 0, var = 0, squares = 0;   // squares: the sum of squared deviations
};
static BatchMoments batch_moments(const RLSession& s, const std::vector<float>& x, const std::vector<float>* minus) {
  auto value = [&](size_t i) { return minus ? (double)(x[i] - (*minus)[i]) : (double)x[i]; };
  double sums[2] = {0.0, (double)x.size()};
  for (size_t i = 0; i < x.size(); i++) sums[0] += value(i);
  rl_sum_over_ranks(s, sums, 2);
  BatchMoments m;
  m.n = sums[1];
  if (m.n == 0) return m;
  m.mean = sums[0] / m.n;
  double squares = 0;
  for (size_t i = 0; i < x.size(); i++) squares += (value(i) - m.mean) * (value(i) - m.mean);
  rl_sum_over_ranks(s, &squares, 1);
  m.squares = squares;
  m.var = squares / m.n;
  return m;
}

nlohmann::json rl_step_ppo(RLSession& s, int step) {
  const RLConfig& cfg = s.cfg;
  nlohmann::json line = {{"step", step}};
  double t0 = now_seconds();
  const RankShare share = comm_share(rl_comm(s), cfg.prompts_per_step);
  std::vector<Rollout> rollouts = rl_generate(s, (int64_t)step * cfg.prompts_per_step + share.first,
                                              share.count, cfg.samples_per_prompt,
                                              rl_sampling_params(cfg, false));
  // Old log-probs and (shared head) values from one forward of the sampling weights.
  rl_score(s, *s.policy, rollouts, ScoreInto::old_logprobs, false, s.critic == nullptr);
  if (s.critic) rl_score(s, *s.critic, rollouts, ScoreInto::values_only, false, true);
  line["sampler_logprob_gap"] = sampler_logprob_gap(rollouts);
  if (cfg.kl_coef > 0) rl_score(s, *s.reference, rollouts, ScoreInto::ref_logprobs, false, false);

  std::vector<float> all_adv, all_values, all_returns, token_rewards;
  double k1_total = 0;
  for (Rollout& r : rollouts) {
    const int len = r.response_len();
    token_rewards.assign(len, 0.0f);
    for (int k = 0; k < len && cfg.kl_coef > 0; k++) {
      float k1 = kl_k1(r.old_logprobs[k], r.ref_logprobs[k]);
      k1_total += k1;
      if (cfg.kl_mode == KLMode::reward_k1) token_rewards[k] -= cfg.kl_coef * k1;
    }
    token_rewards[len - 1] += r.reward.reward;
    r.advantages.resize(len);
    r.returns.resize(len);
    gae(token_rewards.data(), r.values.data(), len, cfg.gamma, cfg.lambda, r.advantages.data(),
        r.returns.data());
    all_adv.insert(all_adv.end(), r.advantages.begin(), r.advantages.end());
    all_values.insert(all_values.end(), r.values.begin(), r.values.end());
    all_returns.insert(all_returns.end(), r.returns.begin(), r.returns.end());
  }
  // Batch statistics over every rank's tokens (sums exchanged; one process: as before).
  BatchMoments adv_moments = batch_moments(s, all_adv, nullptr);
  if (cfg.whiten_advantages && adv_moments.n >= 2) {
    whiten_with(all_adv, adv_moments.mean, adv_moments.var);
    size_t at = 0;
    for (Rollout& r : rollouts)
      for (float& a : r.advantages) a = all_adv[at++];
  }
  // Explained variance 1 - Var(returns - values) / Var(returns), from the same kind of sums.
  BatchMoments ret = batch_moments(s, all_returns, nullptr), resid = batch_moments(s, all_returns, &all_values);
  line["explained_variance"] = ret.squares > 0 ? 1.0 - resid.squares / ret.squares : 0.0;
  double summed[2] = {0.0, k1_total};
  for (float v : all_values) summed[0] += v;
  rl_sum_over_ranks(s, summed, 2);
  line["value_mean"] = summed[0] / std::max(1.0, adv_moments.n);
  if (cfg.kl_coef > 0) line["kl_k1_rollout"] = summed[1] / std::max(1.0, adv_moments.n);

  rl_policy_update(s, rollouts, step, true, line);
  rl_rollout_metrics(s, rollouts, line);
  rl_step_times(s, t0, line);
  return line;
}

}  // namespace chamber
