// The first half of every RL step: the step's prompts from the task, `samples` completions of
// each drawn with the KV-cache sampler (engine/sampler.h), and each completion's reward. Also the
// math-world task that `chamber rl` trains on: problems of a split, graded by data/grader.h.
#include "data/grader.h"
#include "data/mathworld.h"
#include "train/rl.h"
#include "train/rl_internal.h"

namespace chamber {

RLTask math_rl_task(const std::string& split, int64_t seed, int count, int min_ops, int max_ops,
                    const Tokenizer& tok, const std::string& forced_style) {
  if (!math_split_known(split)) fail("unknown math-world split '", split, "' (", kMathSplitNames, ")");
  if (!forced_style.empty() && !math_style_known(forced_style)) fail("unknown math-world style '", forced_style, "'");
  const Tokenizer* t = &tok;
  RLTask task;
  task.prompts = [=](int64_t first, int n) {
    std::vector<RLPrompt> out(n);
    for (int i = 0; i < n; i++) {
      int64_t index = first + i;
      if (count > 0) index %= count;
      MathProblem p = mathworld_problem(split, index, (uint64_t)seed, min_ops, max_ops);
      out[i].tokens.push_back(t->eot_id);   // pretraining documents follow an eot: a new document
      // forced_style: the opening continues the prompt's text, encoded with it as a document
      // holds it (the opening ends before whitespace or a number, where tokens split anyway).
      if (!forced_style.empty()) out[i].opening = forced_style_opening(p, forced_style);
      std::vector<int> q = encode_prompt(*t, p.prompt + out[i].opening);
      out[i].tokens.insert(out[i].tokens.end(), q.begin(), q.end());
      out[i].gold = mathworld_answer_text(p);
    }
    return out;
  };
  task.reward = [](const RLPrompt& p, const Completion& c) {
    GradeResult g = grade_completion(p.opening.empty() ? c.text : p.opening + c.text, p.gold);
    RLReward r;
    r.correct = g.correct;
    r.parsed = !g.answer.empty();
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
  rl_apply_control(s, out, first_index, samples);
  return out;
}

}  // namespace chamber
