// What an RL step reports: the metrics of a rollout batch (reward, length, style shares), the
// time per phase, and the greedy pass@1 evaluation on held-out problems.
#include <algorithm>
#include <map>

#include "train/rl.h"

namespace chamber {

void rl_rollout_metrics(const RLSession& s, const std::vector<Rollout>& rollouts, nlohmann::json& line) {
  // Sums keyed by name, so that the ranks' can be added whatever labels each one saw.
  std::map<std::string, double> sums = {{"rollouts", (double)rollouts.size()}, {"reward", 0.0},
                                        {"correct", 0.0}, {"length", 0.0}, {"ended", 0.0}};
  for (const Rollout& r : rollouts) {
    sums["reward"] += r.reward.reward;
    sums["correct"] += r.reward.correct;
    sums["length"] += r.response_len();
    sums["ended"] += r.finish == "eot";
    if (!r.reward.label.empty()) {
      sums["count:" + r.reward.label] += 1;
      sums["correct:" + r.reward.label] += r.reward.correct;
    }
  }
  rl_sum_named_over_ranks(s, sums);
  double n = std::max(1.0, sums["rollouts"]);
  line["reward"] = sums["reward"] / n;
  line["correct"] = sums["correct"] / n;
  line["response_length"] = sums["length"] / n;
  line["eot_share"] = sums["ended"] / n;
  line["rollouts"] = (int64_t)sums["rollouts"];
  for (const auto& [key, count] : sums)
    if (key.rfind("count:", 0) == 0) {
      const std::string label = key.substr(6);
      line["style_" + label] = count / n;
      line["style_acc_" + label] = sums["correct:" + label] / count;
    }
}

void rl_step_times(RLSession& s, double step_start, nlohmann::json& line) {
  double step = now_seconds() - step_start;
  line["sample_s"] = s.sample_s;
  line["grade_s"] = s.grade_s;
  line["score_s"] = s.score_s;
  line["update_s"] = step - s.sample_s - s.grade_s - s.score_s;
  line["step_s"] = step;
  s.sample_s = s.grade_s = s.score_s = 0;
}

nlohmann::json rl_evaluate(RLSession& s) {
  nlohmann::json line = nlohmann::json::object();
  if (!s.eval_task.prompts || s.cfg.eval_problems <= 0) return line;
  const double t_start = now_seconds();
  // Data parallel: each rank answers its share of the problems; the counts are summed.
  const RankShare share = comm_share(rl_comm(s), s.cfg.eval_problems);
  std::vector<RLPrompt> prompts = s.eval_task.prompts(share.first, share.count);
  SamplingParams greedy = rl_sampling_params(s.cfg, false);
  greedy.temperature = 0.0f;
  Rng rng(0);   // greedy draws no random numbers; keep the run's stream untouched anyway
  std::map<std::string, double> sums = {{"reward", 0.0}, {"correct", 0.0}};
  for (size_t start = 0; start < prompts.size(); start += s.sampler.max_batch) {
    size_t end = std::min(prompts.size(), start + (size_t)s.sampler.max_batch);
    std::vector<std::vector<int>> batch;
    for (size_t i = start; i < end; i++) batch.push_back(prompts[i].tokens);
    std::vector<Completion> done = sampler_generate(s.sampler, *s.policy, s.tok->token_bytes, s.tok->eot_id, batch, greedy, rng);
    for (size_t i = start; i < end; i++) {
      RLReward r = s.eval_task.reward(prompts[i], done[i - start]);
      sums["reward"] += r.reward;
      sums["correct"] += r.correct;
      if (!r.label.empty()) sums["style:" + r.label] += 1;
    }
  }
  rl_sum_named_over_ranks(s, sums);
  double n = (double)s.cfg.eval_problems;
  line["eval_reward"] = sums["reward"] / n;
  line["eval_pass1"] = sums["correct"] / n;
  for (const auto& [key, count] : sums)
    if (key.rfind("style:", 0) == 0) line["eval_style_" + key.substr(6)] = count / n;
  line["eval_s"] = now_seconds() - t_start;
  return line;
}

}  // namespace chamber
