// Helpers for the reference-kernel tests; see kernel_checks.h.
#include "tests/kernels/kernel_checks.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstring>
#include <iterator>

#include "tests/test_util.h"

namespace chamber::testing {

std::vector<double> random_doubles(size_t n, uint64_t seed, double lo, double hi) {
  return to_double(random_vector(n, seed, (float)lo, (float)hi));
}

std::vector<float> to_float(const std::vector<double>& v) { return {v.begin(), v.end()}; }
std::vector<double> to_double(const std::vector<float>& v) { return {v.begin(), v.end()}; }

ScopedOmpThreads::ScopedOmpThreads(int threads) : saved(omp_get_max_threads()) {
  omp_set_num_threads(threads);
}
ScopedOmpThreads::~ScopedOmpThreads() { omp_set_num_threads(saved); }

double dot(const std::vector<double>& a, const std::vector<double>& b) {
  double sum = 0.0;
  for (size_t k = 0; k < a.size() && k < b.size(); k++) sum += a[k] * b[k];
  return sum;
}

std::vector<double> finite_difference_grad(std::vector<double>& x,
                                           const std::function<double()>& loss, double h) {
  std::vector<double> grad(x.size());
  for (size_t k = 0; k < x.size(); k++) {
    double saved = x[k];
    x[k] = saved + h;
    double plus = loss();
    x[k] = saved - h;
    double minus = loss();
    x[k] = saved;
    grad[k] = (plus - minus) / (2.0 * h);
  }
  return grad;
}

::testing::AssertionResult all_close_double(const std::vector<double>& got,
                                            const std::vector<double>& want, double atol,
                                            double rtol) {
  if (got.size() != want.size())
    return ::testing::AssertionFailure() << "size " << got.size() << " != " << want.size();
  double worst = 0.0;
  size_t worst_index = 0;
  for (size_t k = 0; k < got.size(); k++) {
    if (!std::isfinite(got[k]) || !std::isfinite(want[k]))
      return ::testing::AssertionFailure()
             << "non-finite value at " << k << ": got " << got[k] << " want " << want[k];
    double ratio = std::fabs(got[k] - want[k]) / (atol + rtol * std::fabs(want[k]));
    if (ratio > worst) {
      worst = ratio;
      worst_index = k;
    }
  }
  if (worst > 1.0)
    return ::testing::AssertionFailure()
           << "worst error " << worst << "x tolerance at " << worst_index << ": got "
           << got[worst_index] << " want " << want[worst_index] << " (atol " << atol << ", rtol "
           << rtol << ")";
  return ::testing::AssertionSuccess() << "worst error " << worst << "x tolerance";
}

void expect_ops_filled(const Ops& ops) {
  const size_t first_slot = offsetof(Ops, alloc);  // after the name and the compute type's size
  const size_t num_slots = (sizeof(Ops) - first_slot) / sizeof(void (*)());
  ASSERT_EQ(sizeof(Ops), first_slot + num_slots * sizeof(void (*)()));
  EXPECT_TRUE(ops.compute_bytes == 4 || ops.compute_bytes == 2) << ops.name;
  const size_t optional[] = {offsetof(Ops, range_push),          offsetof(Ops, range_pop),
                             offsetof(Ops, capture_begin),       offsetof(Ops, capture_end),
                             offsetof(Ops, graph_launch),        offsetof(Ops, graph_destroy),
                             offsetof(Ops, matmul_gelu_forward), offsetof(Ops, matmul_gelu_backward),
                             offsetof(Ops, residual_layernorm_forward)};
  for (size_t k = 0; k < num_slots; k++) {
    const size_t offset = first_slot + k * sizeof(void (*)());
    if (std::find(std::begin(optional), std::end(optional), offset) != std::end(optional)) continue;
    void (*slot)();
    std::memcpy(&slot, (const char*)&ops + offset, sizeof(slot));
    EXPECT_NE(slot, nullptr) << "Ops slot " << k << " of '" << ops.name << "' is empty";
  }
}

}  // namespace chamber::testing
