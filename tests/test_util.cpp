#include "tests/test_util.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <unistd.h>

namespace chamber::testing {

std::vector<float> random_vector(size_t n, uint64_t seed, float lo, float hi) {
  Rng rng(seed);
  std::vector<float> v(n);
  for (auto& x : v) x = lo + (hi - lo) * rng.uniform();
  return v;
}

std::vector<int> random_tokens(size_t n, int vocab, uint64_t seed) {
  Rng rng(seed);
  std::vector<int> v(n);
  for (auto& x : v) x = (int)rng.below((uint64_t)vocab);
  return v;
}

Compare compare(const float* got, const float* want, size_t n, double atol, double rtol) {
  Compare c;
  for (size_t i = 0; i < n; i++) {
    if (!std::isfinite(got[i]) || !std::isfinite(want[i])) {
      c.non_finite = true;
      c.worst_index = i;
      return c;
    }
    double ratio = std::fabs((double)got[i] - (double)want[i]) / (atol + rtol * std::fabs((double)want[i]));
    if (ratio > c.worst_ratio) {
      c.worst_ratio = ratio;
      c.worst_index = i;
    }
  }
  return c;
}

::testing::AssertionResult all_close(const std::vector<float>& got, const std::vector<float>& want,
                                     double atol, double rtol) {
  if (got.size() != want.size())
    return ::testing::AssertionFailure() << "size " << got.size() << " != " << want.size();
  Compare c = compare(got.data(), want.data(), got.size(), atol, rtol);
  if (c.non_finite)
    return ::testing::AssertionFailure() << "non-finite value at " << c.worst_index << ": got "
                                         << got[c.worst_index] << " want " << want[c.worst_index];
  if (!c.ok())
    return ::testing::AssertionFailure()
           << "worst error " << c.worst_ratio << "x tolerance at " << c.worst_index << ": got "
           << got[c.worst_index] << " want " << want[c.worst_index] << " (atol " << atol
           << ", rtol " << rtol << ")";
  return ::testing::AssertionSuccess() << "worst error " << c.worst_ratio << "x tolerance";
}

double relative_l2(const std::vector<float>& got, const std::vector<float>& want) {
  if (got.size() != want.size()) return INFINITY;
  double diff = 0.0, norm = 0.0;
  for (size_t i = 0; i < got.size(); i++) {
    double d = (double)got[i] - (double)want[i];
    diff += d * d;
    norm += (double)want[i] * want[i];
  }
  if (!std::isfinite(diff) || !std::isfinite(norm)) return INFINITY;
  return norm > 0.0 ? std::sqrt(diff / norm) : std::sqrt(diff);
}

std::string temp_dir(const std::string& name) {
  const char* base = std::getenv("TMPDIR");
  std::string dir = std::string(base ? base : "/tmp") + "/chamber-test-" + std::to_string(::getpid()) + "-" + name;
  remove_all(dir);
  make_dirs(dir);
  return dir;
}

}  // namespace chamber::testing
