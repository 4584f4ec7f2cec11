// LayerNorm on a backend against the reference; see backend_cases.h.
#pragma once
#include "kernels/layernorm.h"
#include "tests/kernels/backend_cases.h"

namespace chamber::testing {

class LayernormCases : public BackendTest {
 protected:
  // Inputs with a non-zero mean (offset) so a variance computed as E[x^2]-E[x]^2 would show.
  void check(int N, int C, uint64_t seed) {
    auto x = random_vector((size_t)N * C, seed, 2.0f, 4.0f);
    auto w = random_vector(C, seed + 1), b = random_vector(C, seed + 2);
    std::vector<double> want_out((size_t)N * C), want_mean(N), want_rstd(N);
    layernorm_forward_ref<double>(want_out.data(), want_mean.data(), want_rstd.data(),
                                  widen(x).data(), widen(w).data(), widen(b).data(), N, C);
    BackendArray<float> inp(*ops, x), weight(*ops, w), bias(*ops, b);
    BackendArray<float> out(*ops, nan_vector((size_t)N * C)), mean(*ops, nan_vector(N)),
        rstd(*ops, nan_vector(N));
    ops->layernorm_forward(out, mean, rstd, inp, weight, bias, N, C);
    // Row sums of C float terms against a double reference; rstd amplifies the mean's error.
    Tolerance tol = f32_tolerance(20);
    EXPECT_BACKEND_CLOSE(out.download(), narrow(want_out), tol);
    EXPECT_BACKEND_CLOSE(mean.download(), narrow(want_mean), tol);
    EXPECT_BACKEND_CLOSE(rstd.download(), narrow(want_rstd), tol);

    // Backward from the reference's saved statistics, into random (non-zero) gradients.
    auto dout = random_vector((size_t)N * C, seed + 3);
    auto dinp0 = random_vector((size_t)N * C, seed + 4);
    auto dw0 = random_vector(C, seed + 5), db0 = random_vector(C, seed + 6);
    std::vector<double> want_dinp = widen(dinp0), want_dw = widen(dw0), want_db = widen(db0);
    layernorm_backward_ref<double>(want_dinp.data(), want_dw.data(), want_db.data(),
                                   widen(dout).data(), widen(x).data(), widen(w).data(),
                                   want_mean.data(), want_rstd.data(), N, C);
    BackendArray<float> d(*ops, dout), dinp(*ops, dinp0), dw(*ops, dw0), db(*ops, db0);
    BackendArray<float> saved_mean(*ops, narrow(want_mean)), saved_rstd(*ops, narrow(want_rstd));
    ops->layernorm_backward(dinp, dw, db, d, inp, weight, saved_mean, saved_rstd, N, C);
    EXPECT_BACKEND_CLOSE(dinp.download(), narrow(want_dinp), tol);
    // Sums over N rows: error grows with N.
    Tolerance param_tol = f32_tolerance(20 + N / 4);
    EXPECT_BACKEND_CLOSE(dw.download(), narrow(want_dw), param_tol);
    EXPECT_BACKEND_CLOSE(db.download(), narrow(want_db), param_tol);
  }

  // Backward from fixed random inputs into zeroed gradients: dinp, dweight and dbias end to end.
  std::vector<float> backward_bits(int N, int C, uint64_t seed) {
    auto x = random_vector((size_t)N * C, seed, 2.0f, 4.0f);
    BackendArray<float> inp(*ops, x), weight(*ops, random_vector(C, seed + 1));
    BackendArray<float> d(*ops, random_vector((size_t)N * C, seed + 2));
    BackendArray<float> mean(*ops, random_vector(N, seed + 3, 2.0f, 4.0f));
    BackendArray<float> rstd(*ops, random_vector(N, seed + 4, 0.5f, 2.0f));
    BackendArray<float> dinp(*ops, (size_t)N * C), dw(*ops, C), db(*ops, C);
    ops->layernorm_backward(dinp, dw, db, d, inp, weight, mean, rstd, N, C);
    std::vector<float> bits = dinp.download(), w = dw.download(), b = db.download();
    bits.insert(bits.end(), w.begin(), w.end());
    bits.insert(bits.end(), b.begin(), b.end());
    return bits;
  }
};

// 37 rows: 4 full warps-per-block groups and a partial one; C = 70 strides a warp 3 times.
TEST_P(LayernormCases, SmallRows) { check(37, 70, 21); }
// 600 rows: on the GPU backends the backward's parameter gradients are summed over 38 blocks of
// 16 rows, in 6 groups.
TEST_P(LayernormCases, ManyRowsSeveralParts) { check(600, 45, 31); }
// More channels than a block has threads (512 on the GPU backends): each thread sums several.
TEST_P(LayernormCases, WideRows) { check(19, 1100, 41); }
// 8300 rows: on the GPU backends each block walks 2 tiles of 16 rows (its 512-block cap).
TEST_P(LayernormCases, RowsBeyondOneTilePerBlock) { check(8300, 9, 61); }

// The fused residual add + LayerNorm gives the bits of residual_forward then layernorm_forward
// on the same backend (a backend without it, the reference, skips).
TEST_P(LayernormCases, FusedResidualLayernormIsTheTwoOpsBitForBit) {
  if (!supports(*ops, OpId::residual_layernorm_forward)) GTEST_SKIP() << "no fused op";
  const int N = 37, C = 70;
  auto va = random_vector((size_t)N * C, 81, 1.0f, 3.0f), vb = random_vector((size_t)N * C, 82);
  BackendArray<float> a(*ops, va), b(*ops, vb), weight(*ops, random_vector(C, 83)),
      bias(*ops, random_vector(C, 84));
  std::vector<std::vector<float>> results[2];
  for (int fused = 0; fused < 2; fused++) {
    BackendArray<float> residual(*ops, nan_vector((size_t)N * C)),
        out(*ops, nan_vector((size_t)N * C)), mean(*ops, nan_vector(N)), rstd(*ops, nan_vector(N));
    if (fused) {
      ops->residual_layernorm_forward(residual, out, mean, rstd, a, b, weight, bias, N, C);
    } else {
      ops->residual_forward(residual, a, b, (size_t)N * C);
      ops->layernorm_forward(out, mean, rstd, residual, weight, bias, N, C);
    }
    results[fused] = {residual.download(), out.download(), mean.download(), rstd.download()};
  }
  EXPECT_EQ(results[1], results[0]);
}

// The GPU backward sums the blocks' partials in the same launch, the last block to finish doing
// it and setting the arrival counters back to zero. Repeated calls give the same bits, and calls
// of other shapes (other block and group counts) in between find the counters at zero: a count
// left behind would skip or misplace a sum, and the comparisons with the reference would fail.
TEST_P(LayernormCases, BackwardRepeatsBitForBitAndLeavesNoCountBehind) {
  const std::vector<float> first = backward_bits(600, 45, 71);
  EXPECT_EQ(backward_bits(600, 45, 71), first);
  check(37, 70, 72);   // one block, one group
  check(600, 45, 73);  // 38 blocks, 6 groups
  check(5, 3, 74);     // fewer rows than warps
  EXPECT_EQ(backward_bits(600, 45, 71), first);
}

}  // namespace chamber::testing
