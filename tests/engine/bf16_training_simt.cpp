// bf16 mixed precision under the SIMT emulator: the bf16 CUDA table (simt_bf16_ops(): bf16
// activations, activation gradients and weight copy; fp32 master weights, weight gradients and
// AdamW state) running the one model code, against the fp32 CPU reference engine.
//
// Tolerances. bf16 keeps 8 significant bits, so every stored activation is off by up to 2^-9
// relative (0.2%), and the errors of a few dozen such roundings through two layers and their
// backward add up, mostly at random. The measured worst cases (noted at each check) sit 3-5x
// inside the bounds, which are sized to catch a wrong formula or a missed conversion (errors of
// order 1), not to certify the last bit.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <vector>

#include "kernels/adamw.h"
#include "kernels/cuda_launchers.h"
#include "kernels/simt_backend.h"
#include "tests/engine/sampler_cases.h"
#include "tests/engine/step_cases.h"

namespace chamber::testing {
namespace {

// One whole step (forward, classifier, backward with the value head, clipped AdamW, a second
// forward) in bf16 against the fp32 CPU step from the same weights and batch, with attention on
// `kernels` (kAuto: the emulator's pick, the flash kernels with fp32 products).
void check_whole_step(cuda_emulated::AttentionKernels kernels) {
  const cuda_emulated::AttentionKernels saved = cuda_emulated::attention_preference();
  cuda_emulated::set_attention_preference(kernels);  // the bf16 table reads the same preference
  ModelConfig c = step_config(true);
  const int B = 2, T = 11;
  StepResult want = run_step(reference_ops(), c, B, T);
  StepResult got = run_step(simt_bf16_ops(), c, B, T);
  double loss_error = std::fabs(got.loss - want.loss) / std::fabs(want.loss);
  double losses_error = relative_l2(got.losses, want.losses);
  double values_error = relative_l2(got.values, want.values);
  double grads_error = relative_l2(got.grads, want.grads);
  double norm_error = std::fabs(got.grad_norm - want.grad_norm) / want.grad_norm;
  double max_param_step = 0;  // how far the bf16 step's master weights land from fp32's
  for (size_t i = 0; i < want.params.size(); i++)
    max_param_step = std::max(max_param_step, (double)std::fabs(got.params[i] - want.params[i]));
  std::printf("bf16 step vs fp32: loss %.3g, per-token losses %.3g, values %.3g, gradients %.3g, "
              "gradient norm %.3g (relative); master weights after the step within %.3g\n",
              loss_error, losses_error, values_error, grads_error, norm_error, max_param_step);
  EXPECT_LT(loss_error, 1e-2);
  EXPECT_LT(losses_error, 2e-2);
  EXPECT_LT(values_error, 5e-2);
  EXPECT_LT(grads_error, 5e-2);
  EXPECT_LT(norm_error, 2e-2);
  // AdamW's first step moves each weight by up to lr = 1e-2, by g / (|g| + eps) of it: where a
  // gradient is near zero its bf16 error is large relative to it and the step can differ by a good
  // part of lr (measured 0.29 lr); no weight may land a whole step away from fp32's.
  EXPECT_LT(max_param_step, 1e-2);
  EXPECT_LT(got.loss_after, got.loss) << "one step on the batch should lower its loss";
  cuda_emulated::set_attention_preference(saved);
}

TEST(Bf16TrainingSimt, WholeStepMatchesFp32CpuWithinBf16Tolerance) {
  check_whole_step(cuda_emulated::AttentionKernels::kAuto);
}
// The same with the bf16 build's flash kernels (CHAMBER_ATTENTION=flash: bf16 tiles, P and dS
// rounded to bf16 for their products; head size 8, so each k step of 16 is half zero padding).
// Measured within the same bounds.
TEST(Bf16TrainingSimt, WholeStepWithBf16TensorCoreAttention) {
  check_whole_step(cuda_emulated::AttentionKernels::kTensorCores);
}

// Training curves: 50 AdamW steps of a small model on the same batches, bf16 on the emulator and
// fp32 on the CPU reference, from the same weights. The bf16 loss stays within 2% of fp32's at
// every step.
std::vector<double> loss_curve(const Ops& ops, int steps) {
  ModelConfig c = step_config(false);
  const int B = 4, T = 12;
  GPT m;
  gpt_create(m, c, ops, B, T, true);
  gpt_init_parameters(m, 77);
  // A learnable rule (each token predicts the next id of a ramp, with an offset per row) over
  // four fixed batches, so the loss falls a long way in 50 steps.
  std::vector<std::vector<int>> inputs(4), targets(4);
  for (int k = 0; k < 4; k++) {
    std::vector<int> row_start = random_tokens(B, c.vocab_size, 300 + k);
    for (int b = 0; b < B; b++)
      for (int t = 0; t < T; t++) {
        inputs[k].push_back((row_start[b] + t) % c.vocab_size);
        targets[k].push_back((row_start[b] + t + 1) % c.vocab_size);
      }
  }
  std::vector<float> weights(B * T, 1.0f / (B * T));
  std::vector<double> curve;
  for (int step = 0; step < steps; step++) {
    const int k = step % 4;
    gpt_zero_grad(m);
    gpt_forward(m, inputs[k].data(), B, T);
    curve.push_back(gpt_classifier(m, targets[k].data(), weights.data(), true));
    gpt_backward(m);
    float scale = clip_grad_scale(gpt_grad_norm(m), 1.0f);
    gpt_adamw_step(m, {.lr = 3e-3f, .beta1 = 0.9f, .beta2 = 0.95f, .eps = 1e-8f,
                       .weight_decay = 0.1f, .grad_scale = scale});
  }
  gpt_destroy(m);
  return curve;
}

TEST(Bf16TrainingSimt, FiftyStepsTrackTheFp32LossCurve) {
  const int steps = 50;
  std::vector<double> want = loss_curve(reference_ops(), steps);
  std::vector<double> got = loss_curve(simt_bf16_ops(), steps);
  double worst = 0;
  int worst_step = 0;
  for (int s = 0; s < steps; s++) {
    double error = std::fabs(got[s] - want[s]) / want[s];
    if (error > worst) worst = error, worst_step = s;
    EXPECT_LT(error, 0.02) << "step " << s << ": bf16 " << got[s] << ", fp32 " << want[s];
  }
  std::printf("bf16 vs fp32 over %d steps: loss %.3f -> %.3f (fp32 %.3f -> %.3f), worst relative "
              "gap %.3g at step %d\n", steps, got.front(), got.back(), want.front(), want.back(),
              worst, worst_step);
  EXPECT_LT(want.back(), 0.7 * want.front()) << "the curve should fall a long way";
}

// The sampler's log-probabilities in bf16 equal the bf16 trainer's (a full forward over prompt +
// completion on the same table), as RL needs. Both run the same ops on the same bf16 weights; they
// differ in how attention and the matmuls group their fp32 sums (one new token against the KV
// cache, or whole sequences), and the trainer's flash attention rounds P to bf16 before P V (as
// the GPU's bf16 paths do) where decode attention keeps it float. So an intermediate value now
// and then rounds to the neighbouring bf16 (2^-8 relative) and the log-probabilities move by up
// to ~2e-2 (measured: 0.018), well inside PPO's clip of the ratio (0.2).
TEST(Bf16TrainingSimt, SamplerLogprobsMatchTheBf16Trainer) {
  double worst = check_sampler_matches_own_trainer(simt_bf16_ops(), 3e-2);
  std::printf("bf16 sampler vs bf16 trainer: worst log-probability difference %.3g\n", worst);
}

}  // namespace
}  // namespace chamber::testing
