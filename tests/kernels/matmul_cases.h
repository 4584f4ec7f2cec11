// Matmul with bias on a backend against the reference; see backend_cases.h.
#pragma once
#include "kernels/gelu.h"
#include "kernels/matmul.h"
#include "tests/kernels/backend_cases.h"

namespace chamber::testing {

class MatmulCases : public BackendTest {
 protected:
  void forward(int N, int C, int OC, bool with_bias, uint64_t seed) {
    auto x = random_vector((size_t)N * C, seed), w = random_vector((size_t)OC * C, seed + 1);
    auto b = random_vector(OC, seed + 2);
    std::vector<double> want((size_t)N * OC);
    matmul_forward_ref<double>(want.data(), widen(x).data(), widen(w).data(),
                               with_bias ? widen(b).data() : nullptr, N, C, OC);
    BackendArray<float> inp(*ops, x), weight(*ops, w), bias(*ops, b), out(*ops, nan_vector(want.size()));
    ops->matmul_forward(out, inp, weight, with_bias ? bias.ptr : nullptr, N, C, OC);
    // Dot products of C terms summed in another order than the double reference.
    EXPECT_BACKEND_CLOSE(out.download(), narrow(want), gemm_tolerance(GetParam(), 2 * C));
  }

  // The fused fc + GELU: both the pre-activation and the GELU output against the reference's
  // matmul then GELU.
  void forward_gelu(int N, int C, int OC, bool with_bias, uint64_t seed) {
    ASSERT_NE(ops->matmul_gelu_forward, nullptr) << "this backend has no fused matmul + GELU";
    auto x = random_vector((size_t)N * C, seed), w = random_vector((size_t)OC * C, seed + 1);
    auto b = random_vector(OC, seed + 2);
    std::vector<double> want_pre((size_t)N * OC), want_out((size_t)N * OC);
    matmul_forward_ref<double>(want_pre.data(), widen(x).data(), widen(w).data(),
                               with_bias ? widen(b).data() : nullptr, N, C, OC);
    gelu_forward_ref<double>(want_out.data(), want_pre.data(), want_pre.size());
    BackendArray<float> inp(*ops, x), weight(*ops, w), bias(*ops, b);
    BackendArray<float> pre(*ops, nan_vector(want_pre.size())), out(*ops, nan_vector(want_out.size()));
    ops->matmul_gelu_forward(out, pre, inp, weight, with_bias ? bias.ptr : nullptr, N, C, OC);
    // GELU's slope is at most 1.13, so its output is as close as its input.
    EXPECT_BACKEND_CLOSE(pre.download(), narrow(want_pre), gemm_tolerance(GetParam(), 2 * C));
    EXPECT_BACKEND_CLOSE(out.download(), narrow(want_out), gemm_tolerance(GetParam(), 4 * C));
  }

  // The fused fc_proj backward through GELU: d_pre_gelu against the reference's matmul backward
  // then GELU backward, the parameter gradients accumulated onto random values.
  void backward_gelu(int N, int C, int OC, bool with_dbias, uint64_t seed) {
    ASSERT_NE(ops->matmul_gelu_backward, nullptr) << "this backend has no fused matmul + GELU";
    auto x = random_vector((size_t)N * C, seed), w = random_vector((size_t)OC * C, seed + 1);
    auto pre = random_vector((size_t)N * C, seed + 2, -4.0f, 4.0f);
    auto dout = random_vector((size_t)N * OC, seed + 3);
    auto dw0 = random_vector((size_t)OC * C, seed + 4), db0 = random_vector(OC, seed + 5);
    std::vector<double> want_d((size_t)N * C), want_dw = widen(dw0), want_db = widen(db0);
    matmul_backward_ref<double>(want_d.data(), want_dw.data(), with_dbias ? want_db.data() : nullptr,
                                widen(dout).data(), widen(x).data(), widen(w).data(), N, C, OC);
    gelu_backward_ref<double>(want_d.data(), widen(pre).data(), want_d.data(), want_d.size());
    BackendArray<float> inp(*ops, x), weight(*ops, w), pre_gelu(*ops, pre), d(*ops, dout);
    BackendArray<float> d_pre(*ops, nan_vector(want_d.size())), dw(*ops, dw0), db(*ops, db0);
    ops->matmul_gelu_backward(d_pre, dw, with_dbias ? db.ptr : nullptr, d, inp, pre_gelu, weight,
                              N, C, OC);
    // Sums of OC products times GELU' (at most 1.13); dweight and dbias sums of N terms.
    EXPECT_BACKEND_CLOSE(d_pre.download(), narrow(want_d), gemm_tolerance(GetParam(), 3 * OC));
    EXPECT_BACKEND_CLOSE(dw.download(), narrow(want_dw), gemm_tolerance(GetParam(), 2 * N));
    EXPECT_BACKEND_CLOSE(db.download(), narrow(want_db), f32_tolerance(2 * N));
  }

