// RL arithmetic: GAE and GRPO advantages against hand-computed values, the KL estimators'
// definitions, PPO policy/value losses and the entropy-bonus surrogate against finite differences
// (double steps on the scalar inputs, away from the clip kinks), explained variance.
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
