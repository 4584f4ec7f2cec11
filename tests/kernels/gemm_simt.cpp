// The GPU backend's matrix multiply in the emulated build: gemm (the reference loops standing in
// for cuBLASLt) and gemm_simple (the kernel the GPU falls back to when cuBLASLt has no algorithm)
// against a double-precision product, for every transpose combination, strided batches, padded
// leading dimensions, alpha, beta = 0 over NaN-poisoned output and beta = 1 accumulation, bias.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "kernels/cuda_launchers.h"
#include "tests/test_util.h"

namespace chamber::cuda_emulated {
namespace {

struct GemmCase {
  bool trans_a, trans_b;
  int m, n, k, batch;
  float alpha, beta;
  bool bias;
};

using GemmFn = void (*)(const GemmInput&, const GemmInput&, const GemmOutput&, GemmShape, float,
                        float, const floatX*, cudaStream_t);

void check(GemmFn fn, const GemmCase& g, uint64_t seed) {
  // Leading dimensions padded by 3 beyond the stored rows; batches one matrix apart plus 5.
  int rows_a = g.trans_a ? g.k : g.m, cols_a = g.trans_a ? g.m : g.k;
  int rows_b = g.trans_b ? g.n : g.k, cols_b = g.trans_b ? g.k : g.n;
  int lda = rows_a + 3, ldb = rows_b + 3, ldd = g.m + 3;
  long long sa = (long long)lda * cols_a + 5, sb = (long long)ldb * cols_b + 5, sd = (long long)ldd * g.n + 5;
  auto A = testing::random_vector(sa * g.batch, seed), B = testing::random_vector(sb * g.batch, seed + 1);
  auto bias = testing::random_vector(g.m, seed + 2);
  std::vector<float> D = g.beta != 0.0f ? testing::random_vector(sd * g.batch, seed + 3)
                                        : std::vector<float>(sd * g.batch, NAN);
  std::vector<float> want = D;
  for (int p = 0; p < g.batch; p++)
    for (int j = 0; j < g.n; j++)
      for (int i = 0; i < g.m; i++) {
        double acc = 0;
        for (int q = 0; q < g.k; q++) {
          double a = g.trans_a ? A[p * sa + q + (size_t)i * lda] : A[p * sa + i + (size_t)q * lda];
          double b = g.trans_b ? B[p * sb + j + (size_t)q * ldb] : B[p * sb + q + (size_t)j * ldb];
          acc += a * b;
        }
        double prior = g.beta != 0.0f ? g.beta * (double)D[p * sd + (size_t)j * ldd + i] : 0.0;
        double value = g.alpha * acc + prior + (g.bias ? bias[i] : 0.0);
        want[p * sd + (size_t)j * ldd + i] = (float)value;
      }
  fn(GemmInput{A.data(), lda, sa, g.trans_a}, GemmInput{B.data(), ldb, sb, g.trans_b},
     GemmOutput{D.data(), ldd, sd}, GemmShape{g.m, g.n, g.k, g.batch}, g.alpha, g.beta,
     g.bias ? bias.data() : nullptr, nullptr);
  // Padding between columns and batches must stay as it was (NaN stays NaN): compare only D.
  std::vector<float> got_d, want_d;
  for (int p = 0; p < g.batch; p++)
    for (int j = 0; j < g.n; j++)
      for (int i = 0; i < g.m; i++) {
        got_d.push_back(D[p * sd + (size_t)j * ldd + i]);
        want_d.push_back(want[p * sd + (size_t)j * ldd + i]);
      }
  // k-term float sums against double.
  EXPECT_ALL_CLOSE(got_d, want_d, testing::kF32Atol * 4 * g.k, testing::kF32Rtol * 4 * g.k);
  for (int p = 0; p + 1 < g.batch; p++)  // the 5 elements between batches are never written
    EXPECT_EQ(std::isnan(D[p * sd + sd - 1]), g.beta == 0.0f);
}

const GemmCase kCases[] = {
    {false, false, 37, 45, 19, 1, 1.0f, 0.0f, true},  {true, false, 37, 45, 19, 1, 0.5f, 0.0f, false},
    {false, true, 37, 45, 19, 3, 1.0f, 1.0f, false},  {true, true, 13, 7, 33, 3, -2.0f, 1.0f, false},
};

TEST(GemmSimt, ReferenceLoopsMatchDoubleProduct) {
  uint64_t seed = 200;
  for (const GemmCase& g : kCases) check(gemm, g, seed += 10);
}

TEST(GemmSimt, FallbackKernelMatchesDoubleProduct) {
  uint64_t seed = 300;
  for (const GemmCase& g : kCases) check(gemm_simple, g, seed += 10);
}

// gemm_gelu is one product (its shape's batch must be 1), like gemm with a bias epilogue.
TEST(GemmSimt, EpiloguesTakeOneProduct) {
  std::vector<float> A(16, 1.0f), B(16, 1.0f), D(16), pre(16), bias(4, 0.0f);
  GemmInput a{A.data(), 4, 8, false}, b{B.data(), 4, 8, false};
  GemmOutput d{D.data(), 4, 8};
  std::string msg = testing::error_of([&] { gemm_gelu(a, b, d, pre.data(), {2, 2, 2, 2}, nullptr, nullptr); });
  EXPECT_TRUE(testing::contains(msg, "gemm_gelu: one product only (got batch 2)")) << msg;
  msg = testing::error_of([&] { gemm(a, b, d, {2, 2, 2, 2}, 1.0f, 0.0f, bias.data(), nullptr); });
  EXPECT_TRUE(testing::contains(msg, "gemm: a bias epilogue needs batch == 1 (got 2)")) << msg;
}

// gemm_bias_grad as matmul_backward uses it (dweight^T += X G^T with dout = G^T's rows): D as gemm
// with beta 1, and the bias gradient (over NaN: the epilogue overwrites) the column sums of dout.
TEST(GemmSimt, BiasGradientEpilogueSumsTheColumnsOfOpB) {
  const int N = 29, C = 11, OC = 7;
  auto x = testing::random_vector((size_t)N * C, 400), dout = testing::random_vector((size_t)N * OC, 401);
  auto dw = testing::random_vector((size_t)OC * C, 402);
  std::vector<float> want_dw = dw, db(OC, NAN), want_db(OC);
  for (int o = 0; o < OC; o++) {
    double bias_sum = 0;
    for (int i = 0; i < N; i++) bias_sum += dout[(size_t)i * OC + o];
    want_db[o] = (float)bias_sum;
    for (int c = 0; c < C; c++) {
      double acc = 0;
      for (int i = 0; i < N; i++) acc += (double)dout[(size_t)i * OC + o] * x[(size_t)i * C + c];
      want_dw[(size_t)o * C + c] += (float)acc;
    }
  }
  gemm_bias_grad(GemmInput{x.data(), C, 0, false}, GemmInput{dout.data(), OC, 0, true},
                 GemmOutput{dw.data(), C, 0}, db.data(), GemmShape{C, OC, N}, 1.0f, 1.0f, nullptr);
  EXPECT_ALL_CLOSE(dw, want_dw, testing::kF32Atol * 4 * N, testing::kF32Rtol * 4 * N);
  EXPECT_ALL_CLOSE(db, want_db, testing::kF32Atol * 4 * N, testing::kF32Rtol * 4 * N);

  // op(B) must be dout's packed row-major layout, and one product.
  std::string msg = testing::error_of([&] {
    gemm_bias_grad(GemmInput{x.data(), C, 0, false}, GemmInput{dout.data(), OC + 1, 0, true},
                   GemmOutput{dw.data(), C, 0}, db.data(), GemmShape{C, OC, N}, 1.0f, 1.0f, nullptr);
  });
  EXPECT_TRUE(testing::contains(msg, "op(B) must be a packed row-major (k, n) matrix")) << msg;
  msg = testing::error_of([&] {
    gemm_bias_grad(GemmInput{x.data(), C, 0, false}, GemmInput{dout.data(), OC, 0, true},
                   GemmOutput{dw.data(), C, 0}, db.data(), GemmShape{C, OC, N, 2}, 1.0f, 1.0f, nullptr);
  });
  EXPECT_TRUE(testing::contains(msg, "gemm_bias_grad: one product only (got batch 2)")) << msg;
}

}  // namespace
}  // namespace chamber::cuda_emulated
