// Shared test helpers: random (never zero) inputs, NaN-aware comparisons with tolerances derived
// from the dtype, and scratch directories.
#pragma once
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "util/util.h"

namespace chamber::testing {

// Uniform values in [lo, hi), seeded; used for every kernel input (never zeros).
std::vector<float> random_vector(size_t n, uint64_t seed, float lo = -1.0f, float hi = 1.0f);
std::vector<int> random_tokens(size_t n, int vocab, uint64_t seed);

// Result of comparing two arrays: worst |a-b| / (atol + rtol*|b|) over all elements, where it was,
// and whether any NaN/Inf appeared (which always fails).
struct Compare {
  double worst_ratio = 0.0;
  size_t worst_index = 0;
  bool non_finite = false;
  bool ok() const { return !non_finite && worst_ratio <= 1.0; }
};
Compare compare(const float* got, const float* want, size_t n, double atol, double rtol);

// float32 tolerances: a few ulps relative plus a small absolute floor, scaled by `slack` for ops
// that sum many terms (the reason goes in the test next to the slack).
constexpr double kF32Rtol = 1e-5;
constexpr double kF32Atol = 1e-6;

// gtest assertion: EXPECT_CLOSE(got_vec, want_vec, atol, rtol)
::testing::AssertionResult all_close(const std::vector<float>& got, const std::vector<float>& want,
                                     double atol, double rtol);
#define EXPECT_ALL_CLOSE(got, want, atol, rtol) \
  EXPECT_TRUE(::chamber::testing::all_close((got), (want), (atol), (rtol)))

// ||got - want|| / ||want|| (Euclidean norms, in double): the error measure for low-precision
// products, where single elements that come from cancellation can be far off in relative terms
// while the tensor as a whole is right. Infinity when the sizes differ or anything is non-finite.
double relative_l2(const std::vector<float>& got, const std::vector<float>& want);
#define EXPECT_REL_L2_BELOW(got, want, bound) \
  EXPECT_LT(::chamber::testing::relative_l2((got), (want)), (bound)) << #got " vs " #want ": "

// The message of the chamber::Error that fn() throws, "" if it throws none.
template <typename Fn>
std::string error_of(Fn fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}
inline bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// A fresh empty directory under the build tree's temp area, removed at process exit.
std::string temp_dir(const std::string& name);

}  // namespace chamber::testing
