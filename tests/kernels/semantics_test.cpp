// What each reference op promises beyond its gradient: classifier padding and ignored rows,
// numerical stability, causality of attention, a hand-computed AdamW step, the optimizer helpers,
// known GELU values, LayerNorm normalisation, null gradients in matmul, and the Ops table itself.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "util/util.h"
#include "kernels/adamw.h"
#include "kernels/attention.h"
#include "kernels/classifier.h"
#include "kernels/layernorm.h"
#include "kernels/matmul.h"
#include "kernels/ops.h"
#include "tests/kernels/kernel_checks.h"
#include "tests/kernels/optimizer_calls.h"
#include "tests/test_util.h"

namespace chamber {
namespace {

using testing::adamw_whole;
using testing::random_doubles;
using testing::random_vector;
using testing::sum_squares_on;
using Vec = std::vector<double>;
using VecF = std::vector<float>;

// ---- classifier --------------------------------------------------------------------------------

TEST(ReferenceClassifier, PaddingColumnsAndIgnoredRowsAreZero) {
  const int N = 6, V = 11, Vp = 16;
  VecF logits = random_vector(N * Vp, 1, -3.f, 3.f), weights = random_vector(N, 2, 0.5f, 2.f);
  std::vector<int> targets = {3, -1, 10, 0, -5, 7};
  VecF losses(N, 9.f), entropy(N, 9.f);
  reference_ops().classifier_forward_backward(logits.data(), losses.data(), entropy.data(),
                                              targets.data(), weights.data(), N, V, Vp, true);
  for (int i = 0; i < N; i++) {
    for (int j = V; j < Vp; j++) EXPECT_EQ(logits[i * Vp + j], 0.f) << "padding row " << i;
    if (targets[i] < 0) {
      EXPECT_EQ(losses[i], 0.f);
      EXPECT_EQ(entropy[i], 0.f);
      for (int j = 0; j < Vp; j++) EXPECT_EQ(logits[i * Vp + j], 0.f) << "ignored row " << i;
    } else {
      EXPECT_GT(losses[i], 0.f);
      EXPECT_GT(entropy[i], 0.f);
      // sum_j w (p_j - onehot_j) = 0, and the target column is the only negative one for w > 0.
      double row_sum = 0.0;
      for (int j = 0; j < V; j++) row_sum += logits[i * Vp + j];
      EXPECT_NEAR(row_sum, 0.0, 1e-6);
      EXPECT_LT(logits[i * Vp + targets[i]], 0.f);
    }
  }
}

TEST(ReferenceClassifier, WithoutWriteGradLogitsAreUntouched) {
  const int N = 5, V = 11, Vp = 16;
  VecF logits = random_vector(N * Vp, 1, -3.f, 3.f), before = logits;
  std::vector<int> targets = testing::random_tokens(N, V, 2);
  VecF losses(N);
  // token_weights and entropy may both be null when write_grad is false.
  reference_ops().classifier_forward_backward(logits.data(), losses.data(), nullptr,
                                              targets.data(), nullptr, N, V, Vp, false);
  EXPECT_EQ(0, std::memcmp(logits.data(), before.data(), logits.size() * sizeof(float)));
}

TEST(ReferenceClassifier, MatchesTextbookFormulas) {
  // The online single-pass statistics against the plain three-pass formulas, in double.
  const int N = 7, V = 23, Vp = 24;
  Vec logits = random_doubles(N * Vp, 1, -5.0, 5.0);
  std::vector<int> targets = testing::random_tokens(N, V, 2);
  Vec losses(N), entropy(N);
  classifier_forward_backward_ref(logits.data(), losses.data(), entropy.data(), targets.data(),
                                  (const double*)nullptr, N, V, Vp, false);
  for (int i = 0; i < N; i++) {
    const double* x = &logits[i * Vp];
    double z = 0.0;
    for (int j = 0; j < V; j++) z += std::exp(x[j]);
    double h = 0.0;
    for (int j = 0; j < V; j++) h -= std::exp(x[j]) / z * (x[j] - std::log(z));
    EXPECT_NEAR(losses[i], std::log(z) - x[targets[i]], 1e-12);
    EXPECT_NEAR(entropy[i], h, 1e-12);
  }
}

TEST(ReferenceClassifier, StableForLogitsThatOverflowExp) {
  // exp(100) overflows float; with the max subtracted the float result must still match double.
  const int N = 4, V = 11, Vp = 12;
  VecF logits = random_vector(N * Vp, 1, 80.f, 100.f), weights = random_vector(N, 2);
  std::vector<int> targets = testing::random_tokens(N, V, 3);
  Vec logits_d = testing::to_double(logits), losses_d(N), entropy_d(N);
  VecF losses(N), entropy(N);
  reference_ops().classifier_forward_backward(logits.data(), losses.data(), entropy.data(),
                                              targets.data(), weights.data(), N, V, Vp, true);
  classifier_forward_backward_ref(logits_d.data(), losses_d.data(), entropy_d.data(),
                                  targets.data(), testing::to_double(weights).data(), N, V, Vp,
                                  true);
  EXPECT_ALL_CLOSE(losses, testing::to_float(losses_d), testing::kF32Atol, testing::kF32Rtol);
  EXPECT_ALL_CLOSE(entropy, testing::to_float(entropy_d), testing::kF32Atol, testing::kF32Rtol);
  EXPECT_ALL_CLOSE(logits, testing::to_float(logits_d), testing::kF32Atol, testing::kF32Rtol);
}

TEST(ReferenceClassifier, NegativeWeightFlipsGradient) {
  const int N = 1, V = 11, Vp = 16;
  VecF logits = random_vector(Vp, 1, -3.f, 3.f), flipped = logits;
  std::vector<int> targets = {4};
  float w = 0.75f, minus_w = -0.75f;
  VecF losses(N);
  reference_ops().classifier_forward_backward(logits.data(), losses.data(), nullptr,
                                              targets.data(), &w, N, V, Vp, true);
  reference_ops().classifier_forward_backward(flipped.data(), losses.data(), nullptr,
                                              targets.data(), &minus_w, N, V, Vp, true);
  for (int j = 0; j < Vp; j++) EXPECT_EQ(flipped[j], -logits[j]);
}

// ---- attention -----------------------------------------------------------------------------------

TEST(ReferenceAttention, CausalFutureTokensDoNotChangeThePast) {
  const int B = 2, T = 7, C = 12, NH = 3, changed = 4;
  VecF qkv = random_vector(B * T * 3 * C, 1), out(B * T * C), lse(B * NH * T);
  reference_ops().attention_forward(out.data(), lse.data(), qkv.data(), B, T, C, NH);
  VecF qkv2 = qkv, out2(out.size()), lse2(lse.size());
  for (int c = 0; c < 3 * C; c++) qkv2[(0 * T + changed) * 3 * C + c] += 0.5f;  // q, k, v of batch 0
  reference_ops().attention_forward(out2.data(), lse2.data(), qkv2.data(), B, T, C, NH);
  for (int b = 0; b < B; b++)
    for (int t = 0; t < T; t++) {
      bool may_change = b == 0 && t >= changed;
      bool same = std::memcmp(&out[(b * T + t) * C], &out2[(b * T + t) * C], C * sizeof(float)) == 0;
      if (may_change) EXPECT_FALSE(same) << "b " << b << " t " << t << " should see the change";
      else EXPECT_TRUE(same) << "b " << b << " t " << t << " saw a future or other-batch token";
    }
}

TEST(ReferenceAttention, LogSumExpNormalisesTheCausalRow) {
  const int B = 2, T = 6, C = 12, NH = 4, hs = C / NH;
  VecF qkv = random_vector(B * T * 3 * C, 1, -2.f, 2.f), out(B * T * C), lse(B * NH * T, 7.f);
  reference_ops().attention_forward(out.data(), lse.data(), qkv.data(), B, T, C, NH);
  // exp(s q_t . k_t2 - lse_t) over t2 <= t are the probabilities: they sum to 1.
  for (int b = 0; b < B; b++)
    for (int h = 0; h < NH; h++)
      for (int t = 0; t < T; t++) {
        double sum = 0.0;
        for (int t2 = 0; t2 <= t; t2++) {
          double dot = 0.0;
          for (int i = 0; i < hs; i++)
            dot += (double)qkv[(b * T + t) * 3 * C + h * hs + i] *
                   qkv[(b * T + t2) * 3 * C + C + h * hs + i];
          sum += std::exp(dot / std::sqrt((double)hs) - lse[(b * NH + h) * T + t]);
        }
        EXPECT_NEAR(sum, 1.0, 1e-5) << "b " << b << " h " << h << " t " << t;  // float lse
      }
  // The first query sees only itself: its output is exactly its own value vector.
  for (int h = 0; h < NH; h++)
    for (int i = 0; i < C / NH; i++)
      EXPECT_FLOAT_EQ(out[h * (C / NH) + i], qkv[2 * C + h * (C / NH) + i]);
}

// ---- optimizer ---------------------------------------------------------------------------------

TEST(ReferenceAdamW, HandComputedSteps) {
  // lr 0.01, betas (0.9, 0.999), eps 1e-8, weight decay 0.1, grad_scale 0.5.
  // Step 1: g = 0.5 * grad; m = 0.1 g; v = 0.001 g^2; m_hat = g, v_hat = g^2, so the update
  // direction is g / (|g| + 1e-8) = sign(g) (to 1e-7) and
  //   p1 = p0 - 0.01 * (sign(g) + 0.1 * p0).
  VecF params = {0.5f, -1.0f, 2.0f}, grads = {0.1f, -0.2f, 0.3f}, m(3, 0.f), v(3, 0.f);
  adamw_whole(reference_ops(), params.data(), grads.data(), m.data(), v.data(), nullptr, 3, 0.01f,
                               0.9f, 0.999f, 1e-8f, 0.1f, 0.5f, 1, 0);
  EXPECT_NEAR(params[0], 0.5 - 0.01 * (1 + 0.05), 1e-6);   // 0.4895
  EXPECT_NEAR(params[1], -1.0 - 0.01 * (-1 - 0.1), 1e-6);  // -0.989
  EXPECT_NEAR(params[2], 2.0 - 0.01 * (1 + 0.2), 1e-6);    // 1.988
  // The moments carry float's rounding of the betas: 1 - 0.999f is off by 1.3e-5 relative.
  EXPECT_NEAR(m[0], 0.005, 0.005 * 1e-5);
  EXPECT_NEAR(v[0], 2.5e-6, 2.5e-6 * 3e-5);

  // Step 2 on element 0 with grad 0.2 (g = 0.1):
  //   m = 0.9*0.005 + 0.1*0.1 = 0.0145;  v = 0.999*2.5e-6 + 0.001*0.01 = 1.24975e-5
  //   m_hat = 0.0145/0.19 = 0.0763158;   v_hat = 1.24975e-5/0.001999 = 0.00625188
  //   update = 0.0763158/0.0790688 + 0.1*0.4895 = 0.965183 + 0.04895
  grads = {0.2f, 0.f, 0.f};
  adamw_whole(reference_ops(), params.data(), grads.data(), m.data(), v.data(), nullptr, 3, 0.01f,
                               0.9f, 0.999f, 1e-8f, 0.1f, 0.5f, 2, 0);
  EXPECT_NEAR(m[0], 0.0145, 0.0145 * 1e-5);
  EXPECT_NEAR(v[0], 1.24975e-5, 1.24975e-5 * 3e-5);
  EXPECT_NEAR(params[0], 0.4895 - 0.01 * (0.965183 + 0.04895), 2e-6);
}

TEST(ReferenceAdamW, DecayIsDecoupledFromTheGradient) {
  // Zero gradient and zero moments: only weight decay moves the parameters, by lr * wd * p.
  VecF params = {1.f, -3.f}, grads = {0.f, 0.f}, m(2, 0.f), v(2, 0.f);
  adamw_whole(reference_ops(), params.data(), grads.data(), m.data(), v.data(), nullptr, 2, 0.1f,
                               0.9f, 0.95f, 1e-8f, 0.5f, 1.f, 3, 0);
  EXPECT_FLOAT_EQ(params[0], 1.f - 0.1f * 0.5f * 1.f);
  EXPECT_FLOAT_EQ(params[1], -3.f + 0.1f * 0.5f * 3.f);
}

TEST(ReferenceOptimizer, SumSquares) {
  VecF halves(100003, 0.5f);  // more than one 16384-element chunk, not a multiple of it
  EXPECT_EQ(sum_squares_on(reference_ops(), halves.data(), halves.size()), 0.25 * 100003);
  VecF g = random_vector(50001, 1);
  double want = 0.0;
  for (float x : g) want += (double)x * x;
  EXPECT_NEAR(sum_squares_on(reference_ops(), g.data(), g.size()), want, 1e-9 * want);
  EXPECT_EQ(sum_squares_on(reference_ops(), g.data(), 0), 0.0);
}

TEST(ReferenceOptimizer, ClipGradScale) {
  EXPECT_FLOAT_EQ(clip_grad_scale(2.0, 1.0f), (float)(1.0 / (2.0 + 1e-6)));
  EXPECT_EQ(clip_grad_scale(0.5, 1.0f), 1.0f);   // under the limit: untouched
  EXPECT_EQ(clip_grad_scale(1.0, 1.0f), 1.0f);   // at the limit
  EXPECT_EQ(clip_grad_scale(50.0, 0.0f), 1.0f);  // max_norm 0 disables clipping
  EXPECT_EQ(clip_grad_scale(NAN, 1.0f), 1.0f);   // caller must check the norm itself
  EXPECT_EQ(clip_grad_scale(INFINITY, 1.0f), 1.0f);
  // Scaled gradient norm lands on max_norm.
  EXPECT_NEAR(3.0 * clip_grad_scale(3.0, 0.25f), 0.25, 1e-6);
}

// ---- other ops -----------------------------------------------------------------------------------

TEST(ReferenceGelu, KnownValues) {
  // 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) evaluated independently in double.
  VecF x = {1.f, -1.f, 2.f, -3.f, 0.5f}, out(5);
  reference_ops().gelu_forward(out.data(), x.data(), x.size());
  VecF want = {0.8411919906082768f, -0.15880800939172324f, 1.954597694087775f,
               -0.0036373920817729943f, 0.34571400982514394f};
  EXPECT_ALL_CLOSE(out, want, testing::kF32Atol, testing::kF32Rtol);
}

TEST(ReferenceLayerNorm, RowsAreNormalised) {
  const int N = 5, C = 33;
  Vec inp = random_doubles(N * C, 1, 3.0, 9.0);  // a large mean, to catch E[x^2]-E[x]^2 cancellation
  Vec ones(C, 1.0), zeros(C, 0.0), out(N * C), mean(N), rstd(N);
  layernorm_forward_ref(out.data(), mean.data(), rstd.data(), inp.data(), ones.data(),
                        zeros.data(), N, C);
  for (int i = 0; i < N; i++) {
    double m = 0.0, var = 0.0, out_mean = 0.0, out_sq = 0.0;
    for (int c = 0; c < C; c++) m += inp[i * C + c] / C;
    for (int c = 0; c < C; c++) var += (inp[i * C + c] - m) * (inp[i * C + c] - m) / C;
    for (int c = 0; c < C; c++) {
      out_mean += out[i * C + c] / C;
      out_sq += out[i * C + c] * out[i * C + c] / C;
    }
    EXPECT_NEAR(mean[i], m, 1e-12);
    EXPECT_NEAR(rstd[i], 1.0 / std::sqrt(var + 1e-5), 1e-12);
    EXPECT_NEAR(out_mean, 0.0, 1e-12);
    EXPECT_NEAR(out_sq, var / (var + 1e-5), 1e-12);
  }
}

TEST(ReferenceMatmul, NullBiasAndNullGradients) {
  const int N = 5, C = 9, OC = 7;
  Vec inp = random_doubles(N * C, 1), weight = random_doubles(OC * C, 2), dout = random_doubles(N * OC, 3);
  Vec out(N * OC);
  matmul_forward_ref(out.data(), inp.data(), weight.data(), (const double*)nullptr, N, C, OC);
  EXPECT_NEAR(out[2 * OC + 3], testing::dot(Vec(&inp[2 * C], &inp[3 * C]), Vec(&weight[3 * C], &weight[4 * C])), 1e-12);
  Vec dinp(N * C, 0.0), dweight(OC * C, 0.0), dbias(OC, 0.0);
  matmul_backward_ref(dinp.data(), dweight.data(), dbias.data(), dout.data(), inp.data(), weight.data(), N, C, OC);
  Vec only_dinp(N * C, 0.0), only_dweight(OC * C, 0.0), only_dbias(OC, 0.0);
  matmul_backward_ref(only_dinp.data(), (double*)nullptr, (double*)nullptr, dout.data(), inp.data(), weight.data(), N, C, OC);
  matmul_backward_ref((double*)nullptr, only_dweight.data(), (double*)nullptr, dout.data(), inp.data(), weight.data(), N, C, OC);
  matmul_backward_ref((double*)nullptr, (double*)nullptr, only_dbias.data(), dout.data(), inp.data(), weight.data(), N, C, OC);
  EXPECT_EQ(only_dinp, dinp);
  EXPECT_EQ(only_dweight, dweight);
  EXPECT_EQ(only_dbias, dbias);
}

// ---- the table and its memory functions ----------------------------------------------------------

TEST(ReferenceOps, EveryEntryIsFilled) {
  const Ops& ops = reference_ops();
  EXPECT_STREQ(ops.name, "reference");
  testing::expect_ops_filled(ops);
}

TEST(ReferenceOps, MemoryFunctions) {
  const Ops& ops = reference_ops();
  for (size_t bytes : {size_t(0), size_t(1), size_t(100), size_t(4097)}) {
    auto* p = (unsigned char*)ops.alloc(bytes);
    ASSERT_NE(p, nullptr);
    EXPECT_EQ((uintptr_t)p % 64, 0u) << bytes << " bytes";
    for (size_t k = 0; k < bytes; k++) ASSERT_EQ(p[k], 0) << "not zero-filled at " << k;
    ops.free(p);
  }
  VecF src = random_vector(33, 1);
  auto* dev = (float*)ops.alloc(src.size() * sizeof(float));
  ops.from_host(dev, src.data(), src.size() * sizeof(float));
  auto* dev2 = (float*)ops.alloc(src.size() * sizeof(float));
  ops.copy(dev2, dev, src.size() * sizeof(float));
  VecF back(src.size());
  ops.to_host(back.data(), dev2, back.size() * sizeof(float));
  ops.synchronize();
  EXPECT_EQ(back, src);
  ops.zero(dev2, back.size() * sizeof(float));
  ops.to_host(back.data(), dev2, back.size() * sizeof(float));
  EXPECT_EQ(back, VecF(src.size(), 0.f));
  ops.free(dev);
  ops.free(dev2);
}

TEST(ReferenceOps, FailedAllocationNamesTheSize) {
#if defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "ASan aborts on impossible allocations instead of returning null";
#endif
  const size_t huge = SIZE_MAX / 4;
  try {
    void* p = reference_ops().alloc(huge);
    reference_ops().free(p);
    FAIL() << "allocating " << huge << " bytes should fail";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(std::to_string(huge)), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace chamber
