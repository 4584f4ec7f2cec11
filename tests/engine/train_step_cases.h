// The pretraining step as train/pretrain.cpp runs it (gpt_step_begin, gpt_train_micro_step, the
// gradient norm and the clipping on the backend, gpt_read_step) against the step written with
// host round trips (gpt_forward, gpt_classifier, gpt_backward, gpt_grad_norm, clip_grad_scale on
// the host), and with its micro-steps replayed as graphs against op by op. Shared by the CPU
// tests (train_step_test.cpp), the emulated CUDA kernels (train_step_simt.cpp) and the GPU
// (train_step_gpu.cpp).
#pragma once
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "engine/model.h"
#include "kernels/adamw.h"
#include "tests/test_util.h"

namespace chamber::testing {

inline ModelConfig train_step_config() {
  return model_config_of(/*vocab*/ 45, /*layers*/ 2, /*heads*/ 3, /*C*/ 24, /*context*/ 13);
}

struct TrainRun {
  std::vector<double> losses, grad_norms;
  std::vector<float> params;
  size_t graphs = 0;  // micro-step graphs the model made
};

// on_backend reads each step (gpt_read_step); kept keeps them (gpt_keep_step), evaluates a loss
// between steps as pretraining may, and reads them all at the end (gpt_read_kept_steps).
enum class StepPath { host_round_trips, on_backend, kept };

// `steps` steps of `accum` micro-batches of (B, T) random tokens, clipped to a norm of 0.5 (the
// gradients here are larger, so clipping acts), lr 1e-2. Batches depend on the step only.
// logit_rows > 0: the model keeps logits for that many rows and the step makes them in chunks.
inline TrainRun run_training(const Ops& ops, StepPath path, bool graphs, int steps, int accum,
                             int B, int T, int logit_rows = 0) {
  const ModelConfig c = train_step_config();
  GPT m;
  gpt_create(m, c, ops, B, T, true, {}, logit_rows);
  gpt_init_parameters(m, 77);
  m.use_graphs = graphs;
  const int N = B * T;
  std::vector<std::vector<int>> tokens, targets;
  for (int k = 0; k < steps * accum; k++) {
    tokens.push_back(random_tokens(N, c.vocab_size, 1000 + k));
    targets.push_back(random_tokens(N, c.vocab_size, 2000 + k));
    targets.back()[3] = -1;  // a masked position
  }
  std::vector<float> weights(N, 1.0f / (float)(N * accum));
  const float max_norm = 0.5f;
  TrainRun run;
  for (int s = 0; s < steps; s++) {
    AdamWSettings adamw{.lr = 1e-2f, .beta1 = 0.9f, .beta2 = 0.95f, .eps = 1e-8f,
                        .weight_decay = 0.1f};
    if (path != StepPath::host_round_trips) {
      gpt_step_begin(m);
      for (int k = s * accum; k < (s + 1) * accum; k++)
        gpt_train_micro_step(m, tokens[k].data(), targets[k].data(), weights.data(), B, T);
      gpt_compute_grad_norm(m);
      adamw.clip_by_device_norm = true;
      adamw.max_grad_norm = max_norm;
      gpt_adamw_step(m, adamw);
      if (path == StepPath::kept) {
        gpt_keep_step(m);
        gpt_eval_loss(m, tokens[0].data(), targets[0].data(), B, T);  // reuses the loss sum
        continue;
      }
      StepScalars read = gpt_read_step(m);
      run.losses.push_back(read.loss);
      run.grad_norms.push_back(read.grad_norm);
    } else {
      gpt_zero_grad(m);
      double loss = 0.0;
      for (int k = s * accum; k < (s + 1) * accum; k++) {
        gpt_forward(m, tokens[k].data(), B, T);
        loss += gpt_classifier(m, targets[k].data(), weights.data(), true);
        gpt_backward(m);
      }
      double norm = gpt_grad_norm(m);
      adamw.grad_scale = clip_grad_scale(norm, max_norm);
      gpt_adamw_step(m, adamw);
      run.losses.push_back(loss);
      run.grad_norms.push_back(norm);
    }
  }
  if (path == StepPath::kept)
    for (const StepScalars& read : gpt_read_kept_steps(m)) {
      run.losses.push_back(read.loss);
      run.grad_norms.push_back(read.grad_norm);
    }
  run.params = gpt_parameters_to_host(m);
  for (const GPT::MicroStepGraph& g : m.micro_step_graphs) run.graphs += g.work.graph != nullptr;
  gpt_destroy(m);
  return run;
}

// Steps kept on the backend and read together give each step's loss and norm as reading every
// step does, bit for bit, and the same weights; more than kMaxUnreadSteps unread is refused.
inline void expect_kept_steps_read_alike(const Ops& ops) {
  TrainRun each = run_training(ops, StepPath::on_backend, true, 4, 2, 3, 7);
  TrainRun kept = run_training(ops, StepPath::kept, true, 4, 2, 3, 7);
  ASSERT_EQ(kept.losses.size(), 4u);
  EXPECT_EQ(kept.losses, each.losses);
  EXPECT_EQ(kept.grad_norms, each.grad_norms);
  EXPECT_EQ(kept.params, each.params);

  GPT m;
  gpt_create(m, train_step_config(), ops, 2, 5, true);
  EXPECT_TRUE(gpt_read_kept_steps(m).empty());
  for (int s = 0; s < kMaxUnreadSteps; s++) gpt_keep_step(m);
  std::string error = error_of([&] { gpt_keep_step(m); });
  EXPECT_TRUE(contains(error, "steps are kept unread; call gpt_read_kept_steps first")) << error;
  EXPECT_EQ(gpt_read_kept_steps(m).size(), (size_t)kMaxUnreadSteps);
  gpt_keep_step(m);  // the slots are free again
  EXPECT_EQ(gpt_read_kept_steps(m).size(), 1u);
  gpt_destroy(m);
}

// A non-finite gradient norm leaves every weight as it was (the update is skipped on the backend).
inline void expect_non_finite_norm_skips_update(const Ops& ops) {
  const ModelConfig c = train_step_config();
  GPT m;
  gpt_create(m, c, ops, 2, 5, true);
  gpt_init_parameters(m, 3);
  std::vector<float> before = gpt_parameters_to_host(m);
  std::vector<float> grads(m.grad_arena.bytes / sizeof(float), 0.25f);
  grads[17] = NAN;
  ops.from_host(m.grad_arena.base, grads.data(), m.grad_arena.bytes);
  gpt_compute_grad_norm(m);
  gpt_adamw_step(m, {.lr = 1e-2f, .beta1 = 0.9f, .beta2 = 0.95f, .eps = 1e-8f, .weight_decay = 0.1f,
                     .clip_by_device_norm = true, .max_grad_norm = 1.0f});
  EXPECT_FALSE(std::isfinite(gpt_read_step(m).grad_norm));
  EXPECT_EQ(gpt_parameters_to_host(m), before);
  gpt_destroy(m);
}

// Logits in chunks of 8 rows (a batch of 21: chunks of 8, 8 and 5) against one chunk: the same
// losses and weights up to the order of the sums over rows (the LM head's weight gradient and the
// loss add the chunks one after another), and bit for bit when the chunk holds the whole batch.
inline void expect_chunked_logits_match(const Ops& ops) {
  TrainRun whole = run_training(ops, StepPath::on_backend, true, 3, 2, 3, 7);
  TrainRun exact = run_training(ops, StepPath::on_backend, true, 3, 2, 3, 7, 21);
  EXPECT_EQ(exact.losses, whole.losses);
  EXPECT_EQ(exact.params, whole.params);
  TrainRun chunked = run_training(ops, StepPath::on_backend, true, 3, 2, 3, 7, 8);
  for (size_t s = 0; s < whole.losses.size(); s++) {
    EXPECT_NEAR(chunked.losses[s], whole.losses[s], 1e-6 * std::fabs(whole.losses[s]));
    EXPECT_NEAR(chunked.grad_norms[s], whole.grad_norms[s], 1e-5 * whole.grad_norms[s]);
  }
  // Three AdamW steps at lr 1e-2 after gradients that differ in float rounding (measured: 1.1e-6
  // under the emulator; AdamW's m / sqrt(v) magnifies the rounding of small gradients).
  EXPECT_LT(relative_l2(chunked.params, whole.params), 1e-5);

  // Evaluation on the chunked model: gpt_eval_loss against the full forward of an uncapped one;
  // gpt_forward refuses a batch larger than the chunk.
  const ModelConfig c = train_step_config();
  GPT capped, full;
  gpt_create(capped, c, ops, 3, 7, false, {}, 8);
  gpt_create(full, c, ops, 3, 7, false);
  gpt_init_parameters(capped, 9);
  gpt_init_parameters(full, 9);
  std::vector<int> tokens = random_tokens(21, c.vocab_size, 5), targets = random_tokens(21, c.vocab_size, 6);
  targets[2] = -1;
  gpt_forward(full, tokens.data(), 3, 7);
  double want = gpt_classifier(full, targets.data(), nullptr, false);
  EXPECT_NEAR(gpt_eval_loss(capped, tokens.data(), targets.data(), 3, 7), want, 1e-6 * want);
  EXPECT_NEAR(gpt_eval_loss(full, tokens.data(), targets.data(), 3, 7), want, 1e-12 * want);
  std::string error = error_of([&] { gpt_forward(capped, tokens.data(), 3, 7); });
  EXPECT_TRUE(contains(error, "keeps logits for 8 rows")) << error;
  gpt_destroy(capped);
  gpt_destroy(full);
}

}  // namespace chamber::testing
