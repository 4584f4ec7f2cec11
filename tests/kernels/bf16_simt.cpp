// The bf16 build of the CUDA kernels (chamber_simt_bf16: floatX = bf16, kernels/cuda_common.h)
// under the SIMT emulator, every op called through its launcher (cuda_emulated_bf16::) on host
// memory, against the double reference of kernels/<op>.h run on the same, bf16-rounded, inputs.
//
// Tolerances. Inputs are random (never zero) and rounded to bf16 first, so the reference sees
// exactly what the kernel reads and the only differences are the kernel's own: float arithmetic
// (relative ~2^-24 per operation, ~k 2^-24 over a k-term sum, negligible) and the rounding of each
// bf16 output to nearest, at most half a unit in the last of bf16's 8 significant bits: at most
// 2^-8 |x| (kBf16Rel). So an output that is one rounding of a float result must lie within
// 2^-8 |want| plus a float-sized floor for sums that cancel (kSumAtol per term); an output
// computed from a bf16 intermediate that was itself rounded (matmul_gelu_*: the product is
// rounded before the GELU or its derivative applies) takes one more 2^-8 |want|, since the
// derivative at that point carries the intermediate's relative error to the output in proportion
// (stated at each case). Float outputs (parameter gradients, LayerNorm statistics, lse, losses,
// values) come from exact bf16 inputs through float arithmetic: float's tolerance times the number
// of terms summed. Attention, whose paths round scores or probabilities to bf16 between
// products, is compared by relative L2 error with a bound per path stated there. Outputs that are
// overwritten start as NaN; outputs that accumulate start from random values.
#define CHAMBER_BF16 1
#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

#include "kernels/adamw.h"
#include "kernels/attention.h"
#include "kernels/attention_decode.h"
#include "kernels/classifier.h"
#include "kernels/cuda_launchers.h"
#include "kernels/encoder.h"
#include "kernels/gelu.h"
#include "kernels/layernorm.h"
#include "kernels/matmul.h"
#include "kernels/residual.h"
#include "kernels/sample.h"
#include "kernels/simt_backend.h"
#include "kernels/value_head.h"
#include "tests/kernels/attention_bf16_cases.h"
#include "tests/kernels/optimizer_calls.h"
#include "tests/test_util.h"

