// The fast CPU backend trains like the reference: 20 AdamW steps of a model shaped like
// configs/tiny.yaml (4 layers, 4 heads, C = 128, vocabulary 1024; batch 2 x 64 tokens to keep the
// reference run and the thread-count runs short) on fixed random tokens, the same initial weights on both backends, with
// the pretraining loop's recipe (zero grad, forward, classifier, backward, clip, AdamW).
//
//   - reference_ops() and cpu_fast_ops() give the same loss at every step within float32
//     tolerance. The two sum in different orders, so the weights drift apart by rounding that
//     AdamW's normalised steps pass on; over 20 steps the losses differed by at most 3.5e-5
//     relative in our runs, the test allows 2e-4.
//   - the fast path gives the same losses with 1 and 2 threads within the same tolerance (only
//     OpenBLAS's split of a matmul over threads changes with the count), and bit-identical losses
//     and weights for two runs with the same thread count.
#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <vector>

#include "engine/model.h"
#include "kernels/adamw.h"
#include "kernels/cpu_fast.h"
#include "tests/test_util.h"

namespace chamber {
namespace {

constexpr int kSteps = 20, kB = 2, kT = 64;
constexpr double kLossRtol = 2e-4;

struct RunResult {
  std::vector<double> losses;
  std::vector<float> final_params;
};

// Runs with `threads` OpenMP threads (OpenBLAS's OpenMP build follows the same setting).
struct ScopedThreads {
  explicit ScopedThreads(int threads) : saved(omp_get_max_threads()) { omp_set_num_threads(threads); }
  ~ScopedThreads() { omp_set_num_threads(saved); }
  int saved;
};

RunResult train_steps(const Ops& ops, int threads) {
  ScopedThreads scoped(threads);
  ModelConfig cfg = model_config_of(1024, 4, 4, 128, 128);
  GPT model;
  gpt_create(model, cfg, ops, kB, kT, true);
  gpt_init_parameters(model, 1234);

  const int N = kB * kT;
  // A fixed random sequence; the targets are the next tokens, so there is something to learn.
  std::vector<int> stream = testing::random_tokens(N + 1, cfg.vocab_size, 99);
  std::vector<int> tokens(stream.begin(), stream.end() - 1), targets(stream.begin() + 1, stream.end());
  std::vector<float> weights(N, 1.0f / N);

  RunResult result;
  for (int step = 0; step < kSteps; step++) {
    gpt_zero_grad(model);
    gpt_forward(model, tokens.data(), kB, kT);
    result.losses.push_back(gpt_classifier(model, targets.data(), weights.data(), true));
    gpt_backward(model);
    float scale = clip_grad_scale(gpt_grad_norm(model), 1.0f);
    gpt_adamw_step(model, {.lr = 3e-3f, .beta1 = 0.9f, .beta2 = 0.95f, .eps = 1e-8f,
                           .weight_decay = 0.1f, .grad_scale = scale});
  }
  result.final_params = gpt_parameters_to_host(model);
  gpt_destroy(model);
  return result;
}

void expect_losses_close(const RunResult& got, const RunResult& want, const char* what) {
  ASSERT_EQ(got.losses.size(), want.losses.size());
  double worst = 0.0;
  for (size_t s = 0; s < want.losses.size(); s++)
    worst = std::fmax(worst, std::fabs(got.losses[s] - want.losses[s]) / std::fabs(want.losses[s]));
  std::printf("%s: worst relative loss difference %.3g over %d steps\n", what, worst, kSteps);
  for (size_t s = 0; s < want.losses.size(); s++) {
    ASSERT_TRUE(std::isfinite(got.losses[s])) << what << ": step " << s;
    EXPECT_NEAR(got.losses[s], want.losses[s], kLossRtol * std::fabs(want.losses[s]))
        << what << ": step " << s;
  }
}

TEST(FastVsReference, SameLossesOverTwentySteps) {
  // One thread: the math does not depend on it, and the reference's many small parallel loops
  // crawl when the test machine's cores are busy with other work.
  RunResult reference = train_steps(reference_ops(), 1);
  RunResult fast = train_steps(cpu_fast_ops(), 1);
  expect_losses_close(fast, reference, "cpu vs cpu-ref");
  // The model learned something, so the comparison covers real updates.
  EXPECT_LT(reference.losses.back(), reference.losses.front() - 0.5);
}

TEST(FastVsReference, ThreadCountsAgreeAndRepeatsAreBitIdentical) {
  RunResult one = train_steps(cpu_fast_ops(), 1);
  RunResult two = train_steps(cpu_fast_ops(), 2);
  RunResult two_again = train_steps(cpu_fast_ops(), 2);
  expect_losses_close(two, one, "2 threads vs 1");
  ASSERT_EQ(two.losses.size(), two_again.losses.size());
  EXPECT_EQ(0, std::memcmp(two.losses.data(), two_again.losses.data(), two.losses.size() * sizeof(double)))
      << "losses differ between two runs with 2 threads";
  EXPECT_EQ(0, std::memcmp(two.final_params.data(), two_again.final_params.data(),
                           two.final_params.size() * sizeof(float)))
      << "weights differ between two runs with 2 threads";
}

}  // namespace
}  // namespace chamber
