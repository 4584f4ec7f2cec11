// The pretraining step without host round trips on the CPU backends: bit for bit the step written
// with them (the CPU sums the loss and clips in the same order and arithmetic), so every measured
// CPU run stands. See train_step_cases.h.
#include "tests/engine/train_step_cases.h"

#include "kernels/cpu_fast.h"

namespace chamber::testing {
namespace {

void expect_same_training(const Ops& ops) {
  TrainRun host = run_training(ops, StepPath::host_round_trips, false, 3, 2, 3, 7);
  TrainRun device = run_training(ops, StepPath::on_backend, true, 3, 2, 3, 7);
  EXPECT_EQ(device.losses, host.losses);
  EXPECT_EQ(device.grad_norms, host.grad_norms);
  EXPECT_EQ(device.params, host.params);
  EXPECT_EQ(device.graphs, 0u);  // the CPU has no graph ops: always op by op
}

TEST(TrainStep, ReferenceBackendMatchesHostRoundTripsBitForBit) {
  expect_same_training(reference_ops());
}
TEST(TrainStep, FastCpuMatchesHostRoundTripsBitForBit) { expect_same_training(cpu_fast_ops()); }

TEST(TrainStep, ChunkedLogitsMatchOneChunk) {
  expect_chunked_logits_match(reference_ops());
  expect_chunked_logits_match(cpu_fast_ops());
}

TEST(TrainStep, KeptStepsReadAsEachStepReadsReference) {
  expect_kept_steps_read_alike(reference_ops());
}
TEST(TrainStep, KeptStepsReadAsEachStepReadsFastCpu) { expect_kept_steps_read_alike(cpu_fast_ops()); }

TEST(TrainStep, NonFiniteNormSkipsTheUpdate) {
  expect_non_finite_norm_skips_update(reference_ops());
  expect_non_finite_norm_skips_update(cpu_fast_ops());
}

}  // namespace
}  // namespace chamber::testing
