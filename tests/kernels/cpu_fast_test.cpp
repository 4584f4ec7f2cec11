// The fast CPU backend (kernels/cpu_fast.h) against the reference kernels run in double: every op,
// through the cpu_fast_ops() table, on random oddly sized inputs (sizes not multiples of 8 or of
// the kernels' blocks, and large enough to take the threaded paths). Accumulated gradient buffers
// start with random values, not zeros, and the double reference accumulates onto the same values,
// so an op that overwrites instead of accumulating fails; overwritten ones (the input gradients
// of matmul, attention and GELU) start as NaN, so an op that reads or adds to them fails. Then: the table's special cases (null
// bias/gradients, ignored classifier rows, padding, zeros above the attention diagonal), the
// vector exp's error bound, and determinism across runs and thread counts.
//
// Tolerances: the float result against the double reference rounded to float, with the plain
// float tolerances kF32Atol/kF32Rtol (1e-6 absolute + 1e-5 relative, about 80 ulps), the same as
// the float reference meets (tests/kernels/reference_test.cpp), except for the absolute floor of
// the matmul: an output summing K products of O(1) values rounds K times at partial sums of size
// up to ~sqrt(K), so where terms cancel to a result near 0 the error is ~K * 2^-24 absolute
// whatever the summation order (the float reference shows the same); the matmul floor is
// K * 2^-23 (1.6e-5 at K = 131). The vector exp is within 1 ulp (checked below), and no other op
// needs slack.
#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "kernels/adamw.h"
#include "kernels/attention.h"
#include "kernels/classifier.h"
#include "kernels/cpu_fast.h"
#include "kernels/cpu_table.h"
#include "kernels/cpu_fast_simd.h"
#include "kernels/gelu.h"
#include "kernels/layernorm.h"
#include "kernels/matmul.h"
#include "kernels/residual.h"
#include "tests/kernels/kernel_checks.h"
#include "tests/kernels/optimizer_calls.h"
#include "tests/test_util.h"

