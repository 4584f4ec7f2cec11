// Token sampling on a backend against the reference; see backend_cases.h.
#pragma once
#include "kernels/sample.h"
#include "tests/kernels/backend_cases.h"

namespace chamber::testing {

class SampleCases : public BackendTest {
 protected:
  // N rows of V + padding logits with scale `spread` (large spreads make peaked rows); draws over
  // the first n_draw. Ids must match exactly: both sides sum in double, and a random uniform
  // landing within 1e-16 of a boundary is not a case these seeds hit.
  void check(int N, int n_draw, int V, int Vp, float temperature, float spread, uint64_t seed,
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
    std::vector<int> want_ids(N);
    std::vector<float> want_lp(N);
    sample_tokens_ref(want_ids.data(), want_lp.data(), logits.data(), uniforms.data(), N, n_draw, V,
                      Vp, temperature);

    ASSERT_NE(ops->sample_tokens, nullptr) << "this backend has no sample_tokens op";
    BackendArray<float> x(*ops, logits), lp(*ops, nan_vector(N));
    BackendArray<double> u(*ops, uniforms);
    BackendArray<int> ids(*ops, std::vector<int>(N, -1));
    ops->sample_tokens(ids, lp, x, u, N, n_draw, V, Vp, temperature);
    EXPECT_EQ(ids.download(), want_ids);
    // A log-sum-exp over V terms in another order.
    EXPECT_BACKEND_CLOSE(lp.download(), want_lp, f32_tolerance(8));
  }
};

// 1000 real columns of 1024, drawing from the first 990 (a tokenizer smaller than the model's
// vocabulary): neither a multiple of the block nor of a warp.
TEST_P(SampleCases, Temperature) { check(37, 990, 1000, 1024, 1.0f, 2.0f, 61); }
TEST_P(SampleCases, LowTemperaturePeakedRows) { check(21, 1000, 1000, 1024, 0.3f, 6.0f, 62); }
TEST_P(SampleCases, FewerIdsThanThreads) { check(9, 45, 50, 64, 0.8f, 1.0f, 63); }
TEST_P(SampleCases, Greedy) { check(37, 990, 1000, 1024, 0.0f, 2.0f, 64); }
TEST_P(SampleCases, GreedyTakesTheLowerIdOfTies) { check(13, 700, 733, 768, 0.0f, 1.0f, 65, true); }

}  // namespace chamber::testing
