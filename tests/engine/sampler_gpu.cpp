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

}  // namespace
}  // namespace chamber::testing
