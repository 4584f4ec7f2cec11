// The KV-cache sampler over the CUDA kernels under the SIMT emulator (attention_decode,
// sample_tokens and the rest): the same draws as the reference sampler, and log-probabilities
// that are the reference full forward's.
#include "kernels/simt_backend.h"
#include "engine/model_decode.h"
#include "tests/engine/sampler_cases.h"

namespace chamber::testing {
namespace {

// float32 in both, summed in other orders: log-probabilities agree to ~1e-6.
TEST(SamplerSimt, MatchesTheReferenceSampler) { check_sampler_on_backend(simt_ops(), 2e-5, true); }

// Decode steps replayed as graphs (engine/sampler.cpp's decode_and_draw) give exactly the
// completions and log-probabilities of the same steps run op by op, in fp32 and bf16, through a
// second generate call on the same sampler (its graphs replayed again, the cache rewritten).
void expect_decode_graphs_replay_exactly(const Ops& ops) {
  TestModel graphs(ops), op_by_op(ops);
  gpt_parameters_from_host(op_by_op.model, gpt_parameters_to_host(graphs.model));
  op_by_op.model.use_graphs = false;
  auto prompts = test_prompts(6, graphs.tok.vocab_size(), 900);
  Sampler s_graphs, s_ops;
  sampler_create(s_graphs, graphs.model, 6, 36);
  sampler_create(s_ops, op_by_op.model, 6, 36);
  SamplingParams p = sampling_params(1.0f, 20, 1.0f, 12);
  for (int call = 0; call < 2; call++) {
    Rng rng(31 + call), rng_ops(31 + call);
    auto got = sampler_generate(s_graphs, graphs.model, graphs.tok.token_bytes, graphs.tok.eot_id,
                                prompts, p, rng);
    auto want = sampler_generate(s_ops, op_by_op.model, op_by_op.tok.token_bytes,
                                 op_by_op.tok.eot_id, prompts, p, rng_ops);
    for (size_t i = 0; i < prompts.size(); i++) {
      EXPECT_EQ(got[i].tokens, want[i].tokens) << "call " << call << ", row " << i;
      EXPECT_EQ(got[i].logprobs, want[i].logprobs) << "call " << call << ", row " << i;
    }
  }
  size_t made = 0;
  for (const auto& g : s_graphs.cache->graphs) made += g.work.graph != nullptr;
  EXPECT_GT(made, 0u);
  EXPECT_TRUE(s_ops.cache->graphs.empty());
  sampler_destroy(s_graphs);
  sampler_destroy(s_ops);
}

TEST(SamplerSimt, DecodeGraphsReplayExactly) { expect_decode_graphs_replay_exactly(simt_ops()); }
TEST(SamplerSimt, Bf16DecodeGraphsReplayExactly) {
  expect_decode_graphs_replay_exactly(simt_bf16_ops());
}

}  // namespace
}  // namespace chamber::testing
