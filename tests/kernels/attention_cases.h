// Causal attention on a backend against the reference; see backend_cases.h.
#pragma once
#include "kernels/attention.h"
#include "tests/kernels/backend_cases.h"

namespace chamber::testing {

class AttentionCases : public BackendTest {
 protected:
  void check(int B, int T, int C, int NH, uint64_t seed) {
    size_t qkv_n = (size_t)B * T * 3 * C, out_n = (size_t)B * T * C, att_n = (size_t)B * NH * T * T;
    auto qkv = random_vector(qkv_n, seed, -2.0f, 2.0f);
    std::vector<double> want_out(out_n), want_att(att_n);
    attention_forward_ref<double>(want_out.data(), want_att.data(), widen(qkv).data(), B, T, C, NH);
    BackendArray<float> q(*ops, qkv), out(*ops, nan_vector(out_n)), att(*ops, nan_vector(att_n));
    ops->attention_forward(out, att, q, B, T, C, NH);
    // Scores are sums of hs products, probabilities sums of T exponentials; T-term weighted sums.
    Tolerance tol = gemm_tolerance(GetParam(), 4 * T);
    EXPECT_BACKEND_CLOSE(att.download(), narrow(want_att), tol);  // includes the exact zeros
    EXPECT_BACKEND_CLOSE(out.download(), narrow(want_out), tol);

    auto dout = random_vector(out_n, seed + 1);
    auto dqkv0 = random_vector(qkv_n, seed + 2);
    std::vector<double> want_dqkv = widen(dqkv0), want_datt(att_n);
    attention_backward_ref<double>(want_dqkv.data(), want_datt.data(), widen(dout).data(),
                                   widen(qkv).data(), want_att.data(), B, T, C, NH);
    BackendArray<float> d(*ops, dout), dqkv(*ops, dqkv0), datt(*ops, nan_vector(att_n));
    BackendArray<float> saved_att(*ops, narrow(want_att));
    ops->attention_backward(dqkv, datt, d, q, saved_att, B, T, C, NH);
    EXPECT_BACKEND_CLOSE(datt.download(), narrow(want_datt), tol);
    EXPECT_BACKEND_CLOSE(dqkv.download(), narrow(want_dqkv), tol);
  }
};

// T = 37 > 32: each softmax row spans more than one pass of a warp; hs = 5 (odd, unaligned heads).
TEST_P(AttentionCases, OddHeadSize) { check(2, 37, 20, 4, 51); }
TEST_P(AttentionCases, ShortSequenceOneHead) { check(3, 7, 9, 1, 52); }

}  // namespace chamber::testing
