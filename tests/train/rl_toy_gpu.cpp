// GRPO on the GPU (skipped without one): the toy model learns to say 7, as on the CPU.
#include "tests/train/rl_toy.h"
#ifdef CHAMBER_HAVE_CUDA
#include "kernels/cuda_backend.h"
#endif

namespace chamber::testing {
namespace {

TEST(RlGpu, GrpoLearnsToSaySeven) {
#ifdef CHAMBER_HAVE_CUDA
  if (!cuda_device_available()) GTEST_SKIP() << "no CUDA device on this machine";
  RLConfig c = toy_config(RLAlgorithm::grpo);
  c.kl_coef = 0.001f;
  run_toy(c, false, cuda_ops());
#else
  GTEST_SKIP() << "built without CUDA";
#endif
}

TEST(RlGpu, GrpoLearnsToSaySevenInBf16) {
#ifdef CHAMBER_HAVE_CUDA
  if (!cuda_device_available()) GTEST_SKIP() << "no CUDA device on this machine";
  RLConfig c = toy_config(RLAlgorithm::grpo);
  c.kl_coef = 0.001f;
  run_toy(c, false, cuda_bf16_ops());
#else
  GTEST_SKIP() << "built without CUDA";
#endif
}

}  // namespace
}  // namespace chamber::testing
