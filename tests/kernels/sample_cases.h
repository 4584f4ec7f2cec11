// Token sampling on a backend against the reference; see backend_cases.h.
#pragma once
#include <algorithm>
#include <cmath>
#include <set>

#include "kernels/sample.h"
#include "tests/kernels/backend_cases.h"

namespace chamber::testing {

struct SampleRule {
  float temperature = 1.0f;
  int top_k = 0;       // 0 = off
  float top_p = 1.0f;  // 1 = off
};

class SampleCases : public BackendTest {
 protected:
  // Draws rows of logits (N, Vp) at `uniforms` (one per row) with `rule` over the first n_draw
  // columns, on the backend and with the reference; returns the reference's ids. Ids must match
  // exactly: both sides sum in double, and a uniform landing within 1e-16 of a boundary is not a
  // case these seeds hit.
  std::vector<int> check_rows(const std::vector<float>& logits, const std::vector<double>& uniforms,
                              int n_draw, int V, int Vp, SampleRule rule) {
    const int N = (int)uniforms.size();
    std::vector<int> want_ids(N);
    std::vector<float> want_lp(N);
    sample_tokens_ref(want_ids.data(), want_lp.data(), logits.data(), uniforms.data(), N, n_draw, V,
                      Vp, rule.temperature, rule.top_k, rule.top_p);

    EXPECT_NE(ops->sample_tokens, nullptr) << "this backend has no sample_tokens op";
    if (!ops->sample_tokens) return want_ids;
    BackendArray<float> x(*ops, logits), lp(*ops, nan_vector(N));
    BackendArray<double> u(*ops, uniforms);
    BackendArray<int> ids(*ops, std::vector<int>(N, -1));
    ops->sample_tokens(ids, lp, x, u, N, n_draw, V, Vp, rule.temperature, rule.top_k, rule.top_p);
    EXPECT_EQ(ids.download(), want_ids);
    // A log-sum-exp over V terms in another order.
    EXPECT_BACKEND_CLOSE(lp.download(), want_lp, f32_tolerance(8));
    return want_ids;
  }

  // N rows of V + padding logits with scale `spread` (large spreads make peaked rows); draws over
  // the first n_draw.
  void check(int N, int n_draw, int V, int Vp, SampleRule rule, float spread, uint64_t seed,
             bool with_ties = false) {
    auto logits = random_vector((size_t)N * Vp, seed, -spread, spread);
    if (with_ties)  // two equal maxima per row: greedy must take the lower id
      for (int i = 0; i < N; i++) {
        logits[(size_t)i * Vp + (7 * i) % n_draw] = 2 * spread;
        logits[(size_t)i * Vp + n_draw - 1 - (3 * i) % 5] = 2 * spread;
      }
    std::vector<double> uniforms(N);
    Rng rng(seed + 1);
    for (auto& u : uniforms) u = rng.uniform_double();
    check_rows(logits, uniforms, n_draw, V, Vp, rule);
  }

