// The pretraining step on the GPU with each micro-step a captured CUDA graph, against the same
// ops run one by one, in fp32 and bf16 (train_step_cases.h; train_step_simt.cpp is the emulated
// twin). Skipped without a usable GPU or without the CUDA build.
#include <gtest/gtest.h>

#include <cstdio>

#include "tests/engine/train_step_cases.h"
#ifdef CHAMBER_HAVE_CUDA
#include "kernels/cuda_backend.h"
#endif

namespace chamber::testing {
namespace {

#ifdef CHAMBER_HAVE_CUDA
// The replays run the captured kernels with the captured arguments, so they should equal the op
// by op run; a kernel whose sum order varied between launches (float atomics) would show here
// as a small difference, which is allowed but printed.
void expect_graphs_match(const Ops& ops) {
  TrainRun op_by_op = run_training(ops, StepPath::on_backend, false, 3, 2, 3, 7);
  TrainRun graphs = run_training(ops, StepPath::on_backend, true, 3, 2, 3, 7);
  EXPECT_EQ(graphs.graphs, 1u);
  double params_error = relative_l2(graphs.params, op_by_op.params);
  std::printf("%s: graphs vs op by op, relative L2 of the weights %.2e, losses %.17g vs %.17g\n",
              ops.name, params_error, graphs.losses.back(), op_by_op.losses.back());
  EXPECT_LT(params_error, 1e-6);
  for (size_t s = 0; s < op_by_op.losses.size(); s++)
    EXPECT_NEAR(graphs.losses[s], op_by_op.losses[s], 1e-6 * std::fabs(op_by_op.losses[s]));
}
#endif

TEST(TrainStepGpu, GraphReplaysMatchOpByOp) {
#ifdef CHAMBER_HAVE_CUDA
  if (!cuda_device_available()) GTEST_SKIP() << "no usable CUDA GPU on this machine";
  expect_graphs_match(cuda_ops());
  expect_graphs_match(cuda_bf16_ops());
#else
  GTEST_SKIP() << "this build has no CUDA backend (nvcc was not found)";
#endif
}

// Deterministic kernels: steps read together equal steps read one by one, bit for bit.
TEST(TrainStepGpu, KeptStepsReadAsEachStepReads) {
#ifdef CHAMBER_HAVE_CUDA
  if (!cuda_device_available()) GTEST_SKIP() << "no usable CUDA GPU on this machine";
  expect_kept_steps_read_alike(cuda_ops());
  expect_kept_steps_read_alike(cuda_bf16_ops());
#else
  GTEST_SKIP() << "this build has no CUDA backend (nvcc was not found)";
#endif
}

TEST(TrainStepGpu, NonFiniteNormSkipsTheUpdate) {
#ifdef CHAMBER_HAVE_CUDA
  if (!cuda_device_available()) GTEST_SKIP() << "no usable CUDA GPU on this machine";
  expect_non_finite_norm_skips_update(cuda_ops());
  expect_non_finite_norm_skips_update(cuda_bf16_ops());
#else
  GTEST_SKIP() << "this build has no CUDA backend (nvcc was not found)";
#endif
}

}  // namespace
}  // namespace chamber::testing
