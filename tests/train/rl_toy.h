// The "say 7" toy RL task, shared by rl_toy_test (each algorithm learns it on the CPU),
// rl_toy_simt (RL steps over the CUDA kernels under the emulator match the CPU's) and rl_toy_gpu
// (GRPO learns it on the GPU). A tiny GPT is pretrained to answer "number:" with a uniformly
// random digit; RL rewards the completion that states 7 and then stops.
#pragma once
#include <gtest/gtest.h>

#include <cstdio>
#include <string>
#include <vector>

#include "data/tokenizer.h"
#include "engine/backend.h"
#include "train/rl.h"

namespace chamber::testing {

struct Toy {
  Tokenizer tok;
  GPT policy, reference, critic;
  std::vector<int> prompt;   // eot + "number:\n\n"
};

// A tiny model that answers "number:\n\n" with a uniformly random digit and then eot, pretrained
// on the fast CPU backend and then placed on `ops` (so every backend starts from the same weights).
inline void make_toy(Toy& t, bool with_critic, const Ops& ops) {
  std::vector<std::string> docs;
  for (int d = 0; d < 10; d++) docs.push_back("number:\n\n" + std::to_string(d));
  t.tok = tokenizer_train(docs, 270);
  ModelConfig mc = model_config_of(t.tok.vocab_size(), 2, 2, 32, 16);
  GPT base;
  gpt_create(base, mc, select_backend("cpu"), 32, 16, true);
  gpt_init_parameters(base, 7);
  t.prompt = {t.tok.eot_id};
  for (int id : tokenizer_encode(t.tok, "number:\n\n")) t.prompt.push_back(id);
  // pretraining: every row is eot + prompt + random digit + eot, all positions predicted
  Rng rng(3);
  const int B = 32, T = (int)t.prompt.size() + 1;
  std::vector<int> inputs(B * T), targets(B * T);
  std::vector<float> w(B * T, 1.0f / (B * T));
  for (int step = 0; step < 150; step++) {
    for (int b = 0; b < B; b++) {
      std::vector<int> row = t.prompt;
      row.push_back(tokenizer_encode(t.tok, std::to_string(rng.below(10)))[0]);
      row.push_back(t.tok.eot_id);
      for (int j = 0; j < T; j++) {
        inputs[b * T + j] = row[j];
        targets[b * T + j] = row[j + 1];
      }
    }
    gpt_zero_grad(base);
    gpt_forward(base, inputs.data(), B, T);
    gpt_classifier(base, targets.data(), w.data(), true);
    gpt_backward(base);
    gpt_adamw_step(base, {.lr = 1e-2f, .beta1 = 0.9f, .beta2 = 0.95f, .eps = 1e-8f, .weight_decay = 0.0f});
  }
  std::vector<float> host = gpt_parameters_to_host(base);
  gpt_destroy(base);
  // RL starts a fresh optimiser: new models have zero AdamW state.
  gpt_create(t.policy, mc, ops, 32, 16, true);
  gpt_parameters_from_host(t.policy, host);
  gpt_create(t.reference, mc, ops, 32, 16, false);
  gpt_parameters_from_host(t.reference, host);
  if (with_critic) {
    gpt_create(t.critic, mc, ops, 32, 16, true);
    gpt_parameters_from_host(t.critic, host);
  }
}

inline void destroy_toy(Toy& t, bool with_critic) {
  if (with_critic) gpt_destroy(t.critic);
  gpt_destroy(t.reference);
  gpt_destroy(t.policy);
}

inline RLTask say_seven_task(const Toy& t) {
  RLTask task;
  std::vector<int> prompt = t.prompt;
  task.prompts = [prompt](int64_t, int n) { return std::vector<RLPrompt>(n, RLPrompt{prompt, "7", ""}); };
  task.reward = [](const RLPrompt& p, const Completion& c) {
    RLReward r;
    r.correct = c.text == p.gold && c.finish_reason == "eot";
    r.reward = r.correct ? 1.0f : 0.0f;
    r.label = "digit";
    return r;
  };
  return task;
}

inline double mean_reward(RLSession& s, float temperature) {
  SamplingParams p = rl_sampling_params(s.cfg, false);
  p.temperature = temperature;
  std::vector<Rollout> rs = rl_generate(s, 0, 16, 4, p);
  double total = 0;
  for (const Rollout& r : rs) total += r.reward.reward;
  return total / rs.size();
}

// An RL session on the toy: micro-batches of 32, one sampler call per step, 3 new tokens.
inline void begin_toy_session(RLSession& s, Toy& t, RLConfig cfg, bool with_critic) {
  cfg.micro_batch = 32;
  cfg.rollout_batch = 64;
  cfg.max_new_tokens = 3;
  cfg.eval_problems = 0;
  rl_config_finalize(cfg);
  s.cfg = cfg;
  s.policy = &t.policy;
  s.reference = &t.reference;
  s.critic = with_critic ? &t.critic : nullptr;
  s.tok = &t.tok;
  s.task = say_seven_task(t);
  s.rng.seed_with(11);
  rl_session_begin(s);
}

// Runs `algorithm` on the toy until the step reward is high; the sampled reward must end > 0.9.
inline void run_toy(const RLConfig& cfg, bool with_critic, const Ops& ops) {
  Toy t;
  make_toy(t, with_critic, ops);
  RLSession s;
  begin_toy_session(s, t, cfg, with_critic);
  const float temperature = cfg.algorithm == RLAlgorithm::ei ? cfg.ei_temperature : cfg.temperature;
  double before = mean_reward(s, temperature);
  EXPECT_LT(before, 0.4) << "the pretrained toy should rarely say 7 unprompted";
  int steps = 0;
  double last = 0;
  for (int step = 0; step < 100; step++) {
    nlohmann::json line = rl_step(s, step);
    steps = step + 1;
    last = line["reward"].get<double>();
    if (last >= 0.97 && step >= 5) break;
  }
  double after = mean_reward(s, temperature);
  std::printf("%s: reward %.3f -> %.3f after %d steps (last step reward %.3f)\n", rl_algorithm_name(cfg.algorithm),
              before, after, steps, last);
  EXPECT_GT(after, 0.9);
  rl_session_end(s);
  destroy_toy(t, with_critic);
}

// The toy runs' shared settings: 4 prompts x 8 samples, lr 1e-2 after a 5-step warm-up,
// sampling at temperature 1 (expert iteration samples with its own ei_temperature).
inline RLConfig toy_config(RLAlgorithm algorithm) {
  RLConfig c;
  c.algorithm = algorithm;
  c.prompts_per_step = 4;
  c.samples_per_prompt = 8;
  if (algorithm != RLAlgorithm::ei) c.temperature = 1.0f;
  c.lr = 1e-2f;
  c.warmup_steps = 5;
  return c;
}

}  // namespace chamber::testing
