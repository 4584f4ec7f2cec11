// AdamW and the sum of squares (global gradient norm) on a backend against the reference; see
// backend_cases.h.
#pragma once
#include "kernels/adamw.h"
#include "tests/kernels/backend_cases.h"
#include "tests/kernels/optimizer_calls.h"

namespace chamber::testing {

class OptimizerCases : public BackendTest {};

TEST_P(OptimizerCases, AdamwThreeSteps) {
  const size_t n = 1037;
  auto params = random_vector(n, 81), m = random_vector(n, 82, -0.1f, 0.1f);
  auto v = random_vector(n, 83, 0.01f, 0.1f);  // second moments are positive
  std::vector<double> p_ref = widen(params), m_ref = widen(m), v_ref = widen(v);
  BackendArray<float> p(*ops, params), dm(*ops, m), dv(*ops, v);
  for (int t = 1; t <= 3; t++) {
    auto g = random_vector(n, 84 + t);
    adamw_range_ref<double>(p_ref.data(), widen(g).data(), m_ref.data(), v_ref.data(),
                            (double*)nullptr, n, 1e-2f, 0.9f, 0.95f, 1e-8f, 0.1f, 0.5f, t);
    BackendArray<float> grads(*ops, g);
    adamw_whole(*ops, p, grads, dm, dv, nullptr, n, 1e-2f, 0.9f, 0.95f, 1e-8f, 0.1f, 0.5f, t, 0);
  }
  // A handful of float operations per element and step; m/sqrt(v) amplifies v's rounding.
  EXPECT_BACKEND_CLOSE(p.download(), narrow(p_ref), f32_tolerance(10));
  EXPECT_BACKEND_CLOSE(dm.download(), narrow(m_ref), f32_tolerance(10));
  EXPECT_BACKEND_CLOSE(dv.download(), narrow(v_ref), f32_tolerance(10));
}

TEST_P(OptimizerCases, SumSquaresManyBlocks) {
  const size_t n = 100003;  // many blocks of the first pass, the last partial
  auto g = random_vector(n, 91);
  double want = sum_of_squares_ref<double>(widen(g).data(), n);
  BackendArray<float> grads(*ops, g);
  double got = sum_squares_on(*ops, grads, n);
  EXPECT_NEAR(got, want, 1e-12 * want);  // double accumulation, different order
}

TEST_P(OptimizerCases, SumSquaresTinyAndEmpty) {
  auto g = random_vector(5, 92);
  BackendArray<float> grads(*ops, g);
  double want = sum_of_squares_ref<double>(widen(g).data(), 5);
  EXPECT_NEAR(sum_squares_on(*ops, grads, 5), want, 1e-12 * want);
  EXPECT_EQ(sum_squares_on(*ops, grads, 0), 0.0);
}

}  // namespace chamber::testing
