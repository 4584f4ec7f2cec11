// GELU and residual (elementwise ops) on a backend against the reference; see backend_cases.h.
#pragma once
#include "kernels/gelu.h"
#include "kernels/residual.h"
#include "tests/kernels/backend_cases.h"

namespace chamber::testing {

class ElementwiseCases : public BackendTest {};

// 1000 + 37: several blocks, the last one partial.
constexpr size_t kElementwiseN = 1037;

TEST_P(ElementwiseCases, GeluForward) {
  auto x = random_vector(kElementwiseN, 1, -4.0f, 4.0f);
  std::vector<double> want(kElementwiseN);
  gelu_forward_ref<double>(want.data(), widen(x).data(), kElementwiseN);
  BackendArray<float> inp(*ops, x), out(*ops, nan_vector(kElementwiseN));
  ops->gelu_forward(out, inp, kElementwiseN);
  // tanhf and the reference's tanh differ by a few ulps, amplified near the zero of GELU.
  EXPECT_BACKEND_CLOSE(out.download(), narrow(want), f32_tolerance(4));
}

// dinp has one producer and is overwritten: NaN before the call, so reading or adding to it fails.
TEST_P(ElementwiseCases, GeluBackwardOverwrites) {
  auto x = random_vector(kElementwiseN, 2, -4.0f, 4.0f);
  auto dout = random_vector(kElementwiseN, 3);
  auto dinp0 = nan_vector(kElementwiseN);
  std::vector<double> want = widen(dinp0);
  gelu_backward_ref<double>(want.data(), widen(x).data(), widen(dout).data(), kElementwiseN);
  BackendArray<float> inp(*ops, x), d(*ops, dout), dinp(*ops, dinp0);
  ops->gelu_backward(dinp, inp, d, kElementwiseN);
  EXPECT_BACKEND_CLOSE(dinp.download(), narrow(want), f32_tolerance(4));
}

// In place, as the model runs it after an unfused matmul backward: dinp is dout.
TEST_P(ElementwiseCases, GeluBackwardInPlace) {
  auto x = random_vector(kElementwiseN, 8, -4.0f, 4.0f);
  auto dout = random_vector(kElementwiseN, 9);
  std::vector<double> want(kElementwiseN);
  gelu_backward_ref<double>(want.data(), widen(x).data(), widen(dout).data(), kElementwiseN);
  BackendArray<float> inp(*ops, x), d(*ops, dout);
  ops->gelu_backward(d, inp, d, kElementwiseN);
  EXPECT_BACKEND_CLOSE(d.download(), narrow(want), f32_tolerance(4));
}

TEST_P(ElementwiseCases, ResidualForward) {
  auto a = random_vector(kElementwiseN, 5), b = random_vector(kElementwiseN, 6);
  std::vector<double> want(kElementwiseN);
  residual_forward_ref<double>(want.data(), widen(a).data(), widen(b).data(), kElementwiseN);
  BackendArray<float> da(*ops, a), db(*ops, b), out(*ops, nan_vector(kElementwiseN));
  ops->residual_forward(out, da, db, kElementwiseN);
  EXPECT_BACKEND_CLOSE(out.download(), narrow(want), f32_tolerance(1));
}

TEST_P(ElementwiseCases, ResidualBackwardAccumulatesIntoBoth) {
  auto dout = random_vector(kElementwiseN, 7);
  auto da0 = random_vector(kElementwiseN, 8), db0 = random_vector(kElementwiseN, 9);
  std::vector<double> want_a = widen(da0), want_b = widen(db0);
  residual_backward_ref<double>(want_a.data(), want_b.data(), widen(dout).data(), kElementwiseN);
  BackendArray<float> d(*ops, dout), da(*ops, da0), db(*ops, db0);
  ops->residual_backward(da, db, d, kElementwiseN);
  EXPECT_BACKEND_CLOSE(da.download(), narrow(want_a), f32_tolerance(1));
  EXPECT_BACKEND_CLOSE(db.download(), narrow(want_b), f32_tolerance(1));
}

}  // namespace chamber::testing