namespace chamber::cuda_emulated_bf16 {
namespace {

using bf16 = __nv_bfloat16;
static_assert(std::is_same_v<floatX, bf16>, "this file tests the bf16 build");

constexpr double kBf16Rel = 1.0 / 256;   // 2^-8: one rounding to nearest, relative
constexpr double kSumAtol = 4 * testing::kF32Atol;  // float floor per summed term (cancellation)

// A random bf16 array and the same values in double, for the reference.
struct Bf16Array {
  std::vector<bf16> x;
  std::vector<double> d;
};
Bf16Array random_bf16(size_t n, uint64_t seed, float lo = -1.0f, float hi = 1.0f) {
  std::vector<float> f = testing::random_vector(n, seed, lo, hi);
  Bf16Array a{std::vector<bf16>(n), std::vector<double>(n)};
  for (size_t i = 0; i < n; i++) {
    a.x[i] = bf16(f[i]);
    a.d[i] = (float)a.x[i];
  }
  return a;
}
std::vector<bf16> nan_bf16(size_t n) {
  return std::vector<bf16>(n, bf16(std::numeric_limits<float>::quiet_NaN()));
}
std::vector<float> nan_float(size_t n) {
  return std::vector<float>(n, std::numeric_limits<float>::quiet_NaN());
}
std::vector<double> widen(const std::vector<float>& v) { return {v.begin(), v.end()}; }
std::vector<float> to_float(const std::vector<bf16>& v) {
  std::vector<float> out(v.size());
  for (size_t i = 0; i < v.size(); i++) out[i] = (float)v[i];
  return out;
}
std::vector<float> narrow(const std::vector<double>& v) { return {v.begin(), v.end()}; }

// Every element of got within roundings * 2^-8 |want| + atol of want; NaN or Inf fails.
::testing::AssertionResult bf16_close(const std::vector<bf16>& got, const std::vector<double>& want,
                                      int roundings, double atol) {
  if (got.size() != want.size()) return ::testing::AssertionFailure() << "sizes differ";
  double worst = 0;
  size_t worst_i = 0;
  for (size_t i = 0; i < got.size(); i++) {
    double g = (float)got[i];
    if (!std::isfinite(g)) return ::testing::AssertionFailure() << "non-finite at " << i;
    double ratio = std::fabs(g - want[i]) / (roundings * kBf16Rel * std::fabs(want[i]) + atol);
    if (ratio > worst) worst = ratio, worst_i = i;
  }
  if (worst <= 1.0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "worst at " << worst_i << ": got "
                                       << (float)got[worst_i] << ", want " << want[worst_i]
                                       << " (" << worst << " x the tolerance)";
}
#define EXPECT_BF16_CLOSE(got, want, roundings, atol) \
  EXPECT_TRUE(bf16_close((got), (want), (roundings), (atol))) << #got
// Float outputs: float's tolerance for sums of `terms` terms.
#define EXPECT_FLOAT_OUTPUT(got, want, terms)                                         \
  EXPECT_ALL_CLOSE((got), narrow(want), testing::kF32Atol * 4 * (terms),               \
                   testing::kF32Rtol * 4 * (terms))                                   \
      << #got

// ---- the tables ----

TEST(Bf16Simt, TablesReportTheirComputeType) {
  EXPECT_STREQ(simt_ops().name, "simt");
  EXPECT_EQ(simt_ops().compute_bytes, 4u);
  EXPECT_STREQ(simt_bf16_ops().name, "simt-bf16");
  EXPECT_EQ(simt_bf16_ops().compute_bytes, 2u);
}

// The emulator's bf16 rounds to nearest even and keeps NaN a NaN (kernels/simt_bf16.h).
TEST(Bf16Simt, ConversionRoundsToNearestEven) {
  auto bits = [](float f) { return bf16(f).bits; };
  auto from = [](uint32_t u) {
    float f;
    std::memcpy(&f, &u, 4);
    return f;
  };
  EXPECT_EQ(bits(1.0f), 0x3f80);
  EXPECT_EQ(bits(from(0x3f808000u)), 0x3f80);  // tie, even below
  EXPECT_EQ(bits(from(0x3f818000u)), 0x3f82);  // tie, even above
  EXPECT_EQ(bits(from(0x3f808001u)), 0x3f81);  // just above the tie
  EXPECT_EQ(bits(from(0x7f7fffffu)), 0x7f80);  // past the largest finite bf16: Inf
  EXPECT_TRUE(std::isnan((float)bf16(from(0x7f800001u))));  // payload only in the low bits
  EXPECT_EQ((float)bf16(-2.5f), -2.5f);
}

// ---- elementwise ops and the embedding ----

TEST(Bf16Simt, EncoderForwardAndBackward) {
  const int B = 3, T = 7, C = 37, V = 29;
  auto tokens = testing::random_tokens(B * T, V, 11);
  auto wte = random_bf16((size_t)V * C, 12), wpe = random_bf16((size_t)T * C, 13);
  auto out = nan_bf16((size_t)B * T * C);
  std::vector<double> want((size_t)B * T * C);
  encoder_forward(out.data(), tokens.data(), wte.x.data(), wpe.x.data(), B, T, C, nullptr);
  encoder_forward_ref<double>(want.data(), tokens.data(), wte.d.data(), wpe.d.data(), B, T, C);
  EXPECT_BF16_CLOSE(out, want, 1, 0.0);  // one rounding of an exact float sum

  auto dout = random_bf16((size_t)B * T * C, 14);
  auto dwte = testing::random_vector((size_t)V * C, 15), dwpe = testing::random_vector((size_t)T * C, 16);
  std::vector<double> want_dwte = widen(dwte), want_dwpe = widen(dwpe);
  encoder_backward(dwte.data(), dwpe.data(), dout.x.data(), tokens.data(), B, T, C, nullptr);
  encoder_backward_ref<double>(want_dwte.data(), want_dwpe.data(), dout.d.data(), tokens.data(), B,
                               T, C);
  EXPECT_FLOAT_OUTPUT(dwte, want_dwte, B * T);
  EXPECT_FLOAT_OUTPUT(dwpe, want_dwpe, B);
}

TEST(Bf16Simt, GeluForwardAndBackward) {
  const size_t n = 1037;
  auto x = random_bf16(n, 21, -4.0f, 4.0f), dout = random_bf16(n, 22);
  auto out = nan_bf16(n);
  std::vector<double> want(n);
  gelu_forward(out.data(), x.x.data(), n, nullptr);
  gelu_forward_ref<double>(want.data(), x.d.data(), n);
  EXPECT_BF16_CLOSE(out, want, 1, testing::kF32Atol);  // tanhf: a few float ulps, then a rounding
  auto dinp = nan_bf16(n);
  gelu_backward(dinp.data(), x.x.data(), dout.x.data(), n, nullptr);
  gelu_backward_ref<double>(want.data(), x.d.data(), dout.d.data(), n);
  EXPECT_BF16_CLOSE(dinp, want, 1, testing::kF32Atol);
  std::vector<bf16> in_place = dout.x;  // dinp may be dout itself
  gelu_backward(in_place.data(), x.x.data(), in_place.data(), n, nullptr);
  EXPECT_EQ(to_float(in_place), to_float(dinp));
}

TEST(Bf16Simt, ResidualForwardAndBackward) {
  const size_t n = 1037;
  auto a = random_bf16(n, 31), b = random_bf16(n, 32), dout = random_bf16(n, 33);
  auto out = nan_bf16(n);
  std::vector<double> want(n);
  residual_forward(out.data(), a.x.data(), b.x.data(), n, nullptr);
  residual_forward_ref<double>(want.data(), a.d.data(), b.d.data(), n);
  EXPECT_BF16_CLOSE(out, want, 1, 0.0);
  // The gradients accumulate into bf16: one rounding of (exact prior + dout).
  auto da = random_bf16(n, 34), db = random_bf16(n, 35);
  residual_backward(da.x.data(), db.x.data(), dout.x.data(), n, nullptr);
  residual_backward_ref<double>(da.d.data(), db.d.data(), dout.d.data(), n);
  EXPECT_BF16_CLOSE(da.x, da.d, 1, 0.0);
  EXPECT_BF16_CLOSE(db.x, db.d, 1, 0.0);
}

// ---- LayerNorm ----

TEST(Bf16Simt, LayernormForwardAndBackward) {
  const int N = 37, C = 75;
  auto inp = random_bf16((size_t)N * C, 41, -2.0f, 3.0f), weight = random_bf16(C, 42),
       bias = random_bf16(C, 43), dout = random_bf16((size_t)N * C, 44);
  auto out = nan_bf16((size_t)N * C);
  auto mean = nan_float(N), rstd = nan_float(N);
  std::vector<double> want((size_t)N * C), want_mean(N), want_rstd(N);
  layernorm_forward(out.data(), mean.data(), rstd.data(), inp.x.data(), weight.x.data(),
                    bias.x.data(), N, C, nullptr);
  layernorm_forward_ref<double>(want.data(), want_mean.data(), want_rstd.data(), inp.d.data(),
                                weight.d.data(), bias.d.data(), N, C);
  EXPECT_FLOAT_OUTPUT(mean, want_mean, C);
  EXPECT_FLOAT_OUTPUT(rstd, want_rstd, C);
  EXPECT_BF16_CLOSE(out, want, 1, kSumAtol * C);

  // dinp (bf16) and dweight, dbias (float) accumulate onto random values; backward reads the
  // float statistics the forward saved.
  auto dinp = random_bf16((size_t)N * C, 45);
  auto dweight = testing::random_vector(C, 46), dbias = testing::random_vector(C, 47);
  std::vector<double> want_dweight = widen(dweight), want_dbias = widen(dbias);
  layernorm_backward(dinp.x.data(), dweight.data(), dbias.data(), dout.x.data(), inp.x.data(),
                     weight.x.data(), mean.data(), rstd.data(), N, C, nullptr);
  layernorm_backward_ref<double>(dinp.d.data(), want_dweight.data(), want_dbias.data(),
                                 dout.d.data(), inp.d.data(), weight.d.data(),
                                 widen(mean).data(), widen(rstd).data(), N, C);
  EXPECT_BF16_CLOSE(dinp.x, dinp.d, 1, kSumAtol * C);
  EXPECT_FLOAT_OUTPUT(dweight, want_dweight, N);
  EXPECT_FLOAT_OUTPUT(dbias, want_dbias, N);
}

// The fused residual add + LayerNorm: residual_out is one rounding of a + b, and the LayerNorm
// reads that rounded sum, exactly as residual_forward then layernorm_forward do: the same bits as
// those two launches, and the reference's LayerNorm of the rounded sum within the forward's bounds.
TEST(Bf16Simt, ResidualLayernormForwardIsTheTwoOpsBitForBit) {
  const int N = 37, C = 75;
  auto a = random_bf16((size_t)N * C, 48, -2.0f, 3.0f), b = random_bf16((size_t)N * C, 49),
       weight = random_bf16(C, 50), bias = random_bf16(C, 51);
  auto residual = nan_bf16((size_t)N * C), out = nan_bf16((size_t)N * C);
  auto mean = nan_float(N), rstd = nan_float(N);
  residual_layernorm_forward(residual.data(), out.data(), mean.data(), rstd.data(), a.x.data(),
                             b.x.data(), weight.x.data(), bias.x.data(), N, C, nullptr);
  auto residual2 = nan_bf16((size_t)N * C), out2 = nan_bf16((size_t)N * C);
  auto mean2 = nan_float(N), rstd2 = nan_float(N);
  residual_forward(residual2.data(), a.x.data(), b.x.data(), (size_t)N * C, nullptr);
  layernorm_forward(out2.data(), mean2.data(), rstd2.data(), residual2.data(), weight.x.data(),
                    bias.x.data(), N, C, nullptr);
  EXPECT_EQ(to_float(residual), to_float(residual2));
  EXPECT_EQ(to_float(out), to_float(out2));
  EXPECT_EQ(mean, mean2);
  EXPECT_EQ(rstd, rstd2);

  std::vector<double> want_residual((size_t)N * C), want((size_t)N * C), want_mean(N), want_rstd(N);
  residual_forward_ref<double>(want_residual.data(), a.d.data(), b.d.data(), (size_t)N * C);
  EXPECT_BF16_CLOSE(residual, want_residual, 1, 0.0);
  std::vector<double> rounded = widen(to_float(residual));
  layernorm_forward_ref<double>(want.data(), want_mean.data(), want_rstd.data(), rounded.data(),
                                weight.d.data(), bias.d.data(), N, C);
  EXPECT_FLOAT_OUTPUT(mean, want_mean, C);
  EXPECT_FLOAT_OUTPUT(rstd, want_rstd, C);
  EXPECT_BF16_CLOSE(out, want, 1, kSumAtol * C);
}

// ---- matmul, its GELU fusions, and gemm's two output types ----

TEST(Bf16Simt, MatmulForwardAndBackward) {
  const int N = 37, C = 45, OC = 29;
  auto inp = random_bf16((size_t)N * C, 51), weight = random_bf16((size_t)OC * C, 52),
       bias = random_bf16(OC, 53), dout = random_bf16((size_t)N * OC, 54);
  auto out = nan_bf16((size_t)N * OC);
  std::vector<double> want((size_t)N * OC);
  matmul_forward(out.data(), inp.x.data(), weight.x.data(), bias.x.data(), N, C, OC, nullptr);
  matmul_forward_ref<double>(want.data(), inp.d.data(), weight.d.data(), bias.d.data(), N, C, OC);
  EXPECT_BF16_CLOSE(out, want, 1, kSumAtol * C);

  // dinp (bf16) is overwritten; dweight, dbias (float) accumulate.
  auto dinp = nan_bf16((size_t)N * C);
  auto dweight = testing::random_vector((size_t)OC * C, 55), dbias = testing::random_vector(OC, 56);
  std::vector<double> want_dinp((size_t)N * C), want_dweight = widen(dweight),
                      want_dbias = widen(dbias);
  matmul_backward(dinp.data(), dweight.data(), dbias.data(), dout.x.data(), inp.x.data(),
                  weight.x.data(), N, C, OC, nullptr);
  matmul_backward_ref<double>(want_dinp.data(), want_dweight.data(), want_dbias.data(),
                              dout.d.data(), inp.d.data(), weight.d.data(), N, C, OC);
  EXPECT_BF16_CLOSE(dinp, want_dinp, 1, kSumAtol * OC);
  EXPECT_FLOAT_OUTPUT(dweight, want_dweight, N);
  EXPECT_FLOAT_OUTPUT(dbias, want_dbias, N);
}

// matmul_gelu_forward: pre_gelu is one rounding of the product; out is GELU of that rounded value,
// rounded. GELU' lies in [-0.13, 1.13], so the first rounding moves out by at most
// 1.13 * 2^-8 |pre_gelu|: the bound is 2^-8 (|out| + 1.13 |pre_gelu|) and the float floor.
TEST(Bf16Simt, MatmulGeluForwardRoundsThePreActivationFirst) {
  const int N = 37, C = 45, OC = 29;
  auto inp = random_bf16((size_t)N * C, 61), weight = random_bf16((size_t)OC * C, 62),
       bias = random_bf16(OC, 63);
  auto out = nan_bf16((size_t)N * OC), pre = nan_bf16((size_t)N * OC);
  std::vector<double> want_pre((size_t)N * OC), want_out((size_t)N * OC);
  matmul_gelu_forward(out.data(), pre.data(), inp.x.data(), weight.x.data(), bias.x.data(), N, C,
                      OC, nullptr);
  matmul_forward_ref<double>(want_pre.data(), inp.d.data(), weight.d.data(), bias.d.data(), N, C, OC);
  gelu_forward_ref<double>(want_out.data(), want_pre.data(), want_pre.size());
  EXPECT_BF16_CLOSE(pre, want_pre, 1, kSumAtol * C);
  for (size_t i = 0; i < out.size(); i++) {
    double bound = kBf16Rel * (std::fabs(want_out[i]) + 1.13 * std::fabs(want_pre[i])) + kSumAtol * C;
    ASSERT_LE(std::fabs((float)out[i] - want_out[i]), bound) << "at " << i;
  }
}

// matmul_gelu_backward: d_pre_gelu = round(round(dout @ W) * GELU'(pre)): the inner rounding's
// error times GELU' is 2^-8 |d_pre_gelu|, so two roundings of the result.
TEST(Bf16Simt, MatmulGeluBackward) {
  const int N = 37, C = 45, OC = 29;
  auto dout = random_bf16((size_t)N * OC, 71), inp = random_bf16((size_t)N * C, 72),
       pre = random_bf16((size_t)N * C, 73, -3.0f, 3.0f), weight = random_bf16((size_t)OC * C, 74);
  auto d_pre = nan_bf16((size_t)N * C);
  auto dweight = testing::random_vector((size_t)OC * C, 75), dbias = testing::random_vector(OC, 76);
  std::vector<double> want_g((size_t)N * C), want_d((size_t)N * C), want_dweight = widen(dweight),
                      want_dbias = widen(dbias);
  matmul_gelu_backward(d_pre.data(), dweight.data(), dbias.data(), dout.x.data(), inp.x.data(),
                       pre.x.data(), weight.x.data(), N, C, OC, nullptr);
  matmul_backward_ref<double>(want_g.data(), want_dweight.data(), want_dbias.data(), dout.d.data(),
                              inp.d.data(), weight.d.data(), N, C, OC);
  gelu_backward_ref<double>(want_d.data(), pre.d.data(), want_g.data(), want_d.size());
  EXPECT_BF16_CLOSE(d_pre, want_d, 2, 1.13 * kSumAtol * OC);
  EXPECT_FLOAT_OUTPUT(dweight, want_dweight, N);
  EXPECT_FLOAT_OUTPUT(dbias, want_dbias, N);
}

// gemm and the GPU's fallback kernel write either D type; a bias needs a bf16 D.
TEST(Bf16Simt, GemmWritesFloatOrBf16) {
  const int m = 13, n = 7, k = 33;
  auto A = random_bf16((size_t)m * k, 81), B = random_bf16((size_t)k * n, 82);
  std::vector<double> want((size_t)m * n);
  for (int j = 0; j < n; j++)
    for (int i = 0; i < m; i++) {
      double acc = 0;
      for (int q = 0; q < k; q++) acc += A.d[i + (size_t)q * m] * B.d[q + (size_t)j * k];
      want[i + (size_t)j * m] = acc;
    }
  using Gemm = void (*)(const GemmInput&, const GemmInput&, const GemmOutput&, GemmShape, float,
                        float, const floatX*, cudaStream_t);
  for (Gemm fn : {Gemm(gemm), Gemm(gemm_simple)}) {
    auto d16 = nan_bf16((size_t)m * n);
    fn(GemmInput{A.x.data(), m, 0, false}, GemmInput{B.x.data(), k, 0, false},
       GemmOutput{d16.data(), m, 0}, {m, n, k}, 1.0f, 0.0f, nullptr, nullptr);
    EXPECT_BF16_CLOSE(d16, want, 1, kSumAtol * k);
    auto d32 = testing::random_vector((size_t)m * n, 83);  // beta 1: accumulate in float
    std::vector<double> want32 = widen(d32);
    for (size_t i = 0; i < want32.size(); i++) want32[i] += want[i];
    fn(GemmInput{A.x.data(), m, 0, false}, GemmInput{B.x.data(), k, 0, false},
       GemmOutput{d32.data(), m, 0}, {m, n, k}, 1.0f, 1.0f, nullptr, nullptr);
    EXPECT_FLOAT_OUTPUT(d32, want32, k);
    std::string msg = testing::error_of([&] {
      fn(GemmInput{A.x.data(), m, 0, false}, GemmInput{B.x.data(), k, 0, false},
         GemmOutput{d32.data(), m, 0}, {m, n, k}, 1.0f, 0.0f, A.x.data(), nullptr);
    });
    EXPECT_TRUE(testing::contains(msg, "needs D of the compute type")) << msg;
  }
}

// ---- attention ----

struct AttentionData {
  int B, T, C, NH;
  Bf16Array qkv, dout;
  std::vector<double> out, lse, dqkv;  // the double reference on the rounded inputs
  AttentionData(int B_, int T_, int C_, int NH_, uint64_t seed)
      : B(B_), T(T_), C(C_), NH(NH_), qkv(random_bf16((size_t)B_ * T_ * 3 * C_, seed)),
        dout(random_bf16((size_t)B_ * T_ * C_, seed + 1)),
        out((size_t)B_ * T_ * C_), lse((size_t)B_ * NH_ * T_), dqkv(qkv.d.size()) {
    attention_forward_ref<double>(out.data(), lse.data(), qkv.d.data(), B, T, C, NH);
    attention_backward_ref<double>(dqkv.data(), dout.d.data(), qkv.d.data(), out.data(),
                                   lse.data(), B, T, C, NH);
  }
};

// Each path against the reference, relative L2 over out and dqkv (backward reads the kernel's own
// forward outputs, as the model does), elementwise on the float lse. Bounds, from the roundings:
//   kSimt, kTensorCoresFp32: float inside, one rounding of each output: 2^-8 (and lse: float).
//   kTensorCores (the bf16 build's flash kernels: bf16 mma.sync m16n8k16, attention_bf16.cu): Q, K,
//     V, dO are exact in bf16 and products of two bf16 are exact in float, so S, dP and every
//     partial sum are float; what differs from kSimt is the rounding of P to bf16 before O = P V
//     (forward) and of P and dS before dV = P^T dO, dK = dS^T Q, dQ = dS K (backward). That
//     perturbs each term of those sums by at most 2^-8 relative, independently and with either
//     sign, so over the tensor they add in quadrature, within 2^-8 of the norm, on top
//     of the output's own rounding (2^-8): 2 x 2^-8 (measured: about 0.2 x 2^-8 more than kSimt).
//     lse = m + log l where l sums the rounded P (what P V multiplies), so l is off by a factor
//     1 + e with |e| <= 2^-8 and lse by |log(1 + e)| <= 2^-8 / (1 - 2^-8), plus float's error.
//   kMaterialized: the scores, probabilities, their gradient and dS are bf16 between the products
//     (each 2^-8 relative; a score's error |s| 2^-8 becomes the same relative error of exp(s)),
//     and the backward chains four such roundings: 4 x 2^-8; lse is the log-sum-exp of bf16
//     scores, off by at most max |s| 2^-8 (|s| <= hs / sqrt(hs) = sqrt(hs) <= 8 here): atol
//     sqrt(hs) 2^-8.
// Shapes: the head sizes of the tensor-core kernels by their padding (hs 8 and 24 end in a k step
// of 16 that is half zero padding; 16, 32 and 64, the widest, do not), each with a ragged last
// 64-row tile, the first over two sequences.
TEST(Bf16Simt, AttentionEveryPath) {
  struct Shape {
    int B, T, C, NH;
  };
  for (Shape shape : {Shape{2, 45, 48, 3}, Shape{1, 66, 16, 2}, Shape{1, 70, 48, 2},
                      Shape{1, 83, 64, 2}, Shape{1, 77, 128, 2}}) {
    const int hs = shape.C / shape.NH;
    SCOPED_TRACE(::testing::Message() << "B " << shape.B << " T " << shape.T << " hs " << hs);
    AttentionData p(shape.B, shape.T, shape.C, shape.NH, 91 + hs);
    struct Path {
      AttentionKernels kernels;
      double rel_l2, lse_atol;
    };
    for (Path path : {Path{AttentionKernels::kSimt, kBf16Rel, 4e-6 * p.T},
                      Path{AttentionKernels::kTensorCoresFp32, kBf16Rel, 4e-6 * p.T},
                      Path{AttentionKernels::kTensorCores, 2 * kBf16Rel,
                           kBf16Rel / (1 - kBf16Rel) + 4e-6 * p.T},
                      Path{AttentionKernels::kMaterialized, 4 * kBf16Rel,
                           std::sqrt(hs) * kBf16Rel}}) {
      SCOPED_TRACE(::testing::Message() << "kernels " << (int)path.kernels);
      auto out = nan_bf16(p.out.size());
      auto lse = nan_float(p.lse.size());
      auto dqkv = nan_bf16(p.dqkv.size());
      attention_forward(out.data(), lse.data(), p.qkv.x.data(), p.B, p.T, p.C, p.NH, nullptr,
                        path.kernels);
      attention_backward(dqkv.data(), p.dout.x.data(), p.qkv.x.data(), out.data(), lse.data(),
                         p.B, p.T, p.C, p.NH, nullptr, path.kernels);
      EXPECT_REL_L2_BELOW(to_float(out), narrow(p.out), path.rel_l2);
      EXPECT_REL_L2_BELOW(to_float(dqkv), narrow(p.dqkv), path.rel_l2);
      EXPECT_ALL_CLOSE(lse, narrow(p.lse), path.lse_atol, 0.0);
    }
  }
}

// The check the GPU runs on cuda_bf16_ops() (AttentionBf16Gpu, attention_gpu.cpp), here on the
// emulated bf16 table with the flash kernels preferred: the check itself is exercised in CI.
TEST(Bf16Simt, AttentionThroughTheOpsTableAsTheGpuChecksIt) {
  set_attention_preference(AttentionKernels::kTensorCores);
  testing::check_bf16_flash_attention(simt_bf16_ops(), 2, 45, 48, 3, 91);
  testing::check_bf16_flash_attention(simt_bf16_ops(), 1, 83, 64, 2, 94);
  testing::check_bf16_flash_attention(simt_bf16_ops(), 1, 300, 128, 2, 96);  // 3 blocks of 128
  set_attention_preference(AttentionKernels::kAuto);
}

// The KV cache is bf16: new keys and values are copied in exactly; out is float arithmetic over
// bf16 keys and values, rounded once.
TEST(Bf16Simt, AttentionDecodeWithBf16Cache) {
  const int N = 2, Tn = 3, C = 20, NH = 4, max_len = 40, S = 3, hs = C / NH;
  std::vector<int> slots{2, 0}, pos{0, 30};
  auto qkv = random_bf16((size_t)N * Tn * 3 * C, 101);
  size_t cache = (size_t)S * NH * max_len * hs;
  auto k_cache = random_bf16(cache, 102), v_cache = random_bf16(cache, 103);
  auto out = nan_bf16((size_t)N * Tn * C);
  std::vector<double> want((size_t)N * Tn * C);
  attention_decode(out.data(), k_cache.x.data(), v_cache.x.data(), qkv.x.data(), slots.data(),
                   pos.data(), N, Tn, C, NH, max_len, nullptr);
  attention_decode_ref<double>(want.data(), k_cache.d.data(), v_cache.d.data(), qkv.d.data(),
                               slots.data(), pos.data(), N, Tn, C, NH, max_len);
  EXPECT_EQ(to_float(k_cache.x), narrow(k_cache.d));
  EXPECT_EQ(to_float(v_cache.x), narrow(v_cache.d));
  EXPECT_BF16_CLOSE(out, want, 1, kSumAtol * max_len);
}

// ---- classifier, value head, sampling ----

// Logits bf16, losses and entropies float (float arithmetic over exact bf16 logits), and the
// gradient written over the logits in bf16: one rounding of w (p - onehot).
TEST(Bf16Simt, ClassifierWritesBf16Gradients) {
  const int N = 7, V = 101, Vp = 128;
  auto logits = random_bf16((size_t)N * Vp, 111, -3.0f, 3.0f);
  std::vector<int> targets = testing::random_tokens(N, V, 112);
  targets[3] = -1;  // an ignored row
  std::vector<float> weights = testing::random_vector(N, 113);
  std::vector<double> want = logits.d, want_losses(N), want_entropy(N);
  auto losses = nan_float(N), entropy = nan_float(N);
  classifier_forward_backward(logits.x.data(), losses.data(), entropy.data(), targets.data(),
                              weights.data(), N, V, Vp, true, nullptr);
  classifier_forward_backward_ref<double>(want.data(), want_losses.data(), want_entropy.data(),
                                          targets.data(), widen(weights).data(), N, V, Vp, true);
  EXPECT_FLOAT_OUTPUT(losses, want_losses, V);
  EXPECT_FLOAT_OUTPUT(entropy, want_entropy, V);
  EXPECT_BF16_CLOSE(logits.x, want, 1, kSumAtol);
}

TEST(Bf16Simt, ValueHeadForwardAndBackward) {
  const int N = 37, C = 75;
  auto h = random_bf16((size_t)N * C, 121), w = random_bf16(C, 122), b = random_bf16(1, 123);
  auto values = nan_float(N);
  std::vector<double> want_values(N);
  value_head_forward(values.data(), h.x.data(), w.x.data(), b.x.data(), N, C, nullptr);
  value_head_forward_ref<double>(want_values.data(), h.d.data(), w.d.data(), b.d.data(), N, C);
  EXPECT_FLOAT_OUTPUT(values, want_values, C);

  std::vector<float> dvalues = testing::random_vector(N, 124);
  auto dh = random_bf16((size_t)N * C, 125);
  auto dw = testing::random_vector(C, 126), db = testing::random_vector(1, 127);
  std::vector<double> want_dw = widen(dw), want_db = widen(db);
  value_head_backward(dh.x.data(), dw.data(), db.data(), dvalues.data(), h.x.data(), w.x.data(), N,
                      C, nullptr);
  value_head_backward_ref<double>(dh.d.data(), want_dw.data(), want_db.data(),
                                  widen(dvalues).data(), h.d.data(), w.d.data(), N, C);
  EXPECT_BF16_CLOSE(dh.x, dh.d, 1, kSumAtol);
  EXPECT_FLOAT_OUTPUT(dw, want_dw, N);
  EXPECT_FLOAT_OUTPUT(db, want_db, N);
}

// Draws from bf16 logits are the reference's draws from the same values (as floats), plain,
// top-k and top-p; the log-probabilities are float results of double sums. bf16 logits tie often
// (8 bits of mantissa), so the sorted order's id tie-break is exercised too.
TEST(Bf16Simt, SampleTokensFromBf16Logits) {
  const int N = 9, n_draw = 90, V = 101, Vp = 128;
  auto logits = random_bf16((size_t)N * Vp, 131, -4.0f, 4.0f);
  std::vector<float> logits_f = to_float(logits.x);
  std::vector<double> uniforms(N);
  for (int i = 0; i < N; i++) uniforms[i] = (i + 0.37) / N;
  struct Rule {
    float temperature;
    int top_k;
    float top_p;
  };
  for (Rule rule : {Rule{0.0f, 0, 1.0f}, Rule{0.7f, 0, 1.0f}, Rule{1.0f, 0, 1.0f},
                    Rule{1.0f, 10, 1.0f}, Rule{0.7f, 0, 0.9f}, Rule{1.0f, 20, 0.8f}}) {
    std::vector<int> ids(N, -1), want_ids(N, -1);
    auto logprobs = nan_float(N), want_logprobs = nan_float(N);
    sample_tokens(ids.data(), logprobs.data(), logits.x.data(), uniforms.data(), N, n_draw, V, Vp,
                  rule.temperature, rule.top_k, rule.top_p, nullptr);
    sample_tokens_ref(want_ids.data(), want_logprobs.data(), logits_f.data(), uniforms.data(), N,
                      n_draw, V, Vp, rule.temperature, rule.top_k, rule.top_p);
    SCOPED_TRACE("temperature " + std::to_string(rule.temperature) + ", top_k " +
                 std::to_string(rule.top_k) + ", top_p " + std::to_string(rule.top_p));
    EXPECT_EQ(ids, want_ids);
    EXPECT_ALL_CLOSE(logprobs, want_logprobs, testing::kF32Atol * 4, testing::kF32Rtol * 4);
  }
}

// ---- the optimizer ----

// The launcher over whole arrays as one tensor (AdamW's list of one).
void adamw_whole_launch(float* params, const float* grads, float* m, float* v, floatX* copy,
                        size_t n, float lr, float beta1, float beta2, float eps, float weight_decay,
                        float grad_scale, int t, uint32_t seed) {
  AdamWTensor whole = adamw_whole_arrays(n);
  adamw_update(params, grads, m, v, copy, &whole, 1,
               testing::adamw_step_of(lr, beta1, beta2, eps, weight_decay, grad_scale, t, seed),
               nullptr, nullptr);
}

TEST(Bf16Simt, SumSquaresOfFloatGradients) {
  std::vector<float> g = testing::random_vector(5001, 141);
  double want = sum_of_squares_ref<double>(widen(g).data(), g.size());
  double got = 0.0;
  sum_squares(&got, g.data(), g.size(), nullptr);
  EXPECT_NEAR(got, want, 1e-9 * want);
}

// Master weights, moments: float, as the reference. The compute copy is one of the two bf16
// values around the new master weight (the truncation or the next one away from zero).
TEST(Bf16Simt, AdamwUpdatesFloatMastersAndABf16Copy) {
  const size_t n = 1037;
  auto params = testing::random_vector(n, 151), grads = testing::random_vector(n, 152);
  auto m = testing::random_vector(n, 153), v = testing::random_vector(n, 154, 0.01f, 1.0f);
  std::vector<double> want_p = widen(params), want_m = widen(m), want_v = widen(v);
  auto copy = nan_bf16(n);
  adamw_whole_launch(params.data(), grads.data(), m.data(), v.data(), copy.data(), n, 1e-2f, 0.9f,
                     0.95f, 1e-8f, 0.1f, 0.5f, 3, 7u);
  adamw_range_ref<double>(want_p.data(), widen(grads).data(), want_m.data(), want_v.data(),
                          (double*)nullptr, n, 1e-2f, 0.9f, 0.95f, 1e-8f, 0.1f, 0.5f, 3);
  EXPECT_FLOAT_OUTPUT(params, want_p, 8);
  EXPECT_FLOAT_OUTPUT(m, want_m, 4);
  EXPECT_FLOAT_OUTPUT(v, want_v, 4);
  for (size_t i = 0; i < n; i++) {
    uint32_t u;
    std::memcpy(&u, &params[i], 4);
    uint16_t down = (uint16_t)(u >> 16), up = (uint16_t)(down + ((u & 0xffffu) != 0));
    ASSERT_TRUE(copy[i].bits == down || copy[i].bits == up)
        << "at " << i << ": " << params[i] << " -> " << (float)copy[i];
  }
  // Null params_compute: only the masters change.
  adamw_whole_launch(params.data(), grads.data(), m.data(), v.data(), nullptr, n, 1e-2f, 0.9f,
                     0.95f, 1e-8f, 0.1f, 0.5f, 4, 7u);
}

// Copies of one master weight (lr 0 leaves it as it is) rounded stochastically, one per element
// index: `n` independent draws of the lower or upper bf16 neighbour.
std::vector<bf16> rounded_copies(float value, size_t n, uint32_t seed) {
  std::vector<float> params(n, value), grads(n, 0.5f), m(n, 0.0f), v(n, 1.0f);
  std::vector<bf16> copy = nan_bf16(n);
  adamw_whole_launch(params.data(), grads.data(), m.data(), v.data(), copy.data(), n, 0.0f, 0.9f,
                     0.95f, 1e-8f, 0.0f, 1.0f, 1, seed);
  return copy;
}

// Unbiased: for values 10%, 50% and 90% of the way from one bf16 to the next (both signs), the
// mean of n copies is within 4 standard errors of the value, the standard error of a draw being
// ulp sqrt(f (1 - f)) / sqrt(n). Round to nearest would be off by f or 1 - f ulps every time.
TEST(Bf16Simt, AdamwStochasticRoundingIsUnbiased) {
  const size_t n = 200000;
  for (float base : {1.0f, -0.3f, 1234.5f})
    for (double f : {0.1, 0.5, 0.9}) {
      float lo = (float)bf16(base);  // a bf16 value
      uint32_t u;
      std::memcpy(&u, &lo, 4);
      u += 0x10000u;  // the next bf16 away from zero
      float hi;
      std::memcpy(&hi, &u, 4);
      float value = (float)(lo + f * ((double)hi - lo));
      std::vector<bf16> copy = rounded_copies(value, n, 2024);
      double sum = 0;
      for (bf16 c : copy) {
        float x = (float)c;
        ASSERT_TRUE(x == lo || x == hi) << x;
        sum += x;
      }
      double ulp = std::fabs((double)hi - lo);
      double se = ulp * std::sqrt(f * (1 - f) / n);
      EXPECT_NEAR(sum / n, value, 4 * se) << "value " << value << " (" << f << " of an ulp)";
    }
}

TEST(Bf16Simt, AdamwStochasticRoundingDependsOnTheSeedOnly) {
  const size_t n = 4096;
  const float value = 1.0f + 0.5f / 128;  // halfway between two bf16s
  std::vector<float> a = to_float(rounded_copies(value, n, 5)), b = to_float(rounded_copies(value, n, 5));
  std::vector<float> c = to_float(rounded_copies(value, n, 6));
  EXPECT_EQ(a, b) << "a fixed seed gives the same roundings";
  size_t differ = 0;
  for (size_t i = 0; i < n; i++) differ += a[i] != c[i];
  // Independent fair draws differ at about half the indices.
  EXPECT_GT(differ, n / 3) << "another seed gives other roundings";
  EXPECT_LT(differ, 2 * n / 3);
  // NaN stays NaN (adding to its bits could have made an Inf).
  std::vector<bf16> nan_copy = rounded_copies(std::numeric_limits<float>::quiet_NaN(), 3, 5);
  for (bf16 x : nan_copy) EXPECT_TRUE(std::isnan((float)x));
}

// The fp32 emulated table copies the master weights into params_compute unchanged.
TEST(Bf16Simt, Fp32TableCopiesTheMasterWeights) {
  const Ops& ops = simt_ops();
  const size_t n = 257;
  std::vector<float> params = testing::random_vector(n, 161), grads = testing::random_vector(n, 162);
  std::vector<float> m(n, 0.0f), v(n, 0.0f), copy = nan_float(n);
  float* dev = (float*)ops.alloc(6 * n * sizeof(float));
  ops.from_host(dev, params.data(), n * sizeof(float));
  ops.from_host(dev + n, grads.data(), n * sizeof(float));
  ops.from_host(dev + 2 * n, m.data(), n * sizeof(float));
  ops.from_host(dev + 3 * n, v.data(), n * sizeof(float));
  testing::adamw_whole(ops, dev, dev + n, dev + 2 * n, dev + 3 * n, dev + 4 * n, n, 1e-2f, 0.9f,
                       0.95f, 1e-8f, 0.1f, 1.0f, 1, 9u);
  ops.to_host(params.data(), dev, n * sizeof(float));
  ops.to_host(copy.data(), dev + 4 * n, n * sizeof(float));
  ops.free(dev);
  EXPECT_EQ(copy, params);
}

}  // namespace
}  // namespace chamber::cuda_emulated_bf16
