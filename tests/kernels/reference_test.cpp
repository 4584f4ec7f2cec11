// The float reference (through reference_ops(), so the table wiring is checked too) against the
// double instantiation of the same code; every backward accumulates or overwrites each gradient as
// kernels/ops.h says; results do not depend on the thread count. Sizes are odd and larger than the kernels' channel blocks (32/64) so partial
// blocks are exercised.
//
// Tolerances: float against the double result rounded to float, with the plain float tolerances
// kF32Atol/kF32Rtol (1e-6 absolute + 1e-5 relative, about 80 ulps). At these sizes (sums of at
// most a few hundred O(1) terms) the worst element measured 0.4x of that, so no op needs slack;
// a kernel that loses more precision than that has a bug worth seeing.
#include <gtest/gtest.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <vector>

#include "kernels/adamw.h"
#include "kernels/attention.h"
#include "kernels/classifier.h"
#include "kernels/encoder.h"
#include "kernels/gelu.h"
#include "kernels/layernorm.h"
#include "kernels/matmul.h"
#include "kernels/ops.h"
#include "kernels/residual.h"
#include "kernels/sample.h"
#include "kernels/value_head.h"
#include "tests/kernels/kernel_checks.h"
#include "tests/kernels/optimizer_calls.h"
#include "tests/test_util.h"

