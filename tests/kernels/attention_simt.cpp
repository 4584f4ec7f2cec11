// attention cases under the SIMT emulator; the cases are in attention_cases.h. Beside them, the
// kernels the emulated Ops table does not pick by itself, called through their launcher: the
// flash kernels with TF32 inputs (the GPU's arithmetic, run on the CPU) and the SIMT kernels at
// head sizes the tensor cores take.
#include <array>

#include "kernels/cuda_launchers.h"
#include "tests/kernels/attention_cases.h"

namespace chamber::testing {
CHAMBER_SIMT_CASES(AttentionCases);

namespace {

using cuda_emulated::AttentionKernels;

// run_attention through the emulated launchers with a named kernel choice (host memory).
AttentionResult run_emulated(const AttentionProblem& p, AttentionKernels kernels) {
  AttentionResult r{nan_vector(p.out.size()), nan_vector(p.lse.size()), p.dqkv0};
  cuda_emulated::attention_forward(r.out.data(), r.lse.data(), p.qkv.data(), p.B, p.T, p.C, p.NH,
                                   nullptr, kernels);
  std::vector<float> ref_out = narrow(p.out), ref_lse = narrow(p.lse);
  cuda_emulated::attention_backward(r.dqkv.data(), p.dout.data(), p.qkv.data(), ref_out.data(),
                                    ref_lse.data(), p.B, p.T, p.C, p.NH, nullptr, kernels);
  return r;
}

// TF32 as on the GPU: the tolerance is the GPU cases' (backend_cases.h, gemm_tolerance), and the
// relative L2 bound is attention_gpu.cpp's.
TEST(AttentionSimt, Tf32TensorCoresMatchTheReference) {
  for (auto [B, T, C, NH] : {std::array{2, 100, 128, 2}, std::array{3, 37, 48, 3},
                             std::array{1, 130, 24, 3}}) {
    SCOPED_TRACE(::testing::Message() << "B " << B << " T " << T << " C " << C << " NH " << NH);
    AttentionProblem p(B, T, C, NH, 60 + T);
    AttentionResult got = run_emulated(p, AttentionKernels::kTensorCores);
    expect_attention_close(got, p, {5e-3, 5e-3});
    expect_attention_relative_l2(got, p, 2e-3);
  }
}

// The SIMT kernels at a tensor-core head size (hs 64, ragged second tile): fp32 throughout.
TEST(AttentionSimt, SimtKernelsAtTensorCoreShapes) {
  AttentionProblem p(2, 100, 128, 2, 61);
  expect_attention_close(run_emulated(p, AttentionKernels::kSimt), p, f32_tolerance(4 * 100));
}

// cuBLASLt over T x T scores (the GPU's pick while its scratch fits), here with the emulated gemm:
// fp32 throughout, at a tensor-core head size, an odd one and a sequence of one token.
TEST(AttentionSimt, MaterializedMatchesTheReference) {
  for (auto [B, T, C, NH] : {std::array{2, 100, 128, 2}, std::array{1, 37, 20, 4},
                             std::array{3, 1, 48, 3}}) {
    SCOPED_TRACE(::testing::Message() << "B " << B << " T " << T << " C " << C << " NH " << NH);
    AttentionProblem p(B, T, C, NH, 70 + T);
    expect_attention_close(run_emulated(p, AttentionKernels::kMaterialized), p,
                           f32_tolerance(4 * 100));
  }
}

// The automatic choice honours a preference where it applies, and the scratch it reports is the
// chosen path's.
TEST(AttentionSimt, PreferenceChoosesTheKernels) {
  using cuda_emulated::attention_kernels_for;
  AttentionKernels saved = cuda_emulated::attention_preference();
  cuda_emulated::set_attention_preference(AttentionKernels::kMaterialized);
  EXPECT_EQ(attention_kernels_for(2, 64, 128, 2), AttentionKernels::kMaterialized);
  EXPECT_EQ(cuda_emulated::attention_scratch_bytes(2, 64, 128, 2), 2u * 2 * 2 * 64 * 64 * 4);
  // Past kMaterializedAttentionMaxBytes of scratch the flash kernels take over.
  EXPECT_EQ(attention_kernels_for(64, 4096, 768, 12), AttentionKernels::kTensorCoresFp32);
  cuda_emulated::set_attention_preference(AttentionKernels::kAuto);
  EXPECT_EQ(attention_kernels_for(2, 64, 128, 2), AttentionKernels::kTensorCoresFp32);
  EXPECT_EQ(attention_kernels_for(2, 64, 20, 4), AttentionKernels::kSimt);  // hs 5
  EXPECT_EQ(cuda_emulated::attention_scratch_bytes(2, 64, 20, 4), 2u * 4 * 64 * 4);
  cuda_emulated::set_attention_preference(saved);
}

TEST(AttentionSimt, TensorCoresRefuseOtherHeadSizes) {
  AttentionProblem p(1, 9, 20, 4, 62);  // hs 5
  EXPECT_THROW(run_emulated(p, AttentionKernels::kTensorCores), Error);
  AttentionProblem wide(1, 9, 144, 2, 63);  // hs 72
  EXPECT_THROW(run_emulated(wide, AttentionKernels::kTensorCoresFp32), Error);
}

}  // namespace
}  // namespace chamber::testing
