// Fused classifier on a backend against the reference; see backend_cases.h.
#pragma once
#include "kernels/classifier.h"
#include "tests/kernels/backend_cases.h"

namespace chamber::testing {

class ClassifierCases : public BackendTest {
 protected:
  // N rows of Vp columns, V real; every third row ignored (target -1); weights of both signs.
  void check(int N, int V, int Vp, bool write_grad, bool with_entropy, uint64_t seed) {
    auto logits = random_vector((size_t)N * Vp, seed, -6.0f, 6.0f);
    auto targets = random_tokens(N, V, seed + 1);
    for (int i = 0; i < N; i += 3) targets[i] = -1;
    targets[1] = V - 1;  // the last real column
    auto weights = random_vector(N, seed + 2, -2.0f, 2.0f);
    std::vector<double> want_logits = widen(logits), want_losses(N), want_entropy(N);
    classifier_forward_backward_ref<double>(want_logits.data(), want_losses.data(),
                                            with_entropy ? want_entropy.data() : nullptr,
                                            targets.data(), widen(weights).data(), N, V, Vp,
                                            write_grad);
    BackendArray<float> x(*ops, logits), losses(*ops, nan_vector(N)), entropy(*ops, nan_vector(N));
    BackendArray<float> w(*ops, weights);
    BackendArray<int> t(*ops, targets);
    ops->classifier_forward_backward(x, losses, with_entropy ? entropy.ptr : nullptr, t, w, N, V,
                                     Vp, write_grad);
    // log of a sum of V exponentials and sums over V terms, in float.
    Tolerance tol = f32_tolerance(50);
    EXPECT_BACKEND_CLOSE(losses.download(), narrow(want_losses), tol);
    if (with_entropy) EXPECT_BACKEND_CLOSE(entropy.download(), narrow(want_entropy), tol);
    else EXPECT_TRUE(std::isnan(entropy.download()[0])) << "entropy written although null";
    if (write_grad) {
      EXPECT_BACKEND_CLOSE(x.download(), narrow(want_logits), tol);  // padding must be 0
    } else {
      EXPECT_EQ(x.download(), logits) << "logits changed without write_grad";
    }
  }
};

// V = 1037 over a 512-thread block: three strided passes, the last partial; padding to 1100.
TEST_P(ClassifierCases, LossEntropyAndGradient) { check(7, 1037, 1100, true, true, 61); }
TEST_P(ClassifierCases, LossOnlyLeavesLogits) { check(5, 1037, 1100, false, true, 62); }
TEST_P(ClassifierCases, GradientWithoutEntropy) { check(4, 300, 320, true, false, 63); }
// V smaller than a warp: most threads see no column and must merge as empty.
TEST_P(ClassifierCases, TinyVocabulary) { check(6, 17, 20, true, true, 64); }

}  // namespace chamber::testing
