// The pretraining step on the emulated CUDA kernels, where the backend has graph ops: each
// micro-step is captured once and then replayed (kernels/simt.h records the captured work with
// its arguments by value, as a CUDA graph does), and the replays must give exactly what running
// the same ops one by one gives, in fp32 and in bf16. Against the step with host round trips the
// weights are equal bit for bit too (the clipping scale is the same arithmetic on the same sum of
// squares); the loss differs only in the order of its double sum. See train_step_cases.h.
#include <cmath>

#include "kernels/simt_backend.h"
#include "tests/engine/train_step_cases.h"

namespace chamber::testing {
namespace {

void expect_graphs_replay_exactly(const Ops& ops, int logit_rows = 0) {
  TrainRun op_by_op = run_training(ops, StepPath::on_backend, false, 3, 2, 3, 7, logit_rows);
  TrainRun graphs = run_training(ops, StepPath::on_backend, true, 3, 2, 3, 7, logit_rows);
  EXPECT_EQ(op_by_op.graphs, 0u);
  EXPECT_EQ(graphs.graphs, 1u);  // one shape, captured on its second micro-step
  EXPECT_EQ(graphs.losses, op_by_op.losses);
  EXPECT_EQ(graphs.grad_norms, op_by_op.grad_norms);
  EXPECT_EQ(graphs.params, op_by_op.params);

  if (logit_rows) return;  // the step with host round trips keeps every row's logits
  TrainRun host = run_training(ops, StepPath::host_round_trips, false, 3, 2, 3, 7);
  EXPECT_EQ(graphs.params, host.params);
  EXPECT_EQ(graphs.grad_norms, host.grad_norms);
  for (size_t s = 0; s < host.losses.size(); s++)
    EXPECT_NEAR(graphs.losses[s], host.losses[s], 1e-12 * std::fabs(host.losses[s]));
}

TEST(TrainStepSimt, GraphReplaysMatchOpByOpExactly) { expect_graphs_replay_exactly(simt_ops()); }
TEST(TrainStepSimt, Bf16GraphReplaysMatchOpByOpExactly) {
  expect_graphs_replay_exactly(simt_bf16_ops());
}

// The LM head and classifier over chunks of 8 rows inside the captured micro-step.
TEST(TrainStepSimt, ChunkedLogitsGraphReplaysMatchOpByOpExactly) {
  expect_graphs_replay_exactly(simt_ops(), 8);
}
TEST(TrainStepSimt, ChunkedLogitsMatchOneChunk) { expect_chunked_logits_match(simt_ops()); }

// A second batch shape gets its own graph; going back to the first replays the first one.
TEST(TrainStepSimt, EachBatchShapeHasItsGraph) {
  const Ops& ops = simt_ops();
  const ModelConfig c = train_step_config();
  GPT m;
  gpt_create(m, c, ops, 3, 7, true);
  gpt_init_parameters(m, 5);
  std::vector<int> tokens = random_tokens(21, c.vocab_size, 1), targets = random_tokens(21, c.vocab_size, 2);
  std::vector<float> weights(21, 0.05f);
  auto step = [&](int B, int T) {
    gpt_step_begin(m);
    gpt_train_micro_step(m, tokens.data(), targets.data(), weights.data(), B, T);
    return gpt_read_step(m).loss;
  };
  double first = step(3, 7);
  EXPECT_EQ(step(3, 7), first);  // captured and replayed: the same loss (no update in between)
  EXPECT_EQ(step(3, 7), first);
  double smaller = step(2, 5);
  EXPECT_EQ(step(2, 5), smaller);
  EXPECT_EQ(step(3, 7), first);
  ASSERT_EQ(m.micro_step_graphs.size(), 2u);
  EXPECT_NE(m.micro_step_graphs[0].work.graph, nullptr);
  EXPECT_NE(m.micro_step_graphs[1].work.graph, nullptr);
  gpt_destroy(m);
}

// Work that fails inside a capture (here a host copy, which a capture forbids) ends the capture
// on its way out: the error reaches the caller and the next capture works.
TEST(TrainStepSimt, AFailedCaptureLeavesTheBackendUsable) {
  const Ops& ops = simt_ops();
  GPT m;
  gpt_create(m, train_step_config(), ops, 2, 5, true);
  double host = 0.0;
  std::string error = error_of([&] {
    gpt_capture(m, [&] { ops.to_host(&host, m.acts.loss_sum, sizeof(double)); });
  });
  EXPECT_TRUE(contains(error, "capturing")) << error;
  void* graph = gpt_capture(m, [&] { ops.zero(m.acts.loss_sum, sizeof(double)); });
  EXPECT_TRUE(ops.graph_launch(graph));
  ops.graph_destroy(graph);
  gpt_destroy(m);
}

TEST(TrainStepSimt, KeptStepsReadAsEachStepReads) { expect_kept_steps_read_alike(simt_ops()); }
TEST(TrainStepSimt, Bf16KeptStepsReadAsEachStepReads) {
  expect_kept_steps_read_alike(simt_bf16_ops());
}

TEST(TrainStepSimt, NonFiniteNormSkipsTheUpdate) {
  expect_non_finite_norm_skips_update(simt_ops());
  expect_non_finite_norm_skips_update(simt_bf16_ops());
}

}  // namespace
}  // namespace chamber::testing
