// The analytic profile (train/roofline.h): the cost formulas, the prediction rule, and a whole
// GPT-2 124M step whose products must add up to llm.c's FLOP count.
#include <gtest/gtest.h>

#include <cmath>

#include "engine/model.h"
#include "train/profile.h"
#include "util/util.h"
#include "train/roofline.h"

namespace chamber {
namespace {

TEST(Roofline, MatmulCostAndPrediction) {
  OpCost c = cost_matmul_forward(8192, 768, 3072, true, 4);
  EXPECT_DOUBLE_EQ(c.flops, 2.0 * 8192 * 768 * 3072);
  EXPECT_DOUBLE_EQ(c.bytes, (8192.0 * 768 + 3072.0 * 768 + 8192.0 * 3072 + 3072) * 4);
  EXPECT_EQ(c.launches, 1);
  RooflineDevice h100 = roofline_device("h100", "bf16");
  // 38.7 GFLOP at 70% of 989 TFLOP/s, plus one launch.
  EXPECT_NEAR(predicted_seconds(c, h100), c.flops / (0.7 * 989e12) + 4e-6, 1e-12);
  EXPECT_STREQ(bound_of(c, h100), "compute");
  h100.graph = true;  // a captured step pays no launches
  EXPECT_NEAR(predicted_seconds(c, h100), c.flops / (0.7 * 989e12), 1e-12);
  OpCost add = cost_elementwise(1 << 20, 3, 2);
  EXPECT_STREQ(bound_of(add, roofline_device("h100", "bf16")), "launch");  // 6 MB: 2 us of HBM
  EXPECT_THROW(roofline_device("a100", "bf16"), Error);
  EXPECT_THROW(roofline_device("h100", "fp8"), Error);
}

TEST(Roofline, AttentionPathFollowsTheScratchRule) {
  RooflineDevice d = roofline_device("h100", "fp32");
  // B 8, T 1024, 12 heads: 2 x 8 x 12 x 1024^2 x 4 bytes = 805 MB of scratch, under 2 GiB: the
  // full T x T products (2 per forward, 2 T^2 hs FLOPs each) and 2B + 1 launches.
  OpCost small = cost_attention_forward(8, 1024, 768, 12, d);
  EXPECT_DOUBLE_EQ(small.flops, 2 * 2 * 8.0 * 12 * 1024 * 1024 * 64);
  EXPECT_EQ(small.launches, 17);
  // B 64: 6.4 GB of scratch, so the flash kernels: the causal triangle only, one launch.
  OpCost large = cost_attention_forward(64, 1024, 768, 12, d);
  EXPECT_DOUBLE_EQ(large.flops, 2 * 2 * 64.0 * 12 * (1024 * 1025 / 2) * 64);
  EXPECT_EQ(large.launches, 1);
  d.attention = "flash";
  EXPECT_EQ(cost_attention_forward(8, 1024, 768, 12, d).launches, 1);
}

// A GPT-2 124M step over the shape-only backend: with flash attention (causal FLOPs) its ops do
// llm.c's 6 N + 6 L C T FLOPs per token plus the two causal products the flash backward's dQ
// kernel recomputes (S and dP), to within what LayerNorm, GELU, the classifier and AdamW add
// (under 2%); and the step is predicted faster in bf16 than in fp32.
TEST(Roofline, Gpt2StepMatchesTheModelFlopCount) {
  ModelConfig cfg = model_config_of(50304, 12, 12, 768, 1024);
  RooflineDevice bf16 = roofline_device("h100", "bf16");
  bf16.attention = "flash";
  set_profile_device(bf16);
  RooflineStep step = predict_step(cfg, 4, 1024);
  double flops_per_token = step.cost.flops / (4.0 * 1024);
  // per token: 12 layers x 2 products x 2 FLOPs x 12 heads x (T + 1) / 2 keys x 64 (hs)
  const double recomputed = 12 * 2 * 2.0 * 12 * (1024 + 1) / 2.0 * 64;
  EXPECT_GT(flops_per_token, (step.model_flops_per_token + recomputed) * 0.98);
  EXPECT_LT(flops_per_token, (step.model_flops_per_token + recomputed) * 1.02);
  EXPECT_NEAR(step.model_flops_per_token, 6.0 * 124.0e6 + 6.0 * 12 * 768 * 1024, 0.02 * 8e8);
  set_profile_device(roofline_device("h100", "fp32"));
  RooflineStep fp32 = predict_step(cfg, 4, 1024);
  EXPECT_GT(fp32.seconds, 1.5 * step.seconds);
  reset_profile();
}

}  // namespace
}  // namespace chamber
