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

nlohmann::json rl_step_ppo(RLSession& s, int step) {
  const RLConfig& cfg = s.cfg;
  nlohmann::json line = {{"step", step}};
  double t0 = now_seconds();
  std::vector<Rollout> rollouts = rl_generate(s, (int64_t)step * cfg.prompts_per_step,
                                              cfg.prompts_per_step, cfg.samples_per_prompt,
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
  if (cfg.whiten_advantages) {
    whiten(all_adv);
    size_t at = 0;
    for (Rollout& r : rollouts)
      for (float& a : r.advantages) a = all_adv[at++];
  }
  line["explained_variance"] = explained_variance(all_values, all_returns);
  double vmean = 0;
  for (float v : all_values) vmean += v;
  line["value_mean"] = vmean / std::max<size_t>(1, all_values.size());
  if (cfg.kl_coef > 0) line["kl_k1_rollout"] = k1_total / std::max<size_t>(1, all_adv.size());

  rl_policy_update(s, rollouts, step, true, line);
  rl_rollout_metrics(rollouts, line);
  rl_step_times(s, t0, line);
  return line;
}

}  // namespace chamber