namespace chamber {
namespace {

using testing::kF32Atol;
using testing::kF32Rtol;
using testing::random_vector;
using testing::to_double;
using testing::to_float;
using Vec = std::vector<double>;
using VecF = std::vector<float>;

#define EXPECT_FLOAT_MATCHES_DOUBLE(got_float, want_double) \
  EXPECT_ALL_CLOSE((got_float), to_float(want_double), kF32Atol, kF32Rtol)
// The absolute floor for a sum of K O(1) products (see the top of the file).
double sum_atol(int K) { return K * std::ldexp(1.0, -23); }
#define EXPECT_SUM_MATCHES_DOUBLE(got_float, want_double, K) \
  EXPECT_ALL_CLOSE((got_float), to_float(want_double), sum_atol(K), kF32Rtol)

const Ops& fast() { return cpu_fast_ops(); }

TEST(CpuFastOps, TableIsFilledAndNamed) {
  const Ops& ops = fast();
  EXPECT_STREQ(ops.name, "cpu");
  testing::expect_ops_filled(ops);
  EXPECT_EQ(ops.compute_bytes, sizeof(float));
  // The fast kernels, reached through the table's forwarding entries (kernels/cpu_table.h).
  using MatmulSlot = decltype(ops.matmul_forward);
  using AdamwSlot = decltype(ops.adamw_update);
  MatmulSlot fast_matmul = cpu_table_entry<MatmulSlot, matmul_forward_fast>();
  AdamwSlot fast_adamw = cpu_table_entry<AdamwSlot, adamw_update_fast>();
  EXPECT_EQ(ops.matmul_forward, fast_matmul);
  EXPECT_EQ(ops.adamw_update, fast_adamw);
}

TEST(CpuFastOps, ThreadedZeroAndCopy) {
  const Ops& ops = fast();
  const size_t n = (3 << 20) / 4 + 13;  // above the threaded size, not a whole number of chunks
  VecF src = random_vector(n, 1), dst(n, 0.f);
  ops.copy(dst.data(), src.data(), n * sizeof(float));
  EXPECT_EQ(0, std::memcmp(dst.data(), src.data(), n * sizeof(float)));
  ops.zero(dst.data(), n * sizeof(float));
  for (size_t i = 0; i < n; i++) ASSERT_EQ(dst[i], 0.f) << i;
}

TEST(CpuFastVsReference, Matmul) {
  const int N = 37, C = 83, OC = 131;
  VecF inp = random_vector(N * C, 1), weight = random_vector(OC * C, 2), bias = random_vector(OC, 3),
       dout = random_vector(N * OC, 4);
  VecF dinp0(N * C, NAN), dweight0 = random_vector(OC * C, 6), dbias0 = random_vector(OC, 7);
  VecF out(N * OC), out_nobias(N * OC), dinp = dinp0, dweight = dweight0, dbias = dbias0;
  fast().matmul_forward(out.data(), inp.data(), weight.data(), bias.data(), N, C, OC);
  fast().matmul_forward(out_nobias.data(), inp.data(), weight.data(), nullptr, N, C, OC);
  fast().matmul_backward(dinp.data(), dweight.data(), dbias.data(), dout.data(), inp.data(),
                         weight.data(), N, C, OC);
  Vec out_d(N * OC), out_nobias_d(N * OC), dinp_d = to_double(dinp0),
      dweight_d = to_double(dweight0), dbias_d = to_double(dbias0);
  matmul_forward_ref(out_d.data(), to_double(inp).data(), to_double(weight).data(),
                     to_double(bias).data(), N, C, OC);
  matmul_forward_ref<double>(out_nobias_d.data(), to_double(inp).data(), to_double(weight).data(),
                             nullptr, N, C, OC);
  matmul_backward_ref(dinp_d.data(), dweight_d.data(), dbias_d.data(), to_double(dout).data(),
                      to_double(inp).data(), to_double(weight).data(), N, C, OC);
  EXPECT_SUM_MATCHES_DOUBLE(out, out_d, C);
  EXPECT_SUM_MATCHES_DOUBLE(out_nobias, out_nobias_d, C);
  EXPECT_SUM_MATCHES_DOUBLE(dinp, dinp_d, OC);
  EXPECT_SUM_MATCHES_DOUBLE(dweight, dweight_d, N);
  EXPECT_SUM_MATCHES_DOUBLE(dbias, dbias_d, N);

  // Null gradients are skipped and leave the others as they were computed.
  VecF dinp_only = dinp0, dbias_only = dbias0;
  fast().matmul_backward(dinp_only.data(), nullptr, nullptr, dout.data(), inp.data(), weight.data(), N, C, OC);
  fast().matmul_backward(nullptr, nullptr, dbias_only.data(), dout.data(), inp.data(), weight.data(), N, C, OC);
  EXPECT_EQ(0, std::memcmp(dinp_only.data(), dinp.data(), dinp.size() * sizeof(float)));
  EXPECT_EQ(0, std::memcmp(dbias_only.data(), dbias.data(), dbias.size() * sizeof(float)));
}

TEST(CpuFastVsReference, Attention) {
  // T = 75 is two whole 32-row blocks and a ragged one; hs = 16.
  const int B = 2, T = 75, C = 48, NH = 3;
  VecF qkv = random_vector(B * T * 3 * C, 1, -2.f, 2.f), dout = random_vector(B * T * C, 2);
  VecF dqkv0(qkv.size(), NAN);  // overwritten
  // lse starts as garbage: the op must write every entry.
  VecF out(B * T * C), lse(B * NH * T, 7.f), dqkv = dqkv0;
  fast().attention_forward(out.data(), lse.data(), qkv.data(), B, T, C, NH);
  fast().attention_backward(dqkv.data(), dout.data(), qkv.data(), out.data(), lse.data(), B, T, C, NH);
  Vec out_d(out.size()), lse_d(lse.size()), dqkv_d = to_double(dqkv0);
  attention_forward_ref(out_d.data(), lse_d.data(), to_double(qkv).data(), B, T, C, NH);
  attention_backward_ref(dqkv_d.data(), to_double(dout).data(), to_double(qkv).data(),
                         out_d.data(), lse_d.data(), B, T, C, NH);
  EXPECT_FLOAT_MATCHES_DOUBLE(lse, lse_d);
  EXPECT_FLOAT_MATCHES_DOUBLE(out, out_d);
  EXPECT_FLOAT_MATCHES_DOUBLE(dqkv, dqkv_d);
}

TEST(CpuFastVsReference, LayerNorm) {
  const int N = 170, C = 203;  // N*C above the threaded size; C not a multiple of 8 or of 64
  VecF inp = random_vector(N * C, 1, -3.f, 5.f), w = random_vector(C, 2), b = random_vector(C, 3),
       dout = random_vector(N * C, 4);
  VecF dinp0 = random_vector(N * C, 5), dw0 = random_vector(C, 6), db0 = random_vector(C, 7);
  VecF out(N * C), mean(N), rstd(N), dinp = dinp0, dw = dw0, db = db0;
  fast().layernorm_forward(out.data(), mean.data(), rstd.data(), inp.data(), w.data(), b.data(), N, C);
  fast().layernorm_backward(dinp.data(), dw.data(), db.data(), dout.data(), inp.data(), w.data(),
                            mean.data(), rstd.data(), N, C);
  Vec out_d(N * C), mean_d(N), rstd_d(N), dinp_d = to_double(dinp0), dw_d = to_double(dw0), db_d = to_double(db0);
  layernorm_forward_ref(out_d.data(), mean_d.data(), rstd_d.data(), to_double(inp).data(),
                        to_double(w).data(), to_double(b).data(), N, C);
  layernorm_backward_ref(dinp_d.data(), dw_d.data(), db_d.data(), to_double(dout).data(),
                         to_double(inp).data(), to_double(w).data(), mean_d.data(), rstd_d.data(), N, C);
  EXPECT_FLOAT_MATCHES_DOUBLE(out, out_d);
  EXPECT_FLOAT_MATCHES_DOUBLE(mean, mean_d);
  EXPECT_FLOAT_MATCHES_DOUBLE(rstd, rstd_d);
  EXPECT_FLOAT_MATCHES_DOUBLE(dinp, dinp_d);
  EXPECT_FLOAT_MATCHES_DOUBLE(dw, dw_d);
  EXPECT_FLOAT_MATCHES_DOUBLE(db, db_d);
}

TEST(CpuFastVsReference, GeluAndResidual) {
  for (size_t n : {size_t(13), size_t(1001), size_t(70001)}) {  // tail only; serial; threaded
    // GELU over [-12, 12] covers both saturated ends (where 1 + tanh cancels).
    VecF x = random_vector(n, 1, -12.f, 12.f), y = random_vector(n, 2), dy = random_vector(n, 3);
    VecF dx0(n, NAN), da0 = random_vector(n, 5), db0 = random_vector(n, 6);  // dx overwritten
    VecF g(n), dx = dx0, r(n), da = da0, db = db0;
    fast().gelu_forward(g.data(), x.data(), n);
    fast().gelu_backward(dx.data(), x.data(), dy.data(), n);
    fast().residual_forward(r.data(), x.data(), y.data(), n);
    fast().residual_backward(da.data(), db.data(), dy.data(), n);
    Vec g_d(n), dx_d = to_double(dx0), r_d(n), da_d = to_double(da0), db_d = to_double(db0);
    gelu_forward_ref(g_d.data(), to_double(x).data(), n);
    gelu_backward_ref(dx_d.data(), to_double(x).data(), to_double(dy).data(), n);
    residual_forward_ref(r_d.data(), to_double(x).data(), to_double(y).data(), n);
    residual_backward_ref(da_d.data(), db_d.data(), to_double(dy).data(), n);
    EXPECT_FLOAT_MATCHES_DOUBLE(g, g_d) << "n = " << n;
    EXPECT_FLOAT_MATCHES_DOUBLE(dx, dx_d) << "n = " << n;
    EXPECT_FLOAT_MATCHES_DOUBLE(r, r_d) << "n = " << n;
    EXPECT_FLOAT_MATCHES_DOUBLE(da, da_d) << "n = " << n;
    EXPECT_FLOAT_MATCHES_DOUBLE(db, db_d) << "n = " << n;
  }
}

TEST(CpuFastVsReference, Classifier) {
  const int N = 13, V = 1001, Vp = 1024;
  VecF logits = random_vector(N * Vp, 1, -8.f, 8.f), weights = random_vector(N, 2);  // both signs
  std::vector<int> targets = testing::random_tokens(N, V, 3);
  targets[5] = -1;
  targets[7] = V - 1;  // the last real column, in the ragged tail of the vectors
  VecF grad = logits, losses(N), entropy(N);
  fast().classifier_forward_backward(grad.data(), losses.data(), entropy.data(), targets.data(),
                                     weights.data(), N, V, Vp, true);
  Vec grad_d = to_double(logits), losses_d(N), entropy_d(N);
  classifier_forward_backward_ref(grad_d.data(), losses_d.data(), entropy_d.data(), targets.data(),
                                  to_double(weights).data(), N, V, Vp, true);
  EXPECT_FLOAT_MATCHES_DOUBLE(losses, losses_d);
  EXPECT_FLOAT_MATCHES_DOUBLE(entropy, entropy_d);
  EXPECT_FLOAT_MATCHES_DOUBLE(grad, grad_d);
  for (int i = 0; i < N; i++)
    for (int j = V; j < Vp; j++) ASSERT_EQ(grad[(size_t)i * Vp + j], 0.f) << "padding (" << i << ", " << j << ")";
  for (int j = 0; j < Vp; j++) ASSERT_EQ(grad[5 * Vp + j], 0.f) << "ignored row, column " << j;
  EXPECT_EQ(losses[5], 0.f);
  EXPECT_EQ(entropy[5], 0.f);

  // Without gradients the logits are untouched and entropy may be null.
  VecF untouched = logits, losses2(N);
  fast().classifier_forward_backward(untouched.data(), losses2.data(), nullptr, targets.data(),
                                     nullptr, N, V, Vp, false);
  EXPECT_EQ(0, std::memcmp(untouched.data(), logits.data(), logits.size() * sizeof(float)));
  EXPECT_EQ(0, std::memcmp(losses2.data(), losses.data(), N * sizeof(float)));

  // Huge logits: the max shift keeps exp finite.
  VecF big = {1000.f, 999.f, -1000.f, 0.f, 0.f, 0.f, 0.f, 0.f}, big_loss(1);
  int target = 1;
  fast().classifier_forward_backward(big.data(), big_loss.data(), nullptr, &target, nullptr, 1, 3, 8, false);
  EXPECT_NEAR(big_loss[0], std::log1p(std::exp(-1.0)) + 1.0, 1e-5);
}

TEST(CpuFastVsReference, AdamWAndSumSquares) {
  const size_t n = 40001;  // threaded, ragged last vector
  VecF params = random_vector(n, 1), m = random_vector(n, 2, 0.f, 0.1f), v = random_vector(n, 3, 0.f, 0.01f);
  Vec params_d = to_double(params), m_d = to_double(m), v_d = to_double(v);
  VecF copy(n, NAN);
  for (int t = 1; t <= 3; t++) {
    VecF grads = random_vector(n, 10 + t);
    testing::adamw_whole(fast(), params.data(), grads.data(), m.data(), v.data(), copy.data(), n,
                         1e-2f, 0.9f, 0.95f, 1e-8f, 0.1f, 0.5f, t, 7);
    adamw_range_ref(params_d.data(), to_double(grads).data(), m_d.data(), v_d.data(),
                    (double*)nullptr, n, 1e-2f, 0.9f, 0.95f, 1e-8f, 0.1f, 0.5f, t);
    EXPECT_EQ(copy, params);  // the compute copy is float here: exactly the master weights
  }
  EXPECT_FLOAT_MATCHES_DOUBLE(params, params_d);
  EXPECT_FLOAT_MATCHES_DOUBLE(m, m_d);
  EXPECT_FLOAT_MATCHES_DOUBLE(v, v_d);

  for (size_t len : {size_t(0), size_t(7), size_t(100003), size_t(20000003)}) {  // 20M: > 1024 chunks of the minimum size
    // The double sums of both sides differ by rounding of order sqrt(n) ulps of double.
    VecF g = random_vector(len, 20);
    long double want = 0.0L;
    for (float x : g) want += (long double)x * x;
    EXPECT_NEAR(testing::sum_squares_on(fast(), g.data(), len), (double)want, 1e-12 * ((double)want + 1.0)) << "n = " << len;
  }
}

TEST(CpuFastSimd, ExpWithinOneUlp) {
  // x from -87 to 88 in steps of about 1e-3, against exp in double.
  double worst = 0.0;
  float worst_x = 0.f;
  for (float x = -87.0f; x < 88.0f; x = std::nextafter(x + 1e-3f, 100.f)) {
    float got = simd::exp1(x);
    double want = std::exp((double)x);
    double rel = std::fabs(got - want) / want;
    if (rel > worst) worst = rel, worst_x = x;
  }
  // One ulp of a float is at most 2^-23 = 1.19e-7 relative (measured worst: 7.6e-8).
  EXPECT_LT(worst, std::ldexp(1.0, -23)) << "at x = " << worst_x;
  EXPECT_EQ(simd::exp1(0.f), 1.f);
  EXPECT_EQ(simd::exp1(-100.f), 0.f);
  EXPECT_EQ(simd::exp1(-INFINITY), 0.f);
  EXPECT_TRUE(std::isnan(simd::exp1(std::numeric_limits<float>::quiet_NaN())));
}

// ---- determinism ---------------------------------------------------------------------------------

// Every fast op on inputs large enough that OpenBLAS threads the matmuls.
std::vector<VecF> run_all_ops() {
  const Ops& ops = fast();
  const int B = 2, T = 71, C = 96, NH = 4, N = B * T, OC = 290, V = 517, Vp = 576;
  VecF inp = random_vector(N * C, 2), weight = random_vector(OC * C, 3), bias = random_vector(OC, 4),
       dy = random_vector(N * OC, 5), dout = random_vector(N * C, 6), qkv = random_vector(N * 3 * C, 7),
       lw = random_vector(C, 8), big = random_vector(300007, 9), logits = random_vector(N * Vp, 10, -5.f, 5.f);
  std::vector<int> targets = testing::random_tokens(N, V, 11);
  VecF tw = random_vector(N, 12);
  VecF out(N * OC), dinp(N * C, 0.f), dweight(OC * C, 0.f), dbias(OC, 0.f);
  ops.matmul_forward(out.data(), inp.data(), weight.data(), bias.data(), N, C, OC);
  ops.matmul_backward(dinp.data(), dweight.data(), dbias.data(), dy.data(), inp.data(), weight.data(), N, C, OC);
  VecF ln(N * C), mean(N), rstd(N), ldinp(N * C, 0.f), ldw(C, 0.f), ldb(C, 0.f);
  ops.layernorm_forward(ln.data(), mean.data(), rstd.data(), inp.data(), lw.data(), lw.data(), N, C);
  ops.layernorm_backward(ldinp.data(), ldw.data(), ldb.data(), dout.data(), inp.data(), lw.data(),
                         mean.data(), rstd.data(), N, C);
  VecF att_out(N * C), lse(B * NH * T), dqkv(qkv.size(), 0.f);
  ops.attention_forward(att_out.data(), lse.data(), qkv.data(), B, T, C, NH);
  ops.attention_backward(dqkv.data(), dout.data(), qkv.data(), att_out.data(), lse.data(), B, T, C, NH);
  VecF g(big.size()), dg(big.size(), 0.f);
  ops.gelu_forward(g.data(), big.data(), big.size());
  ops.gelu_backward(dg.data(), big.data(), big.data(), big.size());
  VecF losses(N), entropy(N);
  ops.classifier_forward_backward(logits.data(), losses.data(), entropy.data(), targets.data(),
                                  tw.data(), N, V, Vp, true);
  VecF p = big, m(big.size(), 0.f), v(big.size(), 0.f);
  testing::adamw_whole(ops, p.data(), g.data(), m.data(), v.data(), nullptr, p.size(), 1e-3f, 0.9f,
                       0.95f, 1e-8f, 0.1f, 1.f, 1, 0);
  double ss = testing::sum_squares_on(ops, big.data(), big.size());
  VecF ss_bits(2);
  std::memcpy(ss_bits.data(), &ss, sizeof(ss));
  // The first three come from sgemm, whose split over threads may change with the thread count.
  return {out, dinp, dweight, dbias, ln, ldinp, ldw, ldb, att_out, lse, dqkv, g, dg,
          logits, losses, entropy, p, m, v, ss_bits};
}
constexpr size_t kNumSgemmResults = 3;

TEST(CpuFastDeterminism, SameThreadCountIsBitIdentical) {
  testing::ScopedOmpThreads threads(2);
  std::vector<VecF> first = run_all_ops(), second = run_all_ops();
  for (size_t k = 0; k < first.size(); k++)
    EXPECT_EQ(0, std::memcmp(first[k].data(), second[k].data(), first[k].size() * sizeof(float)))
        << "result " << k << " differs between two runs with 2 threads";
}

TEST(CpuFastDeterminism, OneVersusThreeThreads) {
  std::vector<VecF> one, three;
  {
    testing::ScopedOmpThreads threads(1);
    one = run_all_ops();
  }
  {
    testing::ScopedOmpThreads threads(3);
    three = run_all_ops();
  }
  for (size_t k = 0; k < one.size(); k++) {
    if (k < kNumSgemmResults) {
      // Sums of 64-256 products in another order: elements that come from cancellation differ
      // by more than a few ulps (6.5e-4 relative on one element of dinp with OpenBLAS's AVX2
      // kernels), so the tensor is compared as a whole: measured relative L2 error up to 1.6e-7.
      EXPECT_REL_L2_BELOW(three[k], one[k], 1e-6) << "result " << k;
    } else {
      EXPECT_EQ(0, std::memcmp(one[k].data(), three[k].data(), one[k].size() * sizeof(float)))
          << "result " << k << " differs between 1 and 3 threads";
    }
  }
}

}  // namespace
}  // namespace chamber
