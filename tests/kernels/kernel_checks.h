// Helpers for the reference-kernel tests: double-precision random inputs, central finite
// differences of a scalar loss, and a NaN-aware comparison of double arrays that reports the
// worst element as a fraction of the tolerance (as tests/test_util.h does for float).
#pragma once
#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <vector>

#include "kernels/ops.h"

namespace chamber::testing {

// Uniform in [lo, hi) drawn as float (so the same values can feed the float and double kernels
// exactly) and widened to double.
std::vector<double> random_doubles(size_t n, uint64_t seed, double lo = -1.0, double hi = 1.0);
std::vector<float> to_float(const std::vector<double>& v);
std::vector<double> to_double(const std::vector<float>& v);

// sum_k a[k] * b[k]: the scalar loss used by the gradient checks is a random projection of an
// op's output, loss = proj . out, so dloss/dout = proj.
double dot(const std::vector<double>& a, const std::vector<double>& b);

// d loss / d x[k] for every k by central differences (x[k] +- h), restoring x afterwards.
std::vector<double> finite_difference_grad(std::vector<double>& x,
                                           const std::function<double()>& loss, double h = 1e-5);

// Runs the enclosing scope with a fixed OpenMP thread count and restores the previous one. The
// finite-difference tests make thousands of tiny kernel calls where waking threads costs far more
// than the work, especially on a loaded machine; they run on one thread.
struct ScopedOmpThreads {
  explicit ScopedOmpThreads(int threads);
  ~ScopedOmpThreads();
  int saved;
};

// Every entry of a CPU backend's operation table is set, except the optional ones that only a
// GPU backend has (profiler ranges, the fused matmul + GELU) or that the reference leaves to the
// two ops it fuses (residual + LayerNorm). Ops is a struct of the name followed only by function
// pointers, so each slot is checked by position.
void expect_ops_filled(const Ops& ops);

// |got - want| <= atol + rtol*|want| everywhere; any NaN/Inf fails.
::testing::AssertionResult all_close_double(const std::vector<double>& got,
                                            const std::vector<double>& want, double atol,
                                            double rtol);

// Tolerances for an analytic gradient against central differences with h = 1e-5 on O(1) inputs:
// truncation error ~h^2 = 1e-10 and round-off ~1e-16 * |loss| / h ~ 1e-10, so 1e-7 leaves room.
constexpr double kFdAtol = 1e-7;
constexpr double kFdRtol = 1e-6;
#define EXPECT_GRAD_MATCHES_FD(analytic, numeric) \
  EXPECT_TRUE(::chamber::testing::all_close_double((analytic), (numeric), \
                                                   ::chamber::testing::kFdAtol, \
                                                   ::chamber::testing::kFdRtol))

}  // namespace chamber::testing
