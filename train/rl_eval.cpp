// What an RL step reports: the metrics of a rollout batch (reward, length, style shares), the
// time per phase, and the greedy pass@1 evaluation on held-out problems.
#include <algorithm>
#include <map>

#include "train/rl.h"

namespace chamber {

void rl_rollout_metrics(const std::vector<Rollout>& rollouts, nlohmann::json& line) {
  double reward = 0, correct = 0, length = 0, ended = 0;
  std::map<std::string, std::pair<int, int>> styles;   // label -> (count, correct)
  for (const Rollout& r : rollouts) {
    reward += r.reward.reward;
    correct += r.reward.correct;
    length += r.response_len();
    ended += r.finish == "eot";
    if (!r.reward.label.empty()) {
      styles[r.reward.label].first++;
      styles[r.reward.label].second += r.reward.correct;
    }
  }
  double n = std::max<size_t>(1, rollouts.size());
  line["reward"] = reward / n;
  line["correct"] = correct / n;
  line["response_length"] = length / n;
  line["eot_share"] = ended / n;
  line["rollouts"] = rollouts.size();
  for (const auto& [label, cc] : styles) {
    line["style_" + label] = cc.first / n;
    line["style_acc_" + label] = (double)cc.second / cc.first;
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
  std::vector<RLPrompt> prompts = s.eval_task.prompts(0, s.cfg.eval_problems);
  SamplingParams greedy = rl_sampling_params(s.cfg, false);
  greedy.temperature = 0.0f;
  Rng rng(0);   // greedy draws no random numbers; keep the run's stream untouched anyway
  double reward = 0, correct = 0;
  std::map<std::string, int> styles;
  for (size_t start = 0; start < prompts.size(); start += s.sampler.max_batch) {
    size_t end = std::min(prompts.size(), start + (size_t)s.sampler.max_batch);
    std::vector<std::vector<int>> batch;
    for (size_t i = start; i < end; i++) batch.push_back(prompts[i].tokens);
    std::vector<Completion> done = sampler_generate(s.sampler, *s.policy, s.tok->token_bytes, s.tok->eot_id, batch, greedy, rng);
    for (size_t i = start; i < end; i++) {
      RLReward r = s.eval_task.reward(prompts[i], done[i - start]);
      reward += r.reward;
      correct += r.correct;
      if (!r.label.empty()) styles[r.label]++;
    }
  }
  double n = (double)prompts.size();
  line["eval_reward"] = reward / n;
  line["eval_pass1"] = correct / n;
  for (const auto& [label, count] : styles) line["eval_style_" + label] = count / n;
  line["eval_s"] = now_seconds() - t_start;
  return line;
}

}  // namespace chamber
