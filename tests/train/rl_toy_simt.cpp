// RL over the CUDA kernels under the SIMT emulator: the same steps as on the CPU. Sampling (the
// KV-cache decode and the device draw), scoring, advantages and the update all run through the
// `cuda` code path, from the same toy model and seed; the draws must be the same and the updated
// weights agree to float rounding.
#include <gtest/gtest.h>

#include <cmath>

#include "kernels/simt_backend.h"
#include "tests/test_util.h"
#include "tests/train/rl_toy.h"

namespace chamber::testing {
namespace {

struct StepsResult {
  std::vector<double> rewards;
  std::vector<float> params;
};

StepsResult run_steps(const RLConfig& cfg, bool with_critic, const Ops& ops, int steps) {
  Toy t;
  make_toy(t, with_critic, ops);
  RLSession s;
  begin_toy_session(s, t, cfg, with_critic);
  StepsResult r;
  for (int step = 0; step < steps; step++) r.rewards.push_back(rl_step(s, step)["reward"].get<double>());
  r.params = gpt_parameters_to_host(t.policy);
  rl_session_end(s);
  destroy_toy(t, with_critic);
  return r;
}

void expect_same_steps(const RLConfig& cfg, bool with_critic) {
  StepsResult want = run_steps(cfg, with_critic, select_backend("cpu"), 3);
  StepsResult got = run_steps(cfg, with_critic, simt_ops(), 3);
  EXPECT_EQ(got.rewards, want.rewards) << "the rollouts differ";
  // Three AdamW steps at lr 1e-2 from float32 gradients summed in other orders. AdamW divides
  // by the gradient's running RMS, so a weight whose gradient is near zero moves by up to lr per
  // step whatever rounding did to that gradient: single weights differ by more than fp32 rounding
  // (measured: 1.5e-4 on one weight with OpenBLAS's AVX2 kernels, under 1.1e-4 with AVX-512's),
  // while the weights as a whole agree to about 1e-5 relative L2 (3e-6 to 9.5e-6 measured on both).
  EXPECT_REL_L2_BELOW(got.params, want.params, 1e-4);
  EXPECT_ALL_CLOSE(got.params, want.params, 1e-3, 1e-3);
}

TEST(RlSimt, GrpoStepsMatchTheCpu) {
  RLConfig c = toy_config(RLAlgorithm::grpo);
  c.kl_coef = 0.001f;
  expect_same_steps(c, false);
}

// bf16 mixed precision (simt_bf16_ops(): bf16 policy, reference, KV cache and sampler; fp32
// master weights and AdamW) learns the toy task as fp32 does.
TEST(RlSimt, GrpoLearnsToSaySevenInBf16) {
  RLConfig c = toy_config(RLAlgorithm::grpo);
  c.kl_coef = 0.001f;
  run_toy(c, false, simt_bf16_ops());
}

TEST(RlSimt, PpoStepsMatchTheCpu) {
  RLConfig c = toy_config(RLAlgorithm::ppo);
  c.critic_lr = 1e-2f;
  expect_same_steps(c, false);
}

}  // namespace
}  // namespace chamber::testing
