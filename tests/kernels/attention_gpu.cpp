// attention cases on the GPU (skipped without one); the cases are in attention_cases.h.
#include <string>

#include "tests/kernels/attention_bf16_cases.h"
#include "tests/kernels/attention_cases.h"
#ifdef CHAMBER_HAVE_CUDA
#include "kernels/cuda_backend.h"
#endif

namespace chamber::testing {
CHAMBER_GPU_CASES(AttentionCases);

// GPT-2 124M's attention shape (hs 64, T 1024) with 2 sequences: 16 query tiles per head, the
// flash kernels' full-speed path. Tolerances for TF32 tensor cores (inputs rounded to a 10-bit
// mantissa, 2^-11 relative): scores, probabilities and values each carry ~5e-4 relative error,
// which averages down over the long sums. The emulator's TF32 path (the same rounding, fp32
// accumulation; attention_simt.cpp) measures relative L2 errors of 3.6e-4 (out) to 5.8e-4 (dq)
// at T = 1024, hs 64, and elementwise at most 0.04 of a (2e-2, 2e-2) bound, so the bounds here,
// 2e-3 in relative L2 norm and 5e-3 absolute plus 5e-3 relative per element (the GPU cases'
// TF32 tolerance, backend_cases.h), leave 3-7x for the hardware's own accumulation order.
//
// Run once per implementation: what the backend picks by itself (cuBLASLt over T x T scores, as
// the scratch fits), and each of the two named.
void check_gpt2_shape(const Ops& ops, const char* kernels) {
#ifdef CHAMBER_HAVE_CUDA
  if (ops.name != std::string("cuda")) return;  // the emulated backend's cases are the simt ones
  cuda_set_attention_kernels(kernels);
#endif
  std::printf("attention kernels: %s\n", kernels);
  AttentionProblem p(2, 1024, 768, 12, 57);
  AttentionResult got = run_attention(ops, p);
#ifdef CHAMBER_HAVE_CUDA
  cuda_set_attention_kernels("auto");
#endif
  expect_attention_relative_l2(got, p, 2e-3);
  expect_attention_close(got, p, {5e-3, 5e-3});
}
TEST_P(AttentionCases, Gpt2Shape) { check_gpt2_shape(*ops, "auto"); }
TEST_P(AttentionCases, Gpt2ShapeMaterialized) { check_gpt2_shape(*ops, "materialized"); }
TEST_P(AttentionCases, Gpt2ShapeFlash) { check_gpt2_shape(*ops, "flash"); }

// The bf16 table (cuda_bf16_ops()): attention_bf16.cu's mma.sync flash kernels at every head size
// they take by its padding (8, 24: a half-zero last k step; 16, 32, 64: none), with ragged last
// tiles; small enough for the kit's compute-sanitizer runs (memcheck, racecheck). Bounds:
// attention_bf16_cases.h.
TEST(AttentionBf16Gpu, FlashMatchesTheReferenceAtEveryPaddedHeadSize) {
#ifdef CHAMBER_HAVE_CUDA
  if (!cuda_device_available()) GTEST_SKIP() << "no usable CUDA GPU on this machine";
  const Ops& ops = cuda_bf16_ops();
  cuda_set_attention_kernels("flash");
  check_bf16_flash_attention(ops, 2, 45, 48, 3, 91);
  check_bf16_flash_attention(ops, 1, 66, 16, 2, 92);
  check_bf16_flash_attention(ops, 1, 70, 48, 2, 93);
  check_bf16_flash_attention(ops, 1, 83, 64, 2, 94);
  check_bf16_flash_attention(ops, 1, 77, 128, 2, 95);
  check_bf16_flash_attention(ops, 1, 300, 128, 2, 96);  // 3 query tiles of 128, 5 key tiles
  cuda_set_attention_kernels("auto");
#else
  GTEST_SKIP() << "this build has no CUDA backend (nvcc was not found)";
#endif
}

// GPT-2's shape (2 x 1024, 12 heads of 64: 8 blocks of 128 queries and 16 key tiles per head) on
// the flash kernels, then on the materialised path, which auto picks at this size.
TEST(AttentionBf16Gpu, Gpt2ShapeFlashAndMaterialized) {
#ifdef CHAMBER_HAVE_CUDA
  if (!cuda_device_available()) GTEST_SKIP() << "no usable CUDA GPU on this machine";
  const Ops& ops = cuda_bf16_ops();
  cuda_set_attention_kernels("flash");
  check_bf16_flash_attention(ops, 2, 1024, 768, 12, 97);
  cuda_set_attention_kernels("materialized");
  check_bf16_attention(ops, 2, 1024, 768, 12, 97, 4 * kAttentionBf16Rel, 8 * kAttentionBf16Rel,
                       "materialized");
  cuda_set_attention_kernels("auto");
#else
  GTEST_SKIP() << "this build has no CUDA backend (nvcc was not found)";
#endif
}
}  // namespace chamber::testing
