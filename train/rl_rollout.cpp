// The shared half of every RL step: prompts -> sampled completions -> rewards -> per-token
// log-probs/entropy/values by full forward passes, plus rollout metrics, greedy evaluation and the
// math-world task. Sequences of a batch have different lengths; they are packed into one (B, T)
// forward with padding positions carrying target -1 (no loss, no gradient).
#include <algorithm>
#include <cmath>
#include <map>

#include "data/grader.h"
#include "data/mathworld.h"
#include "train/rl.h"
#include "train/rl_internal.h"

namespace chamber {

// The prompt ends with a blank line. Encoded alone, the trailing "\n\n" is one pre-token piece
// (one merged token), but in every pretraining document the blank line is followed by the solution
// and splits into "\n" "\n" (whitespace before a non-space stays apart). Encode the prompt as it
// appears inside a document: with a letter after it, then drop that letter's token.
std::vector<int> encode_prompt(const Tokenizer& tok, const std::string& prompt) {
  std::vector<int> ids = tokenizer_encode(tok, prompt + "X");
  if (ids.empty() || tokenizer_decode(tok, &ids.back(), 1) != "X") return tokenizer_encode(tok, prompt);
  ids.pop_back();
  return ids;
}

RLTask math_rl_task(const std::string& split, int64_t seed, int count, int min_ops, int max_ops,
                    const Tokenizer& tok) {
  if (!math_split_known(split)) fail("unknown math-world split '", split, "' (train, rl, test, easy, hard)");
  const Tokenizer* t = &tok;
  RLTask task;
  task.prompts = [=](int64_t first, int n) {
    std::vector<RLPrompt> out(n);
    for (int i = 0; i < n; i++) {
      int64_t index = first + i;
      if (count > 0) index %= count;
      MathProblem p = mathworld_problem(split, index, (uint64_t)seed, min_ops, max_ops);
      out[i].tokens.push_back(t->eot_id);   // pretraining documents follow an eot: a new document
      std::vector<int> q = encode_prompt(*t, p.prompt);
      out[i].tokens.insert(out[i].tokens.end(), q.begin(), q.end());
      out[i].gold = mathworld_answer_text(p);
    }
    return out;
  };
  task.reward = [](const RLPrompt& p, const Completion& c) {
    GradeResult g = grade_completion(c.text, p.gold);
    RLReward r;
    r.correct = g.correct;
    r.reward = g.correct ? 1.0f : 0.0f;
    r.label = g.label;
    return r;
  };
  return task;
}

SamplingParams rl_sampling_params(const RLConfig& cfg, bool for_ei) {
  SamplingParams p;
  p.temperature = for_ei ? cfg.ei_temperature : cfg.temperature;
  p.top_p = for_ei ? cfg.ei_top_p : cfg.top_p;
  p.top_k = cfg.top_k;
  p.max_new_tokens = cfg.max_new_tokens;
  p.stop_at_eot = true;
  return p;
}

std::vector<Rollout> rl_generate(RLSession& s, int64_t first_index, int n_prompts, int samples,
                                 const SamplingParams& params) {
  std::vector<RLPrompt> prompts = s.task.prompts(first_index, n_prompts);
  std::vector<Rollout> out((size_t)n_prompts * samples);
  std::vector<std::vector<int>> batch;
  std::vector<int> batch_ids;
  auto flush = [&]() {
    if (batch.empty()) return;
    double t0 = now_seconds();
    std::vector<Completion> done;
    {
      NamedRange range(*s.policy->ops, "rl sample");   // grading below is not part of it
      done = sampler_generate(s.sampler, *s.policy, s.tok->token_bytes, s.tok->eot_id, batch, params, s.rng);
    }
    double t1 = now_seconds();
    for (size_t j = 0; j < done.size(); j++) {
      Rollout& r = out[batch_ids[j]];
      const RLPrompt& p = prompts[r.group];
      Completion& c = done[j];
      r.tokens = p.tokens;
      r.prompt_len = (int)p.tokens.size();
      r.tokens.insert(r.tokens.end(), c.tokens.begin(), c.tokens.end());
      r.sampler_logprobs = c.logprobs;
      if (c.finish_reason == "eot") {   // ending the answer is an action the policy learns too
        r.tokens.push_back(s.tok->eot_id);
        r.sampler_logprobs.push_back(c.eot_logprob);
      }
      r.reward = s.task.reward(p, c);
      r.text = std::move(c.text);
      r.finish = c.finish_reason;
    }
    s.sample_s += t1 - t0;
    s.grade_s += now_seconds() - t1;   // the reward loop above is dominated by grading
    batch.clear();
    batch_ids.clear();
  };
  for (int i = 0; i < n_prompts * samples; i++) {
    out[i].group = i / samples;
    batch.push_back(prompts[out[i].group].tokens);
    batch_ids.push_back(i);
    if ((int)batch.size() == s.sampler.max_batch) flush();
  }
  flush();
  // The sampler always draws at least one token (a token or eot) for a prompt that fits, so every
  // response has a token to learn from and GRPO groups stay whole.
  for (const Rollout& r : out)
    if (r.response_len() < 1) fail("RL rollout: an empty response (max_new_tokens must be >= 1)");
  return out;
}

PackedBatch pack_rollouts(const std::vector<Rollout>& rollouts, const int* idx, int n) {
  PackedBatch p;
  p.B = n;
  p.T = 1;
  for (int b = 0; b < n; b++) p.T = std::max(p.T, (int)rollouts[idx[b]].tokens.size() - 1);
  p.inputs.assign((size_t)p.B * p.T, 0);
  p.targets.assign((size_t)p.B * p.T, -1);
  for (int b = 0; b < n; b++) {
    const Rollout& r = rollouts[idx[b]];
    for (int j = 0; j + 1 < (int)r.tokens.size(); j++) {
      p.inputs[(size_t)b * p.T + j] = r.tokens[j];
      if (j + 1 >= r.prompt_len) p.targets[(size_t)b * p.T + j] = r.tokens[j + 1];
    }
  }
  return p;
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

void rl_score(RLSession& s, GPT& model, std::vector<Rollout>& rollouts, ScoreInto into,
              bool want_entropy, bool want_values) {
  const double t_start = now_seconds();
  NamedRange range(*model.ops, "rl score");
  const int n = (int)rollouts.size(), mb = std::min(s.cfg.micro_batch, model.max_B);
  std::vector<int> idx(n);
  for (int i = 0; i < n; i++) idx[i] = i;
  std::vector<float> losses, entropy, values;
  for (int start = 0; start < n; start += mb) {
    int count = std::min(mb, n - start);
    PackedBatch p = pack_rollouts(rollouts, idx.data() + start, count);
    gpt_forward(model, p.inputs.data(), p.B, p.T);
    if (into != ScoreInto::values_only) gpt_classifier(model, p.targets.data(), nullptr, false);
    losses.resize(p.inputs.size());
    gpt_copy_losses(model, losses.data());
    if (want_entropy) {
      entropy.resize(p.inputs.size());
      gpt_copy_entropy(model, entropy.data());
    }
    if (want_values) {
      values.resize(p.inputs.size());
      gpt_copy_values(model, values.data());
    }
    for (int b = 0; b < count; b++) {
      Rollout& r = rollouts[start + b];
      const int len = r.response_len();
      std::vector<float> ignored;
      std::vector<float>& lp = into == ScoreInto::old_logprobs   ? r.old_logprobs
                               : into == ScoreInto::ref_logprobs ? r.ref_logprobs
                                                                 : ignored;
      lp.resize(len);
      if (want_entropy) r.entropy.resize(len);
      if (want_values) r.values.resize(len);
      for (int k = 0; k < len; k++) {
        size_t pos = p.position(b, r.prompt_len, k);
        lp[k] = -losses[pos];
        if (want_entropy) r.entropy[k] = entropy[pos];
        if (want_values) r.values[k] = values[pos];
      }
    }
  }
  s.score_s += now_seconds() - t_start;
}

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

double sampler_logprob_gap(const std::vector<Rollout>& rollouts) {
  double worst = 0;
  for (const Rollout& r : rollouts)
    for (size_t k = 0; k < r.old_logprobs.size() && k < r.sampler_logprobs.size(); k++)
      worst = std::max(worst, (double)std::fabs(r.old_logprobs[k] - r.sampler_logprobs[k]));
  return worst;
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