  // One row of logits repeated N times, drawn at the N evenly spaced uniforms (i + 1/2) / N, so
  // every kept id of one distribution is drawn; returns the distinct ids drawn.
  std::set<int> check_one_row(const std::vector<float>& row, int N, int n_draw, int V, int Vp,
                              SampleRule rule) {
    std::vector<float> logits((size_t)N * Vp);
    for (int i = 0; i < N; i++) std::copy(row.begin(), row.end(), logits.begin() + (size_t)i * Vp);
    std::vector<double> uniforms(N);
    for (int i = 0; i < N; i++) uniforms[i] = (i + 0.5) / N;
    auto ids = check_rows(logits, uniforms, n_draw, V, Vp, rule);
    return std::set<int>(ids.begin(), ids.end());
  }
};

// 1000 real columns of 1024, drawing from the first 990 (a tokenizer smaller than the model's
// vocabulary): neither a multiple of the block nor of a warp.
TEST_P(SampleCases, Temperature) { check(37, 990, 1000, 1024, {1.0f}, 2.0f, 61); }
TEST_P(SampleCases, LowTemperaturePeakedRows) { check(21, 1000, 1000, 1024, {0.3f}, 6.0f, 62); }
TEST_P(SampleCases, FewerIdsThanThreads) { check(9, 45, 50, 64, {0.8f}, 1.0f, 63); }
TEST_P(SampleCases, Greedy) { check(37, 990, 1000, 1024, {0.0f}, 2.0f, 64); }
TEST_P(SampleCases, GreedyTakesTheLowerIdOfTies) { check(13, 700, 733, 768, {0.0f}, 1.0f, 65, true); }
// Greedy ignores top-k and top-p.
TEST_P(SampleCases, GreedyWithTopKAndTopP) { check(13, 990, 1000, 1024, {0.0f, 5, 0.5f}, 1.0f, 66, true); }

// Top-k and top-p on random rows, each with its own random uniform.
TEST_P(SampleCases, TopK) { check(37, 990, 1000, 1024, {1.0f, 40}, 2.0f, 71); }
TEST_P(SampleCases, TopKOne) { check(17, 990, 1000, 1024, {0.7f, 1}, 2.0f, 72, true); }
TEST_P(SampleCases, TopKAll) { check(17, 990, 1000, 1024, {1.0f, 990}, 2.0f, 73); }
TEST_P(SampleCases, TopP) { check(37, 990, 1000, 1024, {1.0f, 0, 0.95f}, 2.0f, 74); }
TEST_P(SampleCases, TopPPeakedRows) { check(21, 1000, 1000, 1024, {0.5f, 0, 0.9f}, 6.0f, 75); }
TEST_P(SampleCases, TopPTinyIsTheArgmax) { check(17, 990, 1000, 1024, {1.0f, 0, 1e-6f}, 2.0f, 76, true); }
TEST_P(SampleCases, TopPOne) { check(17, 990, 1000, 1024, {1.0f, 0, 1.0f}, 2.0f, 77); }
TEST_P(SampleCases, TopKThenTopP) { check(37, 990, 1000, 1024, {1.0f, 50, 0.8f}, 2.0f, 78); }
TEST_P(SampleCases, TopKAndTopPFewerIdsThanThreads) { check(9, 45, 50, 64, {0.8f, 7, 0.9f}, 1.0f, 79); }
// Equal logits all over the row: every order decision is a tie broken by id.
TEST_P(SampleCases, TopKAndTopPOnRowsOfEqualLogits) {
  std::vector<float> row(1024, 0.25f);
  EXPECT_EQ(check_one_row(row, 64, 990, 1000, 1024, {1.0f, 10}).size(), 10u);
  EXPECT_EQ(check_one_row(row, 64, 990, 1000, 1024, {1.0f, 0, 0.02f}).size(), 20u);  // 19.8 ids
}

// A row with 4 ids at the top value and 6 at the next, scattered over the row (ids not in order);
// the rest far below. Returns the row; `top` and `next` name the ids of each group.
inline std::vector<float> tied_row(int n_draw, int Vp, std::vector<int>* top, std::vector<int>* next) {
  std::vector<float> row = random_vector(Vp, 81, -1.0f, 1.0f);
  *top = {n_draw - 2, 5, 611, 300};
  *next = {n_draw - 1, 3, 500, 17, 250, 801};
  for (int j : *top) row[j] = 8.0f;
  for (int j : *next) row[j] = 7.5f;
  return row;
}

// Top-k whose k-th value is tied: k = 6 keeps the 4 top ids and the 2 lowest ids of the next 6.
TEST_P(SampleCases, TopKCutsThroughTiesByLowerId) {
  const int n_draw = 990, V = 1000, Vp = 1024;
  std::vector<int> top, next;
  auto row = tied_row(n_draw, Vp, &top, &next);
  auto drawn = check_one_row(row, 64, n_draw, V, Vp, {1.0f, 6});
  EXPECT_EQ(drawn, std::set<int>({n_draw - 2, 5, 611, 300, 3, 17}));
  EXPECT_EQ(check_one_row(row, 64, n_draw, V, Vp, {1.0f, 4}), std::set<int>(top.begin(), top.end()));
  EXPECT_EQ(check_one_row(row, 64, n_draw, V, Vp, {1.0f, 1}), std::set<int>({5}));
}

// A nucleus whose boundary falls inside a tie: top_p set halfway between 2 and 3 ids of the next
// group keeps 3 of them, the lowest ids.
TEST_P(SampleCases, TopPCutsThroughTiesByLowerId) {
  const int n_draw = 990, V = 1000, Vp = 1024;
  std::vector<int> top, next;
  auto row = tied_row(n_draw, Vp, &top, &next);
  double total = 0, p_next = std::exp(-0.5);
  for (int j = 0; j < n_draw; j++) total += std::exp((double)row[j] - 8.0);
  const float top_p = (float)((4 + 2.5 * p_next) / total);
  auto drawn = check_one_row(row, 64, n_draw, V, Vp, {1.0f, 0, top_p});
  EXPECT_EQ(drawn, std::set<int>({n_draw - 2, 5, 611, 300, 3, 17, 250}));
  // With top-k first (k = 8): the same cut in the mass of the 8 kept.
  double kept = 4 + 4 * p_next;
  drawn = check_one_row(row, 64, n_draw, V, Vp, {1.0f, 8, (float)((4 + 1.5 * p_next) / kept)});
  EXPECT_EQ(drawn, std::set<int>({n_draw - 2, 5, 611, 300, 3, 17}));
}

// Many uniforms over one random row, with top-k and top-p cuts well inside the row.
TEST_P(SampleCases, TopKAndTopPAtManyUniforms) {
  const int n_draw = 990, V = 1000, Vp = 1024;
  auto row = random_vector(Vp, 91, -3.0f, 3.0f);
  for (SampleRule rule : {SampleRule{1.0f, 100}, SampleRule{0.8f, 0, 0.9f},
                          SampleRule{1.3f, 300, 0.7f}, SampleRule{1.0f, 0, 0.999f}})
    check_one_row(row, 128, n_draw, V, Vp, rule);
}

}  // namespace chamber::testing
