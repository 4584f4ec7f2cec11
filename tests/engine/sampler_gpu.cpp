// The KV-cache sampler on the GPU (skipped without one): completions whose log-probabilities are
// the reference full forward's, within TF32's error.
#include "tests/engine/sampler_cases.h"
#ifdef CHAMBER_HAVE_CUDA
#include "kernels/cuda_backend.h"
#endif

namespace chamber::testing {
namespace {

TEST(SamplerGpu, LogprobsMatchTheReferenceForward) {
#ifdef CHAMBER_HAVE_CUDA
  if (!cuda_device_available()) GTEST_SKIP() << "no CUDA device on this machine";
  // TF32 products (10-bit mantissas) through two layers: logits good to ~1e-3.
  check_sampler_on_backend(cuda_ops(), 2e-2, false);
#else
  GTEST_SKIP() << "built without CUDA";
#endif
}

// bf16 mixed precision: the sampler (bf16 KV cache) against the bf16 trainer on the GPU. The two
// group their fp32 sums differently (one token against the cache, or whole sequences, and
// cuBLASLt may pick other tiles for the two shapes), so an intermediate value now and then lands
// on the neighbouring bf16 (2^-8 relative): log-probabilities within a few 1e-2.
TEST(SamplerGpu, Bf16LogprobsMatchTheBf16Trainer) {
#ifdef CHAMBER_HAVE_CUDA
  if (!cuda_device_available()) GTEST_SKIP() << "no CUDA device on this machine";
  double worst = check_sampler_matches_own_trainer(cuda_bf16_ops(), 5e-2);
  std::printf("bf16 sampler vs bf16 trainer on the GPU: worst log-probability difference %.3g\n",
              worst);
#else
  GTEST_SKIP() << "built without CUDA";
#endif
}

}  // namespace
}  // namespace chamber::testing
