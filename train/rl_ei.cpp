// Expert iteration, one round per step: sample k solutions of each of the round's questions
// (temperature ei.temperature, top-p ei.top_p), keep the correct ones, de-duplicated by their
// tokens, and fine-tune on them (token-mean NLL of the response, ei.epochs epochs), either
// continuing from the current policy or restarting from the base model (ei.restart: base).
// With ei.accumulate the kept set grows over rounds (so a restarted model sees all of it). Under a
// counterfactual control the kept ones are those the control rewards (rl_rollout_rewarded).
// Data parallel: each rank samples its share of the questions, and the kept samples are gathered
// so that every rank fine-tunes on the whole set (rl_sft splits each batch over the ranks).
#include <set>

#include "train/rl.h"
#include "train/rl_internal.h"

namespace chamber {

nlohmann::json rl_step_ei(RLSession& s, int step) {
  const RLConfig& cfg = s.cfg;
  nlohmann::json line = {{"step", step}};
  double t0 = now_seconds();
  const RankShare share = comm_share(rl_comm(s), cfg.prompts_per_step);
  std::vector<Rollout> rollouts = rl_generate(s, (int64_t)step * cfg.prompts_per_step + share.first,
                                              share.count, cfg.samples_per_prompt,
                                              rl_sampling_params(cfg, true));
  std::vector<Rollout> rewarded;
  for (const Rollout& r : rollouts)
    if (rl_rollout_rewarded(cfg, r)) rewarded.push_back(r);
  // Every rank's rewarded samples, in prompt order (the shares are contiguous), on every rank: all
  // ranks then keep and fine-tune on the same set, the one a single process would.
  rewarded = rl_gather_rollouts(s, rewarded);
  std::set<std::vector<int>> seen_this_round;
  std::set<std::vector<int>>& seen = cfg.ei_accumulate ? s.ei_seen : seen_this_round;
  std::vector<Rollout> kept;
  const int correct = (int)rewarded.size();
  for (const Rollout& r : rewarded)
    if (seen.insert(r.tokens).second) kept.push_back(r);
  std::vector<Rollout>& data = cfg.ei_accumulate ? s.ei_data : kept;
  if (cfg.ei_accumulate) data.insert(data.end(), kept.begin(), kept.end());
  if (cfg.ei_restart == EIRestart::base) rl_reset_policy_to_reference(s);
  double loss = rl_sft(s, data, cfg.ei_epochs);
  rl_rollout_metrics(s, rollouts, line);
  line["kept"] = kept.size();
  line["duplicates"] = correct - (int)kept.size();
  line["sft_sequences"] = data.size();
  line["sft_loss"] = loss;
  line["lr"] = cfg.lr;
  rl_step_times(s, t0, line);
  return line;
}

}  // namespace chamber