namespace chamber {
namespace {

using testing::kF32Atol;
using testing::kF32Rtol;
using testing::random_doubles;
using testing::to_double;
using testing::to_float;
using testing::random_vector;
using Vec = std::vector<double>;
using VecF = std::vector<float>;

// Float result close to the double one rounded to float.
#define EXPECT_FLOAT_MATCHES_DOUBLE(got_float, want_double) \
  EXPECT_ALL_CLOSE((got_float), to_float(want_double), kF32Atol, kF32Rtol)

TEST(ReferenceFloatVsDouble, EncoderAndResidualAndGelu) {
  const Ops& ops = reference_ops();
  const int B = 3, T = 7, C = 76, V = 50;
  std::vector<int> tokens = testing::random_tokens(B * T, V, 1);
  VecF wte = random_vector(V * C, 2), wpe = random_vector(T * C, 3), dout = random_vector(B * T * C, 4);
  VecF out(B * T * C), dwte(V * C, 0.f), dwpe(T * C, 0.f);
  ops.encoder_forward(out.data(), tokens.data(), wte.data(), wpe.data(), B, T, C);
  ops.encoder_backward(dwte.data(), dwpe.data(), dout.data(), tokens.data(), B, T, C);
  Vec out_d(out.size()), dwte_d(dwte.size(), 0.0), dwpe_d(dwpe.size(), 0.0);
  encoder_forward_ref(out_d.data(), tokens.data(), to_double(wte).data(), to_double(wpe).data(), B, T, C);
  encoder_backward_ref(dwte_d.data(), dwpe_d.data(), to_double(dout).data(), tokens.data(), B, T, C);
  EXPECT_FLOAT_MATCHES_DOUBLE(out, out_d);
  EXPECT_FLOAT_MATCHES_DOUBLE(dwte, dwte_d);
  EXPECT_FLOAT_MATCHES_DOUBLE(dwpe, dwpe_d);

  const size_t n = 1001;
  VecF x = random_vector(n, 5, -5.f, 5.f), y = random_vector(n, 6), dy = random_vector(n, 7);
  VecF g(n), dg(n, 0.f), r(n), da(n, 0.f), db(n, 0.f);
  ops.gelu_forward(g.data(), x.data(), n);
  ops.gelu_backward(dg.data(), x.data(), dy.data(), n);
  ops.residual_forward(r.data(), x.data(), y.data(), n);
  ops.residual_backward(da.data(), db.data(), dy.data(), n);
  Vec g_d(n), dg_d(n, 0.0), r_d(n), da_d(n, 0.0), db_d(n, 0.0);
  gelu_forward_ref(g_d.data(), to_double(x).data(), n);
  gelu_backward_ref(dg_d.data(), to_double(x).data(), to_double(dy).data(), n);
  residual_forward_ref(r_d.data(), to_double(x).data(), to_double(y).data(), n);
  residual_backward_ref(da_d.data(), db_d.data(), to_double(dy).data(), n);
  EXPECT_FLOAT_MATCHES_DOUBLE(g, g_d);
  EXPECT_FLOAT_MATCHES_DOUBLE(dg, dg_d);
  EXPECT_FLOAT_MATCHES_DOUBLE(r, r_d);
  EXPECT_FLOAT_MATCHES_DOUBLE(da, da_d);
  EXPECT_FLOAT_MATCHES_DOUBLE(db, db_d);
}

TEST(ReferenceFloatVsDouble, LayerNorm) {
  const Ops& ops = reference_ops();
  const int N = 37, C = 76;
  VecF inp = random_vector(N * C, 1, -2.f, 2.f), weight = random_vector(C, 2),
       bias = random_vector(C, 3), dout = random_vector(N * C, 4);
  VecF out(N * C), mean(N), rstd(N), dinp(N * C, 0.f), dweight(C, 0.f), dbias(C, 0.f);
  ops.layernorm_forward(out.data(), mean.data(), rstd.data(), inp.data(), weight.data(), bias.data(), N, C);
  ops.layernorm_backward(dinp.data(), dweight.data(), dbias.data(), dout.data(), inp.data(),
                         weight.data(), mean.data(), rstd.data(), N, C);
  Vec out_d(N * C), mean_d(N), rstd_d(N), dinp_d(N * C, 0.0), dweight_d(C, 0.0), dbias_d(C, 0.0);
  layernorm_forward_ref(out_d.data(), mean_d.data(), rstd_d.data(), to_double(inp).data(),
                        to_double(weight).data(), to_double(bias).data(), N, C);
  layernorm_backward_ref(dinp_d.data(), dweight_d.data(), dbias_d.data(), to_double(dout).data(),
                         to_double(inp).data(), to_double(weight).data(), mean_d.data(),
                         rstd_d.data(), N, C);
  EXPECT_FLOAT_MATCHES_DOUBLE(out, out_d);
  EXPECT_FLOAT_MATCHES_DOUBLE(mean, mean_d);
  EXPECT_FLOAT_MATCHES_DOUBLE(rstd, rstd_d);
  EXPECT_FLOAT_MATCHES_DOUBLE(dinp, dinp_d);
  EXPECT_FLOAT_MATCHES_DOUBLE(dweight, dweight_d);
  EXPECT_FLOAT_MATCHES_DOUBLE(dbias, dbias_d);
}

TEST(ReferenceFloatVsDouble, Matmul) {
  const Ops& ops = reference_ops();
  const int N = 37, C = 76, OC = 45;
  VecF inp = random_vector(N * C, 1), weight = random_vector(OC * C, 2), bias = random_vector(OC, 3),
       dout = random_vector(N * OC, 4);
  VecF out(N * OC), dinp(N * C, 0.f), dweight(OC * C, 0.f), dbias(OC, 0.f);
  ops.matmul_forward(out.data(), inp.data(), weight.data(), bias.data(), N, C, OC);
  ops.matmul_backward(dinp.data(), dweight.data(), dbias.data(), dout.data(), inp.data(),
                      weight.data(), N, C, OC);
  Vec out_d(N * OC), dinp_d(N * C, 0.0), dweight_d(OC * C, 0.0), dbias_d(OC, 0.0);
  matmul_forward_ref(out_d.data(), to_double(inp).data(), to_double(weight).data(),
                     to_double(bias).data(), N, C, OC);
  matmul_backward_ref(dinp_d.data(), dweight_d.data(), dbias_d.data(), to_double(dout).data(),
                      to_double(inp).data(), to_double(weight).data(), N, C, OC);
  EXPECT_FLOAT_MATCHES_DOUBLE(out, out_d);
  EXPECT_FLOAT_MATCHES_DOUBLE(dinp, dinp_d);
  EXPECT_FLOAT_MATCHES_DOUBLE(dweight, dweight_d);
  EXPECT_FLOAT_MATCHES_DOUBLE(dbias, dbias_d);
}

TEST(ReferenceFloatVsDouble, Attention) {
  const Ops& ops = reference_ops();
  const int B = 3, T = 17, C = 36, NH = 3;
  VecF qkv = random_vector(B * T * 3 * C, 1, -2.f, 2.f), dout = random_vector(B * T * C, 2);
  VecF out(B * T * C), lse(B * NH * T), dqkv(qkv.size(), 0.f);
  ops.attention_forward(out.data(), lse.data(), qkv.data(), B, T, C, NH);
  ops.attention_backward(dqkv.data(), dout.data(), qkv.data(), out.data(), lse.data(), B, T, C, NH);
  Vec out_d(out.size()), lse_d(lse.size()), dqkv_d(qkv.size(), 0.0);
  attention_forward_ref(out_d.data(), lse_d.data(), to_double(qkv).data(), B, T, C, NH);
  attention_backward_ref(dqkv_d.data(), to_double(dout).data(), to_double(qkv).data(),
                         out_d.data(), lse_d.data(), B, T, C, NH);
  EXPECT_FLOAT_MATCHES_DOUBLE(lse, lse_d);
  EXPECT_FLOAT_MATCHES_DOUBLE(out, out_d);
  EXPECT_FLOAT_MATCHES_DOUBLE(dqkv, dqkv_d);
}

TEST(ReferenceFloatVsDouble, ClassifierAndValueHead) {
  const Ops& ops = reference_ops();
  const int N = 13, V = 301, Vp = 320, C = 76;
  VecF logits = random_vector(N * Vp, 1, -4.f, 4.f), weights = random_vector(N, 2);
  std::vector<int> targets = testing::random_tokens(N, V, 3);
  targets[5] = -1;
  VecF grad = logits, losses(N), entropy(N);
  ops.classifier_forward_backward(grad.data(), losses.data(), entropy.data(), targets.data(),
                                  weights.data(), N, V, Vp, true);
  Vec grad_d = to_double(logits), losses_d(N), entropy_d(N);
  classifier_forward_backward_ref(grad_d.data(), losses_d.data(), entropy_d.data(), targets.data(),
                                  to_double(weights).data(), N, V, Vp, true);
  EXPECT_FLOAT_MATCHES_DOUBLE(losses, losses_d);
  EXPECT_FLOAT_MATCHES_DOUBLE(entropy, entropy_d);
  EXPECT_FLOAT_MATCHES_DOUBLE(grad, grad_d);

  VecF h = random_vector(N * C, 4), w = random_vector(C, 5), b = random_vector(1, 6),
       dvalues = random_vector(N, 7);
  VecF values(N), dh(N * C, 0.f), dw(C, 0.f), db(1, 0.f);
  ops.value_head_forward(values.data(), h.data(), w.data(), b.data(), N, C);
  ops.value_head_backward(dh.data(), dw.data(), db.data(), dvalues.data(), h.data(), w.data(), N, C);
  Vec values_d(N), dh_d(N * C, 0.0), dw_d(C, 0.0), db_d(1, 0.0);
  value_head_forward_ref(values_d.data(), to_double(h).data(), to_double(w).data(),
                         to_double(b).data(), N, C);
  value_head_backward_ref(dh_d.data(), dw_d.data(), db_d.data(), to_double(dvalues).data(),
                          to_double(h).data(), to_double(w).data(), N, C);
  EXPECT_FLOAT_MATCHES_DOUBLE(values, values_d);
  EXPECT_FLOAT_MATCHES_DOUBLE(dh, dh_d);
  EXPECT_FLOAT_MATCHES_DOUBLE(dw, dw_d);
  EXPECT_FLOAT_MATCHES_DOUBLE(db, db_d);
}

// ---- accumulate or overwrite: a second backward call with the same inputs doubles every -------
// ---- accumulated gradient and leaves every overwritten one as it was ---------------------------

// Runs `backward` twice on zeroed gradients and checks each accumulated gradient doubled (exactly
// up to double rounding), which fails if it is overwritten instead of accumulated, and each
// overwritten gradient unchanged, which fails if it is added to.
void expect_second_call(std::vector<Vec*> accumulated, std::vector<Vec*> overwritten,
                        const std::function<void()>& backward) {
  std::vector<Vec*> grads = accumulated;
  grads.insert(grads.end(), overwritten.begin(), overwritten.end());
  for (Vec* g : grads) std::fill(g->begin(), g->end(), 0.0);
  backward();
  std::vector<Vec> once;
  for (Vec* g : grads) {
    once.push_back(*g);
    EXPECT_GT(testing::dot(*g, *g), 0.0) << "gradient is all zero; the check would be vacuous";
  }
  backward();
  for (size_t k = 0; k < grads.size(); k++) {
    double factor = k < accumulated.size() ? 2.0 : 1.0;
    Vec want(once[k].size());
    for (size_t j = 0; j < want.size(); j++) want[j] = factor * once[k][j];
    EXPECT_TRUE(testing::all_close_double(*grads[k], want, 1e-12, 1e-12))
        << "gradient " << k << (factor == 2.0 ? " (accumulated)" : " (overwritten)");
  }
}
void expect_doubles_on_second_call(std::vector<Vec*> grads, const std::function<void()>& backward) {
  expect_second_call(grads, {}, backward);
}

TEST(ReferenceAccumulatesOrOverwrites, EveryBackward) {
  const int B = 2, T = 5, C = 12, NH = 3, V = 7, N = B * T, OC = 7;
  std::vector<int> tokens = testing::random_tokens(N, V, 1);
  Vec dout = random_doubles(N * C, 2), inp = random_doubles(N * C, 3), w = random_doubles(C, 4),
      mean(N), rstd(N), out(N * C);
  {
    Vec dwte(V * C), dwpe(T * C);
    expect_doubles_on_second_call({&dwte, &dwpe}, [&] {
      encoder_backward_ref(dwte.data(), dwpe.data(), dout.data(), tokens.data(), B, T, C);
    });
  }
  {
    Vec bias = random_doubles(C, 5), dinp(N * C), dw(C), db(C);
    layernorm_forward_ref(out.data(), mean.data(), rstd.data(), inp.data(), w.data(), bias.data(), N, C);
    expect_doubles_on_second_call({&dinp, &dw, &db}, [&] {
      layernorm_backward_ref(dinp.data(), dw.data(), db.data(), dout.data(), inp.data(), w.data(),
                             mean.data(), rstd.data(), N, C);
    });
  }
  {
    Vec weight = random_doubles(OC * C, 6), dy = random_doubles(N * OC, 7), dinp(N * C),
        dweight(OC * C), dbias(OC);
    expect_second_call({&dweight, &dbias}, {&dinp}, [&] {
      matmul_backward_ref(dinp.data(), dweight.data(), dbias.data(), dy.data(), inp.data(),
                          weight.data(), N, C, OC);
    });
  }
  {
    Vec qkv = random_doubles(N * 3 * C, 8), lse(B * NH * T), dqkv(qkv.size());
    attention_forward_ref(out.data(), lse.data(), qkv.data(), B, T, C, NH);
    expect_second_call({}, {&dqkv}, [&] {
      attention_backward_ref(dqkv.data(), dout.data(), qkv.data(), out.data(), lse.data(), B, T, C, NH);
    });
  }
  {
    Vec dinp(N * C), da(N * C), db(N * C);
    expect_second_call({}, {&dinp}, [&] {
      gelu_backward_ref(dinp.data(), inp.data(), dout.data(), dinp.size());
    });
    expect_doubles_on_second_call({&da, &db}, [&] {
      residual_backward_ref(da.data(), db.data(), dout.data(), da.size());
    });
  }
  {
    Vec dvalues = random_doubles(N, 9), b = random_doubles(1, 10), dh(N * C), dw(C), db(1);
    expect_doubles_on_second_call({&dh, &dw, &db}, [&] {
      value_head_backward_ref(dh.data(), dw.data(), db.data(), dvalues.data(), inp.data(), w.data(), N, C);
    });
  }
}

// ---- determinism: bit-identical results with 1 and with 3 threads -----------------------------

TEST(ReferenceDeterminism, SameBitsForAnyThreadCount) {
  const Ops& ops = reference_ops();
  const int B = 2, T = 33, C = 100, NH = 4, V = 9, N = B * T, OC = 70;
  std::vector<int> tokens = testing::random_tokens(N, V, 1);
  VecF inp = random_vector(N * C, 2), weight = random_vector(OC * C, 3), bias = random_vector(OC, 4),
       dy = random_vector(N * OC, 5), dout = random_vector(N * C, 6), qkv = random_vector(N * 3 * C, 7),
       lw = random_vector(C, 8), big = random_vector(100003, 9);
  auto run_all = [&] {
    std::vector<VecF> results;
    VecF dinp(N * C, 0.f), dweight(OC * C, 0.f), dbias(OC, 0.f);
    ops.matmul_backward(dinp.data(), dweight.data(), dbias.data(), dy.data(), inp.data(),
                        weight.data(), N, C, OC);
    VecF out(N * OC);
    ops.matmul_forward(out.data(), inp.data(), weight.data(), bias.data(), N, C, OC);
    VecF ln(N * C), mean(N), rstd(N), ldinp(N * C, 0.f), ldw(C, 0.f), ldb(C, 0.f);
    ops.layernorm_forward(ln.data(), mean.data(), rstd.data(), inp.data(), lw.data(), lw.data(), N, C);
    ops.layernorm_backward(ldinp.data(), ldw.data(), ldb.data(), dout.data(), inp.data(), lw.data(),
                           mean.data(), rstd.data(), N, C);
    VecF att_out(N * C), lse(B * NH * T), dqkv(qkv.size(), 0.f);
    ops.attention_forward(att_out.data(), lse.data(), qkv.data(), B, T, C, NH);
    ops.attention_backward(dqkv.data(), dout.data(), qkv.data(), att_out.data(), lse.data(), B, T, C, NH);
    VecF dwte(V * C, 0.f), dwpe(T * C, 0.f);
    ops.encoder_backward(dwte.data(), dwpe.data(), dout.data(), tokens.data(), B, T, C);
    double ss = testing::sum_squares_on(ops, big.data(), big.size());
    VecF ss_bits(2);
    std::memcpy(ss_bits.data(), &ss, sizeof(ss));
    return std::vector<VecF>{dinp, dweight, dbias, out, ln, ldinp, ldw, ldb, att_out, dqkv, dwte, dwpe, ss_bits};
  };
  std::vector<VecF> one, three;
  {
    testing::ScopedOmpThreads threads(1);
    one = run_all();
  }
  {
    testing::ScopedOmpThreads threads(3);
    three = run_all();
  }
  for (size_t k = 0; k < one.size(); k++)
    EXPECT_EQ(0, std::memcmp(one[k].data(), three[k].data(), one[k].size() * sizeof(float)))
        << "result " << k << " differs between 1 and 3 threads";
}

// Inverse-CDF sampling at the K evenly spaced uniforms (k + 1/2)/K hits each id in proportion to
// its probability, to within one draw: an exact check of the draw, without randomness.
TEST(Reference, SampleRowFollowsTheSoftmax) {
  const int n = 17, K = 20000;
  const float temperature = 0.7f;
  auto logits = testing::random_vector(n, 5, -2.0f, 2.0f);
  double mx = *std::max_element(logits.begin(), logits.end()), total = 0;
  std::vector<double> p(n);
  for (int j = 0; j < n; j++) total += p[j] = std::exp((logits[j] - mx) / temperature);
  std::vector<int> count(n, 0);
  for (int k = 0; k < K; k++) count[sample_row_ref(logits.data(), n, temperature, 0, 1.0f, (k + 0.5) / K)]++;
  for (int j = 0; j < n; j++) EXPECT_NEAR(count[j], K * p[j] / total, 1.0) << "id " << j;

  // Greedy: the lowest id among equal maxima; the log-probability is the untempered log-softmax.
  logits[3] = logits[11] = 9.0f;
  EXPECT_EQ(sample_row_ref(logits.data(), n, 0.0f, 0, 1.0f, 0.99), 3);
  double norm = 0;
  for (float x : logits) norm += std::exp((double)x);
  EXPECT_NEAR(logprob_row_ref(logits.data(), n, 5), logits[5] - std::log(norm), 1e-12);
}

}  // namespace
}  // namespace chamber