  // Each of dinp, dweight, dbias is computed only when asked; the others must stay untouched.
  // dinp is overwritten (NaN before when asked for), dweight and dbias accumulate (random before).
  void backward(int N, int C, int OC, bool want_dinp, bool want_dweight, bool want_dbias,
                uint64_t seed) {
    auto x = random_vector((size_t)N * C, seed), w = random_vector((size_t)OC * C, seed + 1);
    auto dout = random_vector((size_t)N * OC, seed + 2);
    auto dinp0 = want_dinp ? nan_vector((size_t)N * C) : random_vector((size_t)N * C, seed + 3);
    auto dw0 = random_vector((size_t)OC * C, seed + 4);
    auto db0 = random_vector(OC, seed + 5);
    std::vector<double> e_dinp = widen(dinp0), e_dw = widen(dw0), e_db = widen(db0);
    matmul_backward_ref<double>(want_dinp ? e_dinp.data() : nullptr,
                                want_dweight ? e_dw.data() : nullptr,
                                want_dbias ? e_db.data() : nullptr, widen(dout).data(),
                                widen(x).data(), widen(w).data(), N, C, OC);
    BackendArray<float> inp(*ops, x), weight(*ops, w), d(*ops, dout);
    BackendArray<float> dinp(*ops, dinp0), dw(*ops, dw0), db(*ops, db0);
    ops->matmul_backward(want_dinp ? dinp.ptr : nullptr, want_dweight ? dw.ptr : nullptr,
                         want_dbias ? db.ptr : nullptr, d, inp, weight, N, C, OC);
    // Sums of OC (dinp) or N (dweight, dbias) products.
    EXPECT_BACKEND_CLOSE(dinp.download(), narrow(e_dinp), gemm_tolerance(GetParam(), 2 * OC));
    EXPECT_BACKEND_CLOSE(dw.download(), narrow(e_dw), gemm_tolerance(GetParam(), 2 * N));
    EXPECT_BACKEND_CLOSE(db.download(), narrow(e_db), f32_tolerance(2 * N));
  }
};

TEST_P(MatmulCases, ForwardWithBias) { forward(37, 70, 45, true, 41); }
TEST_P(MatmulCases, ForwardWithoutBias) { forward(37, 70, 45, false, 42); }
// Which GELU the fused op applies: with an identity weight and inputs that are multiples of 1/64
// (exact in TF32), the product is exact, so the output must be the tanh form to float rounding;
// the erf form differs by up to 4.7e-4 around |x| = 2.4 and would fail here.
TEST_P(MatmulCases, FusedGeluIsTheTanhForm) {
  ASSERT_NE(ops->matmul_gelu_forward, nullptr);
  const int N = 64, C = 8;
  std::vector<float> x((size_t)N * C), w((size_t)C * C, 0.0f);
  for (size_t i = 0; i < x.size(); i++) x[i] = (float)((int)(i * 37 % 513) - 256) / 64.0f;
  for (int c = 0; c < C; c++) w[(size_t)c * C + c] = 1.0f;
  std::vector<double> want(x.size());
  gelu_forward_ref<double>(want.data(), widen(x).data(), want.size());
  BackendArray<float> inp(*ops, x), weight(*ops, w);
  BackendArray<float> pre(*ops, nan_vector(x.size())), out(*ops, nan_vector(x.size()));
  ops->matmul_gelu_forward(out, pre, inp, weight, nullptr, N, C, C);
  EXPECT_BACKEND_CLOSE(pre.download(), x, f32_tolerance(1));
  EXPECT_BACKEND_CLOSE(out.download(), narrow(want), f32_tolerance(8));
}

// The same for the DGELU epilogue: an identity weight and a gradient of ones make the product
// exact, so d_pre_gelu must be the tanh form's derivative at pre_gelu to float rounding (the erf
// form's derivative differs by up to about 1e-3 there).
TEST_P(MatmulCases, FusedGeluBackwardIsTheTanhForm) {
  ASSERT_NE(ops->matmul_gelu_backward, nullptr);
  const int N = 64, C = 8;
  std::vector<float> pre((size_t)N * C), dout((size_t)N * C, 1.0f), w((size_t)C * C, 0.0f);
  for (size_t i = 0; i < pre.size(); i++) pre[i] = (float)((int)(i * 37 % 513) - 256) / 64.0f;
  for (int c = 0; c < C; c++) w[(size_t)c * C + c] = 1.0f;
  std::vector<double> want(pre.size());
  gelu_backward_ref<double>(want.data(), widen(pre).data(), widen(dout).data(), want.size());
  BackendArray<float> pre_gelu(*ops, pre), weight(*ops, w), d(*ops, dout), inp(*ops, pre);
  BackendArray<float> d_pre(*ops, nan_vector(pre.size())), dw(*ops, std::vector<float>(w.size(), 0.0f));
  ops->matmul_gelu_backward(d_pre, dw, nullptr, d, inp, pre_gelu, weight, N, C, C);
  EXPECT_BACKEND_CLOSE(d_pre.download(), narrow(want), f32_tolerance(8));
}

// OC = 72 is a multiple of 8, which cuBLASLt's GELU epilogue needs; 45 takes the fallback.
TEST_P(MatmulCases, ForwardGeluEpilogue) { forward_gelu(37, 18, 72, true, 47); }
TEST_P(MatmulCases, ForwardGeluWithoutBias) { forward_gelu(37, 18, 72, false, 48); }
TEST_P(MatmulCases, ForwardGeluOddWidth) { forward_gelu(37, 70, 45, true, 49); }
// C = 72 (a multiple of 8) takes cuBLASLt's DGELU epilogue on the GPU; 45 takes the fallback.
TEST_P(MatmulCases, BackwardGeluEpilogue) { backward_gelu(37, 72, 18, true, 50); }
TEST_P(MatmulCases, BackwardGeluWithoutBias) { backward_gelu(37, 72, 18, false, 51); }
TEST_P(MatmulCases, BackwardGeluOddWidth) { backward_gelu(37, 45, 70, true, 52); }
TEST_P(MatmulCases, BackwardAllGradients) { backward(37, 70, 45, true, true, true, 43); }
TEST_P(MatmulCases, BackwardOnlyInputGradient) { backward(37, 70, 45, true, false, false, 44); }
TEST_P(MatmulCases, BackwardOnlyParameterGradients) { backward(37, 70, 45, false, true, true, 45); }
// 300 rows: the bias gradient goes through two partial-sum parts.
TEST_P(MatmulCases, BackwardManyRows) { backward(300, 19, 33, true, true, true, 46); }

}  // namespace chamber::testing
