// The backend's memory functions: allocation is zero-filled, copies round-trip, zero clears
// exactly the asked range. See backend_cases.h.
#pragma once
#include "tests/kernels/backend_cases.h"

namespace chamber::testing {

class MemoryCases : public BackendTest {};

TEST_P(MemoryCases, AllocIsZeroFilledAndCopiesRoundTrip) {
  const size_t n = 1037;
  float* a = (float*)ops->alloc(n * sizeof(float));
  float* b = (float*)ops->alloc(n * sizeof(float));
  std::vector<float> host(n, 1.0f);
  ops->to_host(host.data(), a, n * sizeof(float));
  EXPECT_EQ(host, std::vector<float>(n, 0.0f)) << "alloc must return zeroed memory";

  auto x = random_vector(n, 101);
  ops->from_host(a, x.data(), n * sizeof(float));
  ops->copy(b, a, n * sizeof(float));
  ops->zero(b + 10, 7 * sizeof(float));
  ops->synchronize();
  ops->to_host(host.data(), b, n * sizeof(float));
  for (size_t i = 10; i < 17; i++) x[i] = 0.0f;
  EXPECT_EQ(host, x);
  ops->free(a);
  ops->free(b);
}

}  // namespace chamber::testing
