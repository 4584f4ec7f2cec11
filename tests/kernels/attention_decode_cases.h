// KV-cache attention (sampling) on a backend against the reference; see backend_cases.h.
#pragma once
#include "kernels/attention_decode.h"
#include "tests/kernels/backend_cases.h"

namespace chamber::testing {

class AttentionDecodeCases : public BackendTest {
 protected:
  // Caches start random (positions before pos[i] stand for earlier calls' keys and values).
  void check(int N, int Tn, int C, int NH, int max_len, int S, std::vector<int> slots,
             std::vector<int> pos, uint64_t seed) {
    size_t cache_n = (size_t)S * C * max_len;  // S * NH * max_len * hs
    auto qkv = random_vector((size_t)N * Tn * 3 * C, seed, -2.0f, 2.0f);
    auto k0 = random_vector(cache_n, seed + 1, -2.0f, 2.0f), v0 = random_vector(cache_n, seed + 2);
    std::vector<double> want_out((size_t)N * Tn * C), want_k = widen(k0), want_v = widen(v0);
    attention_decode_ref<double>(want_out.data(), want_k.data(), want_v.data(), widen(qkv).data(),
                                 slots.data(), pos.data(), N, Tn, C, NH, max_len);
    BackendArray<float> q(*ops, qkv), k(*ops, k0), v(*ops, v0), out(*ops, nan_vector(want_out.size()));
    BackendArray<int> s(*ops, slots), p(*ops, pos);
    ops->attention_decode(out, k, v, q, s, p, N, Tn, C, NH, max_len);
    EXPECT_EQ(k.download(), narrow(want_k)) << "keys must be copied exactly";
    EXPECT_EQ(v.download(), narrow(want_v)) << "values must be copied exactly";
    // Softmax over up to max_len positions and a weighted sum of as many values, in float.
    EXPECT_BACKEND_CLOSE(out.download(), narrow(want_out), f32_tolerance(4 * max_len));
  }
};

// Prefill of 5 tokens into slot 2 from position 0 and decode-like appends into slot 0 at
// position 30 (keys up to 34 > 32 lanes); hs = 5; a compacted row subset (slot 1 untouched).
TEST_P(AttentionDecodeCases, PrefillAndAppend) { check(2, 5, 20, 4, 37, 3, {2, 0}, {0, 30}, 111); }
// One new token per row, as in token-by-token decoding.
TEST_P(AttentionDecodeCases, SingleTokenSteps) { check(3, 1, 24, 3, 50, 4, {3, 1, 0}, {7, 48, 0}, 112); }

}  // namespace chamber::testing
