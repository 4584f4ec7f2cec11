// RL arithmetic: GAE and GRPO advantages against hand-computed values, the KL estimators'
// definitions, PPO policy/value losses and the entropy-bonus surrogate against finite differences
// (double steps on the scalar inputs, away from the clip kinks), explained variance; the token
// weights and value gradients of the clipped-surrogate update against those per-term functions.
#include <gtest/gtest.h>

#include <cmath>

#include "util/util.h"
#include "tests/test_util.h"
#include "train/rl_losses.h"

namespace chamber {
namespace {

TEST(RlLosses, GaeMatchesHandComputedValues) {
  // gamma 1, lambda 0.95; reward only at the end (the RL set-up: correctness on the last token).
  float r[3] = {0, 0, 1}, v[3] = {0.5f, 0.6f, 0.7f}, adv[3], ret[3];
  gae(r, v, 3, 1.0f, 0.95f, adv, ret);
  // t=2: delta = 1 - 0.7 = 0.3;      t=1: delta = 0.7 - 0.6 = 0.1, A = 0.1 + 0.95*0.3 = 0.385
  // t=0: delta = 0.6 - 0.5 = 0.1, A = 0.1 + 0.95*0.385 = 0.46575
  EXPECT_NEAR(adv[2], 0.3, 1e-6);
  EXPECT_NEAR(adv[1], 0.385, 1e-6);
  EXPECT_NEAR(adv[0], 0.46575, 1e-6);
  EXPECT_NEAR(ret[0], 0.96575, 1e-6);
  EXPECT_NEAR(ret[2], 1.0, 1e-6);

  // gamma 0.9, lambda 0.5, rewards at every step.
  float r2[2] = {1, -1}, v2[2] = {0.2f, 0.4f}, a2[2], R2[2];
  gae(r2, v2, 2, 0.9f, 0.5f, a2, R2);
  EXPECT_NEAR(a2[1], -1.4, 1e-6);                       // -1 + 0 - 0.4
  EXPECT_NEAR(a2[0], 1.16 + 0.45 * -1.4, 1e-6);         // (1 + 0.9*0.4 - 0.2) + 0.9*0.5*A1
  EXPECT_NEAR(R2[0], 0.53 + 0.2, 1e-6);
}

TEST(RlLosses, GaeWithLambdaOneIsDiscountedReturnMinusValue) {
  std::vector<float> r = testing::random_vector(7, 1), v = testing::random_vector(7, 2);
  std::vector<float> adv(7), ret(7);
  gae(r.data(), v.data(), 7, 0.8f, 1.0f, adv.data(), ret.data());
  for (int t = 0; t < 7; t++) {
    double g = 0, disc = 1;
    for (int k = t; k < 7; k++, disc *= 0.8) g += disc * r[k];
    EXPECT_NEAR(ret[t], g, 1e-5) << t;
    EXPECT_NEAR(adv[t], g - v[t], 1e-5) << t;
  }
}

TEST(RlLosses, GrpoAdvantagesNormaliseWithinGroups) {
  std::vector<float> rewards = {1, 0, 0, 1, 1, 1, 1, 1, 0, 0, 0, 1};
  std::vector<float> adv = grpo_advantages(rewards, 4, 1e-6f);
  // group 1: mean 0.5, std 0.5; group 2: identical rewards -> 0; group 3: mean 0.25, std sqrt(3)/4
  for (int i = 0; i < 4; i++) EXPECT_NEAR(adv[i], (rewards[i] - 0.5) / (0.5 + 1e-6), 1e-6);
  for (int i = 4; i < 8; i++) EXPECT_EQ(adv[i], 0.0f);
  double s3 = std::sqrt(3.0) / 4;
  EXPECT_NEAR(adv[8], -0.25 / (s3 + 1e-6), 1e-5);
  EXPECT_NEAR(adv[11], 0.75 / (s3 + 1e-6), 1e-5);
  std::vector<float> centred = grpo_advantages(rewards, 4, 1e-6f, false);
  EXPECT_NEAR(centred[0], 0.5, 1e-7);
  EXPECT_THROW(grpo_advantages(rewards, 5, 1e-6f), Error);
}

TEST(RlLosses, WhitenGivesZeroMeanUnitStd) {
  std::vector<float> x = testing::random_vector(50, 3, -2.0f, 5.0f);
  std::vector<float> y = x;
  whiten(y);
  double m = 0, s = 0;
  for (float v : y) m += v;
  m /= y.size();
  for (float v : y) s += (v - m) * (v - m);
  EXPECT_NEAR(m, 0.0, 1e-5);
  EXPECT_NEAR(std::sqrt(s / y.size()), 1.0, 1e-4);
  std::vector<float> z = x;
  whiten(z, false);
  double mz = 0, mx = 0;
  for (size_t i = 0; i < x.size(); i++) mz += z[i], mx += x[i];
  EXPECT_NEAR(mz / x.size(), mx / x.size(), 1e-4);
}

TEST(RlLosses, KlEstimators) {
  EXPECT_FLOAT_EQ(kl_k1(-1.0f, -1.5f), 0.5f);
  EXPECT_EQ(kl_k3(-2.0f, -2.0f), 0.0f);
  // k3 = e^d - d - 1 with d = ref - logp; >= 0 for any d, ~ d^2/2 near 0.
  for (float d : {-3.0f, -0.5f, 0.1f, 2.0f}) {
    EXPECT_NEAR(kl_k3(-1.0f, -1.0f + d), std::exp((double)d) - d - 1, 1e-5);
    EXPECT_GE(kl_k3(-1.0f, -1.0f + d), 0.0f);
  }
  EXPECT_NEAR(kl_k3(-1.0f, -1.0f + 1e-3f), 0.5e-6, 1e-8);
  // Both estimate KL(p||q) in expectation over tokens drawn from p: check on a small categorical.
  double p[3] = {0.5, 0.3, 0.2}, q[3] = {0.2, 0.5, 0.3}, kl = 0, e1 = 0, e3 = 0;
  for (int i = 0; i < 3; i++) {
    kl += p[i] * std::log(p[i] / q[i]);
    e1 += p[i] * kl_k1((float)std::log(p[i]), (float)std::log(q[i]));
    e3 += p[i] * kl_k3((float)std::log(p[i]), (float)std::log(q[i]));
  }
  EXPECT_NEAR(e1, kl, 1e-6);
  EXPECT_NEAR(e3, kl, 1e-6);
  // derivative against central differences
  for (float d : {-1.0f, 0.3f, 1.5f}) {
    double h = 1e-3, l = -0.7;
    double fd = (kl_k3((float)(l + h), (float)(l + d)) - kl_k3((float)(l - h), (float)(l + d))) / (2 * h);
    EXPECT_NEAR(kl_k3_dlogp((float)l, (float)(l + d)), fd, 1e-3 * (1 + std::fabs(fd)));
  }
}

TEST(RlLosses, PolicyLossValueAndGradientMatchFiniteDifferences) {
  Rng rng(11);
  int clipped = 0, unclipped = 0;
  for (int i = 0; i < 400; i++) {
    float old_logp = -3.0f * rng.uniform();
    float logp = old_logp + 0.8f * (rng.uniform() - 0.5f);
    float adv = 2.0f * (rng.uniform() - 0.5f);
    double ratio = std::exp((double)logp - old_logp);
    if (std::fabs(std::fabs(ratio - 1.0) - 0.2) < 1e-2) continue;  // too close to a kink
    PolicyLossTerm t = ppo_policy_loss(logp, old_logp, adv, 0.2f);
    double want = -std::min(ratio * adv, std::clamp(ratio, 0.8, 1.2) * adv);
    EXPECT_NEAR(t.loss, want, 1e-5);
    EXPECT_EQ(t.clipped, std::fabs(ratio - 1.0) > 0.2);
    double h = 1e-3;
    double fd = (ppo_policy_loss(logp + h, old_logp, adv, 0.2f).loss -
                 ppo_policy_loss(logp - h, old_logp, adv, 0.2f).loss) / (2 * h);
    EXPECT_NEAR(t.dloss_dlogp, fd, 2e-3) << "logp " << logp << " old " << old_logp << " adv " << adv;
    (t.dloss_dlogp == 0.0f ? clipped : unclipped)++;
  }
  EXPECT_GT(clipped, 20);     // both branches were exercised
  EXPECT_GT(unclipped, 20);
  // At ratio 1 the gradient is -A (the plain policy gradient).
  EXPECT_FLOAT_EQ(ppo_policy_loss(-1.0f, -1.0f, 0.7f, 0.2f).dloss_dlogp, -0.7f);
}

TEST(RlLosses, ValueLossValueAndGradientMatchFiniteDifferences) {
  Rng rng(12);
  int clipped = 0;
  for (int i = 0; i < 400; i++) {
    float old_v = 2.0f * (rng.uniform() - 0.5f);
    float v = old_v + 0.8f * (rng.uniform() - 0.5f);
    float ret = 2.0f * (rng.uniform() - 0.5f);
    if (std::fabs(std::fabs(v - old_v) - 0.2) < 1e-2) continue;
    if (std::fabs(std::fabs(v - ret) - std::fabs(old_v + std::clamp(v - old_v, -0.2f, 0.2f) - ret)) < 1e-2) continue;
    ValueLossTerm t = ppo_value_loss(v, old_v, ret, 0.2f);
    double vc = old_v + std::clamp((double)v - old_v, -0.2, 0.2);
    double want = 0.5 * std::max((double)(v - ret) * (v - ret), (vc - ret) * (vc - ret));
    EXPECT_NEAR(t.loss, want, 1e-5);
    double h = 1e-3;
    double fd = (ppo_value_loss(v + h, old_v, ret, 0.2f).loss - ppo_value_loss(v - h, old_v, ret, 0.2f).loss) / (2 * h);
    EXPECT_NEAR(t.dloss_dvalue, fd, 2e-3);
    clipped += t.clipped;
  }
  EXPECT_GT(clipped, 10);
  ValueLossTerm plain = ppo_value_loss(0.5f, 0.0f, -1.0f, 0.0f);
  EXPECT_FLOAT_EQ(plain.loss, 1.125f);
  EXPECT_FLOAT_EQ(plain.dloss_dvalue, 1.5f);
}

TEST(RlLosses, EntropyBonusSurrogateHasTheExactExpectedGradient) {
  // For p = softmax(z): the expected surrogate gradient over a ~ p equals d(-coef*H)/dz exactly.
  const int V = 5;
  std::vector<float> z = testing::random_vector(V, 13, -2.0f, 2.0f);
  auto softmax = [&](const std::vector<double>& zz) {
    std::vector<double> p(V);
    double mx = *std::max_element(zz.begin(), zz.end()), s = 0;
    for (int j = 0; j < V; j++) s += p[j] = std::exp(zz[j] - mx);
    for (double& x : p) x /= s;
    return p;
  };
  auto entropy = [&](const std::vector<double>& zz) {
    double h = 0;
    for (double x : softmax(zz)) h -= x * std::log(x);
    return h;
  };
  std::vector<double> zd(z.begin(), z.end());
  std::vector<double> p = softmax(zd);
  double H = entropy(zd), coef = 0.3;
  for (int j = 0; j < V; j++) {
    double expected = 0;   // sum_a p_a * dL/dlogp_a * dlogp_a/dz_j, dlogp_a/dz_j = [a==j] - p_j
    for (int a = 0; a < V; a++)
      expected += p[a] * entropy_bonus_dlogp((float)std::log(p[a]), (float)H, (float)coef) * ((a == j) - p[j]);
    std::vector<double> zp = zd, zm = zd;
    zp[j] += 1e-5;
    zm[j] -= 1e-5;
    double fd = -coef * (entropy(zp) - entropy(zm)) / 2e-5;
    EXPECT_NEAR(expected, fd, 1e-5) << j;
  }
}

// One sequence of n tokens with every input of the token weights, the old log-probs moved away
// from the current ones so that some ratios clip.
struct TokenCase {
  int n;
  std::vector<float> logp, old_logp, ref_logp, adv, entropy, values, old_values, returns;
  explicit TokenCase(int n_, uint64_t seed) : n(n_) {
    Rng rng(seed);
    for (int t = 0; t < n; t++) {
      logp.push_back(-3.0f * rng.uniform());
      old_logp.push_back(logp[t] + 0.6f * (rng.uniform() - 0.5f));
      ref_logp.push_back(logp[t] + 0.5f * (rng.uniform() - 0.5f));
      adv.push_back(2.0f * (rng.uniform() - 0.5f));
      entropy.push_back(2.0f * rng.uniform());
      values.push_back(rng.uniform() - 0.5f);
      old_values.push_back(values[t] + 0.6f * (rng.uniform() - 0.5f));
      returns.push_back(rng.uniform() - 0.5f);
    }
  }
};

TEST(RlLosses, PolicyTokenWeightsSumThePerTermDerivatives) {
  TokenCase tc(40, 21);
  PolicyLossConfig cfg;
  cfg.clip_eps = 0.2f;
  cfg.kl_loss = true;
  cfg.kl_coef = 0.3f;
  cfg.entropy_coef = 0.05f;
  for (LossAgg agg : {LossAgg::token_mean, LossAgg::seq_mean}) {
    cfg.agg = agg;
    const int sequences = 3;
    const double tokens = 100;
    const double c = agg == LossAgg::token_mean ? 1.0 / tokens : 1.0 / (sequences * tc.n);
    EXPECT_DOUBLE_EQ(loss_agg_weight(agg, tc.n, sequences, tokens), c);
    std::vector<float> w(tc.n);
    PolicyLossSums sums;
    policy_token_weights(cfg, sequences, tokens, tc.n, tc.logp.data(), tc.old_logp.data(), tc.ref_logp.data(),
                         tc.adv.data(), tc.entropy.data(), w.data(), sums);
    double loss = 0, kl = 0, entropy = 0, approx_kl = 0;
    int clipped = 0;
    for (int t = 0; t < tc.n; t++) {
      PolicyLossTerm pl = ppo_policy_loss(tc.logp[t], tc.old_logp[t], tc.adv[t], cfg.clip_eps);
      double dloss = (double)pl.dloss_dlogp + cfg.kl_coef * kl_k3_dlogp(tc.logp[t], tc.ref_logp[t]) +
                     entropy_bonus_dlogp(tc.logp[t], tc.entropy[t], cfg.entropy_coef);
      EXPECT_NEAR(w[t], -c * dloss, 1e-7 * (1 + std::fabs(c * dloss))) << t;
      loss += pl.loss;
      clipped += pl.clipped;
      kl += kl_k3(tc.logp[t], tc.ref_logp[t]);
      entropy += tc.entropy[t];
      approx_kl += tc.old_logp[t] - tc.logp[t];
    }
    EXPECT_GT(clipped, 3);   // both branches of the surrogate were exercised
    EXPECT_LT(clipped, tc.n - 3);
    EXPECT_NEAR(sums.loss, loss, 1e-5);
    EXPECT_EQ(sums.clipped, clipped);
    EXPECT_NEAR(sums.kl_ref, kl, 1e-5);
    EXPECT_NEAR(sums.entropy, entropy, 1e-4);
    EXPECT_NEAR(sums.approx_kl_old, approx_kl, 1e-5);
    EXPECT_EQ(sums.tokens, tc.n);
  }
}

TEST(RlLosses, PolicyTokenWeightsAreMinusTheLossGradient) {
  // Without the entropy surrogate (which has no loss value) the weights are -dL/dlogp of
  // L = sum_t c * (ppo_policy_loss + kl_coef * k3), checked by central differences per token.
  TokenCase tc(30, 22);
  PolicyLossConfig cfg;
  cfg.kl_loss = true;
  cfg.kl_coef = 0.5f;
  cfg.agg = LossAgg::seq_mean;
  const int sequences = 2;
  std::vector<float> w(tc.n);
  PolicyLossSums sums;
  policy_token_weights(cfg, sequences, 60, tc.n, tc.logp.data(), tc.old_logp.data(), tc.ref_logp.data(),
                       tc.adv.data(), tc.entropy.data(), w.data(), sums);
  const double c = 1.0 / (sequences * tc.n);
  auto loss = [&](int t, double logp) {
    return c * (ppo_policy_loss((float)logp, tc.old_logp[t], tc.adv[t], cfg.clip_eps).loss +
                cfg.kl_coef * kl_k3((float)logp, tc.ref_logp[t]));
  };
  int checked = 0;
  for (int t = 0; t < tc.n; t++) {
    double ratio = std::exp((double)tc.logp[t] - tc.old_logp[t]);
    if (std::fabs(std::fabs(ratio - 1.0) - cfg.clip_eps) < 1e-2) continue;   // too close to a kink
    const double h = 1e-3;
    double fd = (loss(t, tc.logp[t] + h) - loss(t, tc.logp[t] - h)) / (2 * h);
    EXPECT_NEAR(-w[t], fd, 2e-3 * c) << t;
    checked++;
  }
  EXPECT_GT(checked, 20);
}

TEST(RlLosses, PolicyTokenWeightsWithoutOldOrReferenceLogProbs) {
  TokenCase tc(9, 23);
  PolicyLossConfig cfg;   // no KL loss, no entropy bonus
  std::vector<float> w(tc.n), w_with_ref(tc.n);
  PolicyLossSums sums, sums_with_ref;
  // No old log-probs: the ratio is 1, so w_t = c * A_t (the plain policy gradient), no clipping.
  policy_token_weights(cfg, 1, 10, tc.n, tc.logp.data(), nullptr, nullptr, tc.adv.data(), tc.entropy.data(),
                       w.data(), sums);
  for (int t = 0; t < tc.n; t++) EXPECT_FLOAT_EQ(w[t], tc.adv[t] / 10.0f);
  EXPECT_EQ(sums.clipped, 0);
  EXPECT_EQ(sums.approx_kl_old, 0);
  EXPECT_EQ(sums.kl_ref, 0);
  // Reference log-probs without the k3 loss term: measured (kl_ref) but not in the weights.
  policy_token_weights(cfg, 1, 10, tc.n, tc.logp.data(), nullptr, tc.ref_logp.data(), tc.adv.data(),
                       tc.entropy.data(), w_with_ref.data(), sums_with_ref);
  EXPECT_EQ(w_with_ref, w);
  EXPECT_GT(sums_with_ref.kl_ref, 0);
  // The k3 term needs the reference.
  cfg.kl_loss = true;
  EXPECT_THROW(policy_token_weights(cfg, 1, 10, tc.n, tc.logp.data(), nullptr, nullptr, tc.adv.data(),
                                    tc.entropy.data(), w.data(), sums),
               Error);
}

TEST(RlLosses, TokenWeightsOfAMinibatchAggregate) {
  // Three sequences of different lengths, all at ratio 1 with advantage 1: w_t = c_t, so the
  // weights of the minibatch sum to 1 (token_mean: each token 1/tokens; seq_mean: each sequence 1/3).
  const int lens[3] = {2, 5, 9};
  const double tokens = 16;
  for (LossAgg agg : {LossAgg::token_mean, LossAgg::seq_mean}) {
    PolicyLossConfig cfg;
    cfg.agg = agg;
    PolicyLossSums sums;
    double total = 0;
    for (int len : lens) {
      std::vector<float> logp(len, -1.0f), adv(len, 1.0f), entropy(len, 0.0f), w(len);
      policy_token_weights(cfg, 3, tokens, len, logp.data(), nullptr, nullptr, adv.data(), entropy.data(),
                           w.data(), sums);
      double seq = 0;
      for (float x : w) seq += x;
      if (agg == LossAgg::seq_mean) EXPECT_NEAR(seq, 1.0 / 3, 1e-6);
      else EXPECT_NEAR(seq, len / tokens, 1e-6);
      total += seq;
    }
    EXPECT_NEAR(total, 1.0, 1e-6);
    EXPECT_EQ(sums.tokens, tokens);
  }
}

TEST(RlLosses, ValueTokenGradsScaleTheValueLossGradient) {
  TokenCase tc(40, 24);
  PolicyLossConfig cfg;
  cfg.vf_coef = 0.7f;
  cfg.value_clip = 0.2f;
  cfg.agg = LossAgg::token_mean;
  std::vector<float> dv(tc.n);
  PolicyLossSums sums;
  value_token_grads(cfg, 4, 80, tc.n, tc.values.data(), tc.old_values.data(), tc.returns.data(), dv.data(), sums);
  double loss = 0;
  int clipped = 0;
  for (int t = 0; t < tc.n; t++) {
    ValueLossTerm vl = ppo_value_loss(tc.values[t], tc.old_values[t], tc.returns[t], cfg.value_clip);
    EXPECT_FLOAT_EQ(dv[t], (float)(cfg.vf_coef * vl.dloss_dvalue / 80.0)) << t;
    loss += vl.loss;
    clipped += vl.clipped;
  }
  EXPECT_GT(clipped, 0);
  EXPECT_NEAR(sums.value_loss, loss, 1e-5);
  EXPECT_EQ(sums.value_clipped, clipped);
  EXPECT_EQ(sums.tokens, 0);   // the policy terms' count is policy_token_weights'
}

TEST(RlLosses, ExplainedVariance) {
  std::vector<float> ret = {1, 2, 3, 4};
  EXPECT_NEAR(explained_variance(ret, ret), 1.0, 1e-12);
  EXPECT_NEAR(explained_variance({2.5f, 2.5f, 2.5f, 2.5f}, ret), 0.0, 1e-12);
  EXPECT_NEAR(explained_variance({0, 0, 0, 0}, ret), 0.0, 1e-12);   // a constant offset is free
  EXPECT_LT(explained_variance({4, 3, 2, 1}, ret), 0.0);
  EXPECT_EQ(explained_variance({1, 1}, {2, 2}), 0.0);
}

}  // namespace
}  // namespace chamber
