// Causal attention on a backend against the reference; see backend_cases.h.
//
// Which kernels a case runs: through the Ops table, head sizes that are multiples of 8 up to 64
// take the flash kernels on tensor cores (TF32 inputs on the GPU, exact fp32 under the emulator,
// like its gemm) and every other head size the SIMT kernels (fp32); kernels/attention.cu says
// why. The cases below cover both, with ragged last tiles and sequences shorter than a tile.
// attention_simt.cpp adds the emulated TF32 tensor-core path and the SIMT kernels at tensor-core
// shapes, attention_gpu.cpp a GPT-2-shaped problem.
#pragma once
#include <cmath>
#include <cstdio>

#include "kernels/attention.h"
#include "tests/kernels/backend_cases.h"

namespace chamber::testing {

// One random problem and its reference answers in double.
struct AttentionProblem {
  int B, T, C, NH;
  std::vector<float> qkv, dout;
  std::vector<float> dqkv0;     // what dqkv holds before backward: NaN, since it is overwritten
  std::vector<double> out, lse; // reference forward
  std::vector<double> grad;     // reference d(dout . out)/dqkv

  AttentionProblem(int B_, int T_, int C_, int NH_, uint64_t seed) : B(B_), T(T_), C(C_), NH(NH_) {
    size_t qkv_n = (size_t)B * T * 3 * C, out_n = (size_t)B * T * C;
    qkv = random_vector(qkv_n, seed, -2.0f, 2.0f);
    dout = random_vector(out_n, seed + 1);
    dqkv0 = nan_vector(qkv_n);
    out.resize(out_n);
    lse.resize((size_t)B * NH * T);
    grad.assign(qkv_n, 0.0);
    attention_forward_ref<double>(out.data(), lse.data(), widen(qkv).data(), B, T, C, NH);
    attention_backward_ref<double>(grad.data(), widen(dout).data(), widen(qkv).data(), out.data(),
                                   lse.data(), B, T, C, NH);
  }
  std::vector<float> want_dqkv() const { return narrow(grad); }
};

struct AttentionResult {
  std::vector<float> out, lse, dqkv;
};

// Forward, then backward from the reference's out and lse (so the backward's check does not
// inherit the forward's error). Outputs start as NaN, dqkv as dqkv0.
inline AttentionResult run_attention(const Ops& ops, const AttentionProblem& p) {
  BackendArray<float> qkv(ops, p.qkv), out(ops, nan_vector(p.out.size())),
      lse(ops, nan_vector(p.lse.size()));
  ops.attention_forward(out, lse, qkv, p.B, p.T, p.C, p.NH);
  BackendArray<float> dout(ops, p.dout), dqkv(ops, p.dqkv0), ref_out(ops, narrow(p.out)),
      ref_lse(ops, narrow(p.lse));
  ops.attention_backward(dqkv, dout, qkv, ref_out, ref_lse, p.B, p.T, p.C, p.NH);
  return {out.download(), lse.download(), dqkv.download()};
}

inline void expect_attention_close(const AttentionResult& got, const AttentionProblem& p,
                                   Tolerance tol) {
  EXPECT_BACKEND_CLOSE(got.out, narrow(p.out), tol);
  EXPECT_BACKEND_CLOSE(got.lse, narrow(p.lse), tol);
  EXPECT_BACKEND_CLOSE(got.dqkv, p.want_dqkv(), tol);
}

// ||got - want|| / ||want|| of out, lse and each third of the gradient (dq, dk, dv, as increments
// ), each below `bound`; NaN fails. Prints the measured values for the record.
inline void expect_attention_relative_l2(const AttentionResult& got, const AttentionProblem& p,
                                         double bound) {
  auto rel = [](double diff2, double ref2) { return std::sqrt(diff2 / ref2); };
  double out_d = 0, out_r = 0, lse_d = 0, lse_r = 0, g_d[3] = {0, 0, 0}, g_r[3] = {0, 0, 0};
  for (size_t i = 0; i < p.out.size(); i++) {
    out_d += (got.out[i] - p.out[i]) * (got.out[i] - p.out[i]);
    out_r += p.out[i] * p.out[i];
  }
  for (size_t i = 0; i < p.lse.size(); i++) {
    lse_d += (got.lse[i] - p.lse[i]) * (got.lse[i] - p.lse[i]);
    lse_r += p.lse[i] * p.lse[i];
  }
  for (size_t i = 0; i < p.grad.size(); i++) {
    int part = (int)((i % (3 * (size_t)p.C)) / p.C);  // 0 q, 1 k, 2 v
    double d = (double)got.dqkv[i] - p.grad[i];
    g_d[part] += d * d;
    g_r[part] += p.grad[i] * p.grad[i];
  }
  double errors[5] = {rel(out_d, out_r), rel(lse_d, lse_r), rel(g_d[0], g_r[0]),
                      rel(g_d[1], g_r[1]), rel(g_d[2], g_r[2])};
  const char* names[5] = {"out", "lse", "dq", "dk", "dv"};
  for (int k = 0; k < 5; k++) {
    std::printf("attention (B %d, T %d, C %d, NH %d): relative L2 error of %s %.3g\n", p.B, p.T,
                p.C, p.NH, names[k], errors[k]);
    EXPECT_LT(errors[k], bound) << names[k];
  }
}

class AttentionCases : public BackendTest {
 protected:
  void check(int B, int T, int C, int NH, uint64_t seed) {
    AttentionProblem p(B, T, C, NH, seed);
    // Scores are sums of hs products, probabilities sums of T exponentials; T-term weighted sums.
    expect_attention_close(run_attention(*ops, p), p, gemm_tolerance(GetParam(), 4 * T));
  }
};

// The SIMT kernels: T = 37 > 32, so each row spans more than one 32-key chunk; hs = 5 (odd,
// unaligned heads), hs = 9, and hs = 72 (a multiple of 8 wider than the tensor-core tiles).
TEST_P(AttentionCases, OddHeadSize) { check(2, 37, 20, 4, 51); }
TEST_P(AttentionCases, ShortSequenceOneHead) { check(3, 7, 9, 1, 52); }
TEST_P(AttentionCases, WideHeadTakesTheSimtKernels) { check(1, 33, 144, 2, 53); }
// The flash kernels: hs = 64 with T = 100 (one whole 64-row tile and a ragged one), hs = 16 with T
// shorter than a tile, hs = 8 over three tiles (the last with 2 rows).
TEST_P(AttentionCases, TensorCoreHeadRaggedTiles) { check(2, 100, 128, 2, 54); }
TEST_P(AttentionCases, TensorCoreSmallHeadShortSequence) { check(3, 37, 48, 3, 55); }
TEST_P(AttentionCases, TensorCoreHeadOfEightThreeTiles) { check(1, 130, 24, 3, 56); }

}  // namespace chamber::testing
