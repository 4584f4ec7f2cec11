// The KV-cache sampler against the trainer's full forward on the same weights (reference
// backend): per-token log-probabilities agree within 1e-5, greedy picks the full-forward argmax,
// top-k=1 is greedy, top-p stays inside the nucleus, rows of a batch are independent, and
// generation ends at eot, stop strings, max_new_tokens and max_len as sampler.h says.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "engine/model.h"
#include "engine/model_decode.h"
#include "engine/sampler.h"
#include "tests/engine/sampler_cases.h"
#include "tests/test_util.h"

namespace chamber {
namespace {

using testing::full_forward;
using testing::sampling_params;
using testing::test_prompts;
using testing::TestModel;
using testing::tiny_config;

void expect_logprobs_match(bool batched_prefill, float temperature) {
  TestModel tm;
  auto prompts = test_prompts(6, tm.tok.vocab_size(), 100);
  Sampler s;
  sampler_create(s, tm.model, 8, tm.model.cfg.context_length);
  s.batched_prefill = batched_prefill;
  SamplingParams p;
  p.temperature = temperature;
  p.max_new_tokens = 20;
  p.stop_at_eot = false;
  Rng rng(3);
  auto out = sampler_generate(s, tm.model, tm.tok.token_bytes, tm.tok.eot_id, prompts, p, rng);
  for (size_t i = 0; i < prompts.size(); i++) {
    ASSERT_EQ(out[i].tokens.size(), 20u) << "row " << i;
    EXPECT_EQ(out[i].finish_reason, "length");
    std::vector<float> want;
    full_forward(tm.model, prompts[i], out[i].tokens, &want, nullptr);
    EXPECT_ALL_CLOSE(out[i].logprobs, want, 1e-5, 0.0);
  }
  sampler_destroy(s);
}

TEST(Sampler, LogprobsMatchTrainerFullForward) { expect_logprobs_match(true, 1.0f); }
TEST(Sampler, LogprobsMatchWithoutBatchedPrefill) { expect_logprobs_match(false, 1.0f); }
TEST(Sampler, LogprobsAreUntemperedAtLowTemperature) { expect_logprobs_match(true, 0.3f); }

// A backend without the sampling op draws on the host: the same tokens from the same generator
// (each row takes one uniform per draw either way) and the same log-probabilities, for greedy,
// temperature, top-k and top-p draws.
TEST(Sampler, HostDrawMatchesTheSamplingOp) {
  static const Ops host_drawing = [] {
    Ops ops = reference_ops();
    ops.sample_tokens = nullptr;
    return ops;
  }();
  testing::check_sampler_on_backend(host_drawing, 1e-6, true);
}

TEST(Sampler, GreedyIsFullForwardArgmax) {
  TestModel tm;
  auto prompts = test_prompts(4, tm.tok.vocab_size(), 200);
  Sampler s;
  sampler_create(s, tm.model, 4, 30);
  SamplingParams p;
  p.temperature = 0.0f;
  p.max_new_tokens = 12;
  p.stop_at_eot = false;
  Rng rng(1);
  auto out = sampler_generate(s, tm.model, tm.tok.token_bytes, tm.tok.eot_id, prompts, p, rng);
  for (size_t i = 0; i < prompts.size(); i++) {
    std::vector<float> lp;
    std::vector<std::vector<float>> rows;
    full_forward(tm.model, prompts[i], out[i].tokens, &lp, &rows);
    ASSERT_EQ(rows.size(), out[i].tokens.size());
    for (size_t t = 0; t < rows.size(); t++) {
      int argmax = (int)(std::max_element(rows[t].begin(), rows[t].end()) - rows[t].begin());
      EXPECT_EQ(out[i].tokens[t], argmax) << "row " << i << " token " << t;
    }
  }
  sampler_destroy(s);
}

TEST(Sampler, TopK1EqualsGreedy) {
  TestModel tm;
  auto prompts = test_prompts(5, tm.tok.vocab_size(), 300);
  Sampler s;
  sampler_create(s, tm.model, 5, 30);
  SamplingParams greedy;
  greedy.temperature = 0.0f;
  greedy.max_new_tokens = 10;
  SamplingParams top1 = greedy;
  top1.temperature = 1.5f;
  top1.top_k = 1;
  Rng r1(1), r2(2);
  auto a = sampler_generate(s, tm.model, tm.tok.token_bytes, tm.tok.eot_id, prompts, greedy, r1);
  auto b = sampler_generate(s, tm.model, tm.tok.token_bytes, tm.tok.eot_id, prompts, top1, r2);
  for (size_t i = 0; i < prompts.size(); i++) EXPECT_EQ(a[i].tokens, b[i].tokens) << "row " << i;
  sampler_destroy(s);
}

// The nucleus of a logits row (as a set), with a little slack at its edge for float rounding.
std::vector<bool> nucleus(const std::vector<float>& logits, float top_p, double slack) {
  int n = (int)logits.size();
  std::vector<int> ids(n);
  std::iota(ids.begin(), ids.end(), 0);
  std::sort(ids.begin(), ids.end(), [&](int a, int b) { return logits[a] > logits[b]; });
  double mx = logits[ids[0]], total = 0;
  for (float l : logits) total += std::exp(l - mx);
  std::vector<bool> in(n, false);
  double cum = 0;
  for (int id : ids) {
    in[id] = true;
    cum += std::exp(logits[id] - mx) / total;
    if (cum >= top_p + slack) break;
  }
  return in;
}

TEST(Sampler, TopPNeverDrawsOutsideTheNucleus) {
  TestModel tm;
  auto prompts = test_prompts(8, tm.tok.vocab_size(), 400);
  Sampler s;
  sampler_create(s, tm.model, 8, 30);
  SamplingParams p = sampling_params(1.0f, 0, 0.3f, 15);
  Rng rng(9);
  auto out = sampler_generate(s, tm.model, tm.tok.token_bytes, tm.tok.eot_id, prompts, p, rng);
  int draws = 0;
  for (size_t i = 0; i < prompts.size(); i++) {
    std::vector<float> lp;
    std::vector<std::vector<float>> rows;
    full_forward(tm.model, prompts[i], out[i].tokens, &lp, &rows);
    for (size_t t = 0; t < rows.size(); t++, draws++)
      EXPECT_TRUE(nucleus(rows[t], p.top_p, 1e-5)[out[i].tokens[t]]) << "row " << i << " token " << t;
  }
  EXPECT_GT(draws, 100);
}

TEST(Sampler, DrawRespectsTopKAndTopPOnFixedLogits) {
  std::vector<float> logits = {0.1f, 2.0f, -1.0f, 1.5f, 2.0f, 0.0f, -3.0f, 1.0f};
  Rng rng(4);
  SamplingParams p;
  p.temperature = 1.0f;
  p.top_k = 3;  // ids 1, 4 (tie, both 2.0) and 3
  std::vector<int> counts(logits.size(), 0);
  for (int i = 0; i < 4000; i++) counts[sampler_draw(logits.data(), 8, p, rng)]++;
  for (int id : {0, 2, 5, 6, 7}) EXPECT_EQ(counts[id], 0) << id;
  EXPECT_GT(counts[3], 400);  // p(3) = e^1.5 / (2e^2 + e^1.5) ~ 0.23
  p.top_k = 0;
  p.top_p = 0.5f;             // ids 1 and 4 hold ~0.48 together, so 3 is needed too
  std::fill(counts.begin(), counts.end(), 0);
  for (int i = 0; i < 4000; i++) counts[sampler_draw(logits.data(), 8, p, rng)]++;
  for (int id : {0, 2, 5, 6, 7}) EXPECT_EQ(counts[id], 0) << id;
  EXPECT_GT(counts[1] + counts[4] + counts[3], 3999);
  p.top_p = 0.2f;             // id 1 alone (first of the tie) reaches 0.2
  for (int i = 0; i < 100; i++) EXPECT_EQ(sampler_draw(logits.data(), 8, p, rng), 1);
  p.temperature = 0.0f;
  EXPECT_EQ(sampler_draw(logits.data(), 8, p, rng), 1);  // greedy: first maximum
  EXPECT_NEAR(sampler_logprob(logits.data(), 8, 6), -3.0 - std::log(
      [&] { double s = 0; for (float l : logits) s += std::exp(l); return s; }()), 1e-6);
}

TEST(Sampler, BatchRowsAreIndependent) {
  TestModel tm;
  auto prompts = test_prompts(7, tm.tok.vocab_size(), 500);
  Sampler s;
  sampler_create(s, tm.model, 7, 36);
  SamplingParams p;
  p.temperature = 0.0f;
  p.max_new_tokens = 16;
  p.stop_at_eot = false;
  Rng rng(1);
  auto batch = sampler_generate(s, tm.model, tm.tok.token_bytes, tm.tok.eot_id, prompts, p, rng);
  for (size_t i = 0; i < prompts.size(); i++) {
    auto alone = sampler_generate(s, tm.model, tm.tok.token_bytes, tm.tok.eot_id, {prompts[i]}, p, rng);
    EXPECT_EQ(alone[0].tokens, batch[i].tokens) << "row " << i;
    EXPECT_ALL_CLOSE(alone[0].logprobs, batch[i].logprobs, 1e-6, 0.0);
  }
  sampler_destroy(s);
}

TEST(Sampler, SameRngSameSamples) {
  TestModel tm;
  auto prompts = test_prompts(4, tm.tok.vocab_size(), 600);
  Sampler s;
  sampler_create(s, tm.model, 4, 30);
  SamplingParams p;
  p.max_new_tokens = 10;
  Rng a(77), b(77);
  auto x = sampler_generate(s, tm.model, tm.tok.token_bytes, tm.tok.eot_id, prompts, p, a);
  auto y = sampler_generate(s, tm.model, tm.tok.token_bytes, tm.tok.eot_id, prompts, p, b);
  for (size_t i = 0; i < x.size(); i++) EXPECT_EQ(x[i].tokens, y[i].tokens);
  sampler_destroy(s);
}

// Makes greedy always pick `favourite`: the final LayerNorm outputs the constant lnf_b = 5 e_0,
// so every logit is 5 * wte[v][0], and only the favourite's wte[.,0] is non-zero.
void force_token(GPT& m, int favourite) {
  std::vector<float> p = gpt_parameters_to_host(m);
  const int C = m.cfg.n_embd;
  for (const auto& slot : m.param_table) {
    float* w = p.data() + slot.offset / 4;
    if (slot.name == "lnf_w") std::fill(w, w + C, 0.0f);
    if (slot.name == "lnf_b") { std::fill(w, w + C, 0.0f); w[0] = 5.0f; }
    if (slot.name == "wte")
      for (int v = 0; v < m.cfg.padded_vocab; v++) w[(size_t)v * C] = v == favourite ? 4.0f : 0.0f;
  }
  gpt_parameters_from_host(m, p);
}

TEST(Sampler, EndsAtEotWithoutIncludingIt) {
  TestModel tm;
  force_token(tm.model, tm.tok.eot_id);
  Sampler s;
  sampler_create(s, tm.model, 2, 20);
  SamplingParams p;
  p.temperature = 0.0f;
  Rng rng(1);
  auto out = sampler_generate(s, tm.model, tm.tok.token_bytes, tm.tok.eot_id, {{1, 2, 3}, {4}}, p, rng);
  for (const auto& c : out) {
    EXPECT_EQ(c.finish_reason, "eot");
    EXPECT_TRUE(c.tokens.empty());
    EXPECT_EQ(c.text, "");
    EXPECT_LT(c.eot_logprob, 0.0f);
    EXPECT_GT(c.eot_logprob, -0.01f);  // logit 20 against 319 zeros: p ~ 0.9999
  }
  p.stop_at_eot = false;
  p.max_new_tokens = 3;
  out = sampler_generate(s, tm.model, tm.tok.token_bytes, tm.tok.eot_id, {{1, 2, 3}}, p, rng);
  EXPECT_EQ(out[0].tokens, std::vector<int>(3, tm.tok.eot_id));
  EXPECT_EQ(out[0].finish_reason, "length");
  sampler_destroy(s);
}

TEST(Sampler, StopStringsCutTheTextAfterTheFirstMatch) {
  TestModel tm;
  force_token(tm.model, 256);  // "ab" every step
  Sampler s;
  sampler_create(s, tm.model, 3, 30);
  SamplingParams p;
  p.temperature = 0.0f;
  p.max_new_tokens = 10;
  Rng rng(1);
  p.stop_strings = {"ba"};   // ends inside the second token
  auto out = sampler_generate(s, tm.model, tm.tok.token_bytes, tm.tok.eot_id, {{5, 6}, {7}, {8, 9, 10}}, p, rng);
  for (const auto& c : out) {
    EXPECT_EQ(c.finish_reason, "stop");
    EXPECT_EQ(c.tokens, std::vector<int>({256, 256}));
    EXPECT_EQ(c.logprobs.size(), 2u);
    EXPECT_EQ(c.text, "aba");
  }
  p.stop_strings = {"zzz", "bab", "abababab"};  // the earliest match wins
  out = sampler_generate(s, tm.model, tm.tok.token_bytes, tm.tok.eot_id, {{5, 6}}, p, rng);
  EXPECT_EQ(out[0].text, "abab");
  EXPECT_EQ(out[0].tokens.size(), 2u);
  p.stop_strings = {"b"};
  out = sampler_generate(s, tm.model, tm.tok.token_bytes, tm.tok.eot_id, {{5, 6}}, p, rng);
  EXPECT_EQ(out[0].text, "ab");
  EXPECT_EQ(out[0].tokens.size(), 1u);
  p.stop_strings = {"x"};    // never matches: the budget ends it
  out = sampler_generate(s, tm.model, tm.tok.token_bytes, tm.tok.eot_id, {{5, 6}}, p, rng);
  EXPECT_EQ(out[0].finish_reason, "length");
  EXPECT_EQ(out[0].tokens.size(), 10u);
  EXPECT_EQ(out[0].text, "abababababababababab");
  sampler_destroy(s);
}

TEST(Sampler, LengthLimitsAndRowsFinishingAtDifferentTimes) {
  TestModel tm;
  force_token(tm.model, 'a');
  Sampler s;
  sampler_create(s, tm.model, 3, 12);
  SamplingParams p;
  p.temperature = 0.0f;
  p.max_new_tokens = 8;
  p.stop_strings = {"aaa"};
  Rng rng(1);
  // Row 0 stops after 3 tokens; row 1 hits max_len (12 - 7 = 5 tokens); row 2 the budget (8).
  auto out = sampler_generate(s, tm.model, tm.tok.token_bytes, tm.tok.eot_id, {{1, 2}, {1, 2, 3, 4, 5, 6, 7}, {3}}, p, rng);
  EXPECT_EQ(out[0].tokens.size(), 3u);
  EXPECT_EQ(out[0].finish_reason, "stop");
  p.stop_strings.clear();
  out = sampler_generate(s, tm.model, tm.tok.token_bytes, tm.tok.eot_id, {{1, 2}, {1, 2, 3, 4, 5, 6, 7}, {3}}, p, rng);
  EXPECT_EQ(out[0].tokens.size(), 8u);
  EXPECT_EQ(out[1].tokens.size(), 5u);
  EXPECT_EQ(out[1].finish_reason, "length");
  EXPECT_EQ(out[2].tokens.size(), 8u);
  p.max_new_tokens = 0;
  out = sampler_generate(s, tm.model, tm.tok.token_bytes, tm.tok.eot_id, {{1, 2}}, p, rng);
  EXPECT_TRUE(out[0].tokens.empty());
  sampler_destroy(s);
}

TEST(Sampler, BadInputsAreErrors) {
  TestModel tm;
  Sampler s;
  EXPECT_THROW(sampler_create(s, tm.model, 2, tm.model.cfg.context_length + 1), Error);
  sampler_create(s, tm.model, 2, 10);
  SamplingParams p;
  Rng rng(1);
  EXPECT_THROW(sampler_generate(s, tm.model, tm.tok.token_bytes, tm.tok.eot_id, {{1}, {2}, {3}}, p, rng), Error);   // > max_batch
  EXPECT_THROW(sampler_generate(s, tm.model, tm.tok.token_bytes, tm.tok.eot_id, {{}}, p, rng), Error);              // empty prompt
  EXPECT_THROW(sampler_generate(s, tm.model, tm.tok.token_bytes, tm.tok.eot_id, {std::vector<int>(10, 1)}, p, rng), Error);
  EXPECT_THROW(sampler_generate(s, tm.model, tm.tok.token_bytes, tm.tok.eot_id, {{1, 9999}}, p, rng), Error);       // bad id
  sampler_destroy(s);
}

TEST(Sampler, BackendWithoutDecodeOpIsAClearError) {
  TestModel tm;
  static Ops no_decode = reference_ops();
  no_decode.name = "partial";
  no_decode.attention_decode = nullptr;
  const Ops* saved = tm.model.ops;
  tm.model.ops = &no_decode;
  Sampler s;
  try {
    sampler_create(s, tm.model, 2, 10);
    ADD_FAILURE() << "expected an Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("attention_decode"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("partial"), std::string::npos) << e.what();
  }
  tm.model.ops = saved;
}

}  // namespace
}  // namespace chamber
