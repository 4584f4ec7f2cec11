// Every op of the list on the two CPU backends, the reference in float and the fast CPU path
// (the cases are in all_backends_cases.h); and the list itself: it names every member of the
// table, and its names, phases and supports() answer for each op.
#include <cstddef>
#include <cstring>

#include "kernels/cpu_fast.h"
#include "tests/kernels/all_backends_cases.h"

namespace chamber::testing {

INSTANTIATE_TEST_SUITE_P(
    Cpu, AllBackendOps,
    ::testing::Values(Backend{"reference", reference_ops, [] { return true; }, false},
                      Backend{"cpu", cpu_fast_ops, [] { return true; }, false}),
    backend_name);

// Ops is its name followed by one function pointer per entry of the list, and nothing else.
static_assert(sizeof(Ops) == offsetof(Ops, alloc) + kNumOps * sizeof(void (*)()));

TEST(OpList, NamesPhasesAndSupport) {
  EXPECT_EQ(kNumOps, 37);
  EXPECT_STREQ(op_name(OpId::alloc), "alloc");
  EXPECT_STREQ(op_name(OpId::classifier_forward_backward), "classifier_forward_backward");
  EXPECT_STREQ(op_name(OpId::adamw_update), "adamw_update");
  EXPECT_STREQ(op_phase(OpId::zero), "memory");
  EXPECT_STREQ(op_phase(OpId::layernorm_backward), "backward");
  EXPECT_STREQ(op_phase(OpId::classifier_forward_backward), "classifier");
  EXPECT_STREQ(op_phase(OpId::sample_tokens), "sampling");
  EXPECT_STREQ(op_phase(OpId::sum_squares), "optimizer");
  EXPECT_STREQ(op_phase(OpId::graph_launch), "graph");
  const Ops& ops = reference_ops();
  EXPECT_TRUE(supports(ops, OpId::matmul_forward));
  EXPECT_TRUE(supports(ops, OpId::attention_decode));
  EXPECT_FALSE(supports(ops, OpId::matmul_gelu_forward));  // the model calls matmul, then GELU
  EXPECT_FALSE(supports(ops, OpId::matmul_gelu_backward));
  EXPECT_FALSE(supports(ops, OpId::residual_layernorm_forward));  // residual, then LayerNorm
  EXPECT_TRUE(supports(cpu_fast_ops(), OpId::residual_layernorm_forward));
  EXPECT_FALSE(supports(ops, OpId::range_push));
  EXPECT_FALSE(supports(ops, OpId::capture_begin));  // the CPU runs every op when called
  Ops without = ops;
  without.sample_tokens = nullptr;
  EXPECT_FALSE(supports(without, OpId::sample_tokens));
  for (int i = 0; i < kNumOps; i++)  // every name is distinct and non-empty
    for (int j = 0; j < i; j++) EXPECT_STRNE(op_name((OpId)i), op_name((OpId)j));
}

}  // namespace chamber::testing
