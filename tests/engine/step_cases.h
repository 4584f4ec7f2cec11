// A whole training step (forward, fused classifier, backward with the value head, global gradient
// norm, clipped AdamW, a second forward) of the one model code over a given backend, for the
// step_simt (SIMT emulator) and step_gpu (real GPU) comparisons against the reference engine.
#pragma once
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "engine/model.h"
#include "tests/test_util.h"

namespace chamber::testing {

inline ModelConfig step_config(bool tied) {
  ModelConfig c;
  c.vocab_size = 45;     // padded to 64: padding columns in the classifier
  c.n_layer = 2;
  c.n_head = 3;
  c.n_embd = 24;         // head size 8
  c.context_length = 13;
  c.tied_embeddings = tied;
  c.value_head = true;
  model_config_finalize(c);
  return c;
}

struct StepResult {
  double loss, grad_norm, loss_after;
  std::vector<float> losses, values, grads, params;
};

inline StepResult run_step(const Ops& ops, const ModelConfig& c, int B, int T) {
  GPT m;
  gpt_create(m, c, ops, B, T, true);
  gpt_init_parameters(m, 1234);
  // Bigger than GPT-2's init so every path (value head included) carries a visible gradient.
  std::vector<float> p = gpt_parameters_to_host(m);
  std::vector<float> noise = random_vector(p.size(), 99, -0.3f, 0.3f);
  for (size_t i = 0; i < p.size(); i++) p[i] += noise[i];
  gpt_parameters_from_host(m, p);

  std::vector<int> tokens = random_tokens(B * T, c.vocab_size, 5);
  std::vector<int> targets = random_tokens(B * T, c.vocab_size, 6);
  targets[4] = -1;  // a masked position
  std::vector<float> weights = random_vector(B * T, 7, 0.2f, 1.0f);
  std::vector<float> dvalues = random_vector(B * T, 8);

  StepResult r;
  gpt_zero_grad(m);
  gpt_forward(m, tokens.data(), B, T);
  r.loss = gpt_classifier(m, targets.data(), weights.data(), true);
  r.losses.resize(B * T);
  r.values.resize(B * T);
  gpt_copy_losses(m, r.losses.data());
  gpt_copy_values(m, r.values.data());
  gpt_backward(m, dvalues.data());
  r.grads.resize(m.grad_arena.bytes / sizeof(float));
  ops.to_host(r.grads.data(), m.grad_arena.base, m.grad_arena.bytes);
  r.grad_norm = gpt_grad_norm(m);
  // eps = 1e-3 keeps the first AdamW step ~linear in the gradient: with a tiny eps it is
  // lr * sign(g), and round-off-sized gradients would flip signs between the backends.
  gpt_adamw_step(m, {.lr = 1e-2f, .beta1 = 0.9f, .beta2 = 0.95f, .eps = 1e-3f, .weight_decay = 0.1f,
                     .grad_scale = (float)std::min(1.0, 1.0 / r.grad_norm)});
  r.params = gpt_parameters_to_host(m);
  gpt_forward(m, tokens.data(), B, T);
  r.loss_after = gpt_classifier(m, targets.data(), weights.data(), false);
  gpt_destroy(m);
  return r;
}

// The activations (every byte of the arena) after one forward over `ops`, from fixed weights and
// tokens.
inline std::vector<unsigned char> forward_activations(const Ops& ops, const ModelConfig& c, int B,
                                                      int T) {
  GPT m;
  gpt_create(m, c, ops, B, T, false);
  gpt_init_parameters(m, 21);
  std::vector<int> tokens = random_tokens(B * T, c.vocab_size, 22);
  gpt_forward(m, tokens.data(), B, T);
  std::vector<unsigned char> bytes(m.act_arena.bytes);
  ops.to_host(bytes.data(), m.act_arena.base, bytes.size());
  gpt_destroy(m);
  return bytes;
}

// A table's fused residual + LayerNorm leaves the model's activations exactly as the two ops it
// replaces do: a forward over the table and one over a copy without the fused op (the model then
// calls residual_forward and layernorm_forward) fill the arena with the same bytes.
inline void expect_fused_residual_layernorm_matches(const Ops& ops) {
  SCOPED_TRACE(ops.name);
  ASSERT_TRUE(supports(ops, OpId::residual_layernorm_forward));
  Ops unfused = ops;
  unfused.residual_layernorm_forward = nullptr;
  ModelConfig c = step_config(true);
  EXPECT_EQ(forward_activations(ops, c, 2, 11), forward_activations(unfused, c, 2, 11));
}

// float32 end to end in both engines, summed in different orders through two layers and their
// backward: step_simt.cpp's bounds (measured worst cases there: losses ~2e-7 relative, gradients
// ~4e-5 relative on the smallest ones, parameters after the step ~8e-7; the bounds leave ~10x),
// times `slack`.
inline void expect_step_matches_fp32(const StepResult& got, const StepResult& want, double slack) {
  EXPECT_NEAR(got.loss, want.loss, slack * 1e-5 * std::fabs(want.loss));
  EXPECT_ALL_CLOSE(got.losses, want.losses, slack * 1e-6, slack * 1e-5);
  EXPECT_ALL_CLOSE(got.values, want.values, slack * 1e-6, slack * 1e-5);
  EXPECT_ALL_CLOSE(got.grads, want.grads, slack * 1e-6, slack * 1e-4);
  EXPECT_NEAR(got.grad_norm, want.grad_norm, slack * 1e-5 * want.grad_norm);
  EXPECT_ALL_CLOSE(got.params, want.params, slack * 1e-6, slack * 1e-5);
  EXPECT_NEAR(got.loss_after, want.loss_after, slack * 1e-5 * std::fabs(want.loss_after));
}

}  // namespace chamber::testing
