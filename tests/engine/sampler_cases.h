// The sampler's test model, shared by sampler_test (reference backend) and sampler_simt /
// sampler_gpu (the same sampler over the CUDA kernels, checked against the reference's full
// forward).
#pragma once
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "engine/model.h"
#include "engine/sampler.h"
#include "tests/test_util.h"

namespace chamber::testing {

// What the sampler reads of a tokenizer: each token's text and the end-of-text id.
struct TestVocab {
  std::vector<std::string> token_bytes;
  int eot_id = 0;
  int vocab_size() const { return (int)token_bytes.size(); }
};

// Byte tokens 0..255, "ab" = 256, eot = 257 (built by hand: the sampler needs nothing from data/).
inline TestVocab tiny_tokenizer() {
  TestVocab tok;
  for (int b = 0; b < 256; b++) tok.token_bytes.push_back(std::string(1, (char)b));
  tok.token_bytes.push_back("ab");
  tok.token_bytes.push_back("<|endoftext|>");
  tok.eot_id = 257;
  return tok;
}

inline ModelConfig tiny_config() {
  return model_config_of(258, 2, 2, 32, 40);   // vocabulary padded to 320
}

// A model whose next-token distributions are far from uniform: random weights larger than the
// GPT-2 init (LayerNorm gains near 1), so greedy has clear winners and sampling varied outcomes.
struct TestModel {
  GPT model;
  TestVocab tok = tiny_tokenizer();
  explicit TestModel(const Ops& ops = reference_ops()) {
    gpt_create(model, tiny_config(), ops, 1, tiny_config().context_length, false);
    std::vector<float> p = random_vector(model.param_arena.bytes / 4, 5, -0.3f, 0.3f);
    for (const auto& slot : model.param_table)
      if (slot.name.find("ln") != std::string::npos && slot.name.find("_w") != std::string::npos)
        for (size_t i = 0; i < slot.numel(); i++) p[slot.offset / 4 + i] += 1.0f;
    gpt_parameters_from_host(model, p);
  }
  ~TestModel() { gpt_destroy(model); }
};

// Sampling that never stops early (eot is an ordinary token), so every row has max_new tokens.
inline SamplingParams sampling_params(float temperature, int top_k, float top_p, int max_new) {
  SamplingParams p;
  p.temperature = temperature;
  p.top_k = top_k;
  p.top_p = top_p;
  p.max_new_tokens = max_new;
  p.stop_at_eot = false;
  return p;
}

inline std::vector<std::vector<int>> test_prompts(int n, int V, uint64_t seed) {
  std::vector<std::vector<int>> prompts;
  for (int i = 0; i < n; i++) {
    int len = 2 + (int)((i * 7 + 3) % 11);  // 2..12, deliberately unequal
    if (i == 1) len = 1;                      // a one-token prompt
    prompts.push_back(random_tokens(len, V - 1, seed + i));  // no eot inside prompts
  }
  return prompts;
}

// Full forward over prompt + completion: log p of each completion token, and the logits row that
// predicted it (V entries).
inline void full_forward(GPT& m, const std::vector<int>& prompt, const std::vector<int>& completion,
                  std::vector<float>* logprobs, std::vector<std::vector<float>>* logit_rows) {
  std::vector<int> seq = prompt;
  seq.insert(seq.end(), completion.begin(), completion.end());
  const int T = (int)seq.size(), P = (int)prompt.size();
  gpt_forward(m, seq.data(), 1, T);
  if (logit_rows) {
    logit_rows->clear();
    for (int t = P - 1; t + 1 < T; t++) {
      std::vector<float> row(m.cfg.vocab_size);
      gpt_copy_logits_row(m, 0, t, row.data());
      logit_rows->push_back(row);
    }
  }
  std::vector<int> targets(T, -1);
  for (int t = P - 1; t + 1 < T; t++) targets[t] = seq[t + 1];
  gpt_classifier(m, targets.data(), nullptr, false);
  std::vector<float> losses(T);
  gpt_copy_losses(m, losses.data());
  logprobs->clear();
  for (int t = P - 1; t + 1 < T; t++) logprobs->push_back(-losses[t]);
}

// Sampling on `ops` (greedy, temperature, top-k, top-p, and both) gives completions
// whose log-probabilities are the reference full forward's on the same weights, within lp_tol.
// With same_draws, the completions must also be the reference sampler's, token for token (the
// emulator computes logits to ~1e-6 of the reference; TF32 on a GPU does not promise that).
inline void check_sampler_on_backend(const Ops& ops, double lp_tol, bool same_draws) {
  TestModel on_backend(ops), reference;
  gpt_parameters_from_host(on_backend.model, gpt_parameters_to_host(reference.model));
  auto prompts = test_prompts(6, reference.tok.vocab_size(), 700);
  Sampler s, s_ref;
  sampler_create(s, on_backend.model, 6, 36);
  sampler_create(s_ref, reference.model, 6, 36);
  for (int top_k : {0, 5})
    for (float top_p : {1.0f, 0.9f})
      for (float temperature : {0.0f, 1.0f}) {
        SamplingParams p = sampling_params(temperature, top_k, top_p, 16);
        Rng rng(9), rng_ref(9);
        auto out = sampler_generate(s, on_backend.model, on_backend.tok.token_bytes, on_backend.tok.eot_id, prompts, p, rng);
        auto want = sampler_generate(s_ref, reference.model, reference.tok.token_bytes, reference.tok.eot_id, prompts, p, rng_ref);
        for (size_t i = 0; i < prompts.size(); i++) {
          SCOPED_TRACE("top_k " + std::to_string(top_k) + ", top_p " + std::to_string(top_p) +
                       ", temperature " + std::to_string(temperature) + ", row " +
                       std::to_string(i));
          ASSERT_EQ(out[i].tokens.size(), 16u);
          std::vector<float> lp;
          full_forward(reference.model, prompts[i], out[i].tokens, &lp, nullptr);
          EXPECT_ALL_CLOSE(out[i].logprobs, lp, lp_tol, 0.0);
          if (same_draws) {
            EXPECT_EQ(out[i].tokens, want[i].tokens);
          }
        }
      }
  sampler_destroy(s);
  sampler_destroy(s_ref);
}

// The sampler's log-probabilities on `ops` equal that same backend's trainer's (a full forward
// over prompt + completion on a second model with the same weights), as RL needs, within lp_tol.
// Returns the worst difference.
inline double check_sampler_matches_own_trainer(const Ops& ops, double lp_tol) {
  TestModel sampling(ops), training(ops);
  gpt_parameters_from_host(training.model, gpt_parameters_to_host(sampling.model));
  auto prompts = test_prompts(6, sampling.tok.vocab_size(), 700);
  Sampler s;
  sampler_create(s, sampling.model, 6, 36);
  SamplingParams p;
  p.temperature = 1.0f;
  p.max_new_tokens = 16;
  p.stop_at_eot = false;
  Rng rng(9);
  auto out = sampler_generate(s, sampling.model, sampling.tok.token_bytes, sampling.tok.eot_id,
                              prompts, p, rng);
  double worst = 0;
  for (size_t i = 0; i < prompts.size(); i++) {
    std::vector<float> lp;
    full_forward(training.model, prompts[i], out[i].tokens, &lp, nullptr);
    EXPECT_EQ(lp.size(), out[i].logprobs.size());
    for (size_t t = 0; t < lp.size() && t < out[i].logprobs.size(); t++)
      worst = std::max(worst, (double)std::fabs(out[i].logprobs[t] - lp[t]));
  }
  EXPECT_LT(worst, lp_tol) << "on " << ops.name;
  sampler_destroy(s);
  return worst;
}

}  // namespace chamber::testing
