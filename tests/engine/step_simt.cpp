// A whole training step of the `cuda` code path under the SIMT emulator matches the CPU engine:
// the same model code (engine/model.cpp) runs once over reference_ops() and once over simt_ops()
// (the CUDA kernel sources on the CPU, the cuBLASLt calls replaced by the reference GEMM), from
// the same initial parameters and batch: forward, fused classifier, backward (value head
// included), global gradient norm, clipped AdamW, then a second forward on the updated weights.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "kernels/cpu_fast.h"
#include "kernels/cuda_launchers.h"
#include "kernels/simt_backend.h"
#include "tests/engine/step_cases.h"

namespace chamber::testing {
namespace {

void check_step_matches(bool tied) {
  ModelConfig c = step_config(tied);
  const int B = 2, T = 11;  // T not a multiple of anything the kernels tile by
  StepResult want = run_step(reference_ops(), c, B, T);
  StepResult got = run_step(simt_ops(), c, B, T);
  expect_step_matches_fp32(got, want, 1.0);
  EXPECT_LT(got.loss_after, got.loss) << "one step on the batch should lower its loss";
}

TEST(StepSimt, TiedEmbeddingsMatchesCpu) { check_step_matches(true); }
// The same step with attention through products over T x T scores (what a GPU picks while the
// scratch fits) instead of the flash kernels.
TEST(StepSimt, MaterializedAttentionMatchesCpu) {
  using cuda_emulated::AttentionKernels;
  AttentionKernels saved = cuda_emulated::attention_preference();
  cuda_emulated::set_attention_preference(AttentionKernels::kMaterialized);
  check_step_matches(false);
  cuda_emulated::set_attention_preference(saved);
}
TEST(StepSimt, UntiedHeadMatchesCpu) { check_step_matches(false); }

// The fused residual + LayerNorm forward of the emulated tables (fp32 and bf16) and of the fast
// CPU table gives the model the bits of residual_forward then layernorm_forward.
TEST(StepSimt, FusedResidualLayernormGivesTheBitsOfTheTwoOps) {
  expect_fused_residual_layernorm_matches(simt_ops());
  expect_fused_residual_layernorm_matches(simt_bf16_ops());
  expect_fused_residual_layernorm_matches(cpu_fast_ops());
}

}  // namespace
}  // namespace chamber::testing
