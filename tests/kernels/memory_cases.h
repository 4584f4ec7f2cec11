// The backend's memory functions: allocation is zero-filled, copies round-trip, zero clears
// exactly the asked range. See backend_cases.h.
#pragma once
#include <vector>

#include "tests/kernels/backend_cases.h"

namespace chamber::testing {

class MemoryCases : public BackendTest {};

TEST_P(MemoryCases, AllocIsZeroFilledAndCopiesRoundTrip) { expect_memory_round_trip(*ops); }

// Uploads that do not wait (from_host_async) land where they were sent: 72 MiB of them, more than
// the CUDA backend's 64 MiB pinned staging ring, so its regions wrap and are reused behind
// uploads still queued; sizes vary so the ring's offsets do not repeat.
TEST_P(MemoryCases, AsyncUploadsLandWhereTheyWereSent) {
  const size_t slot_floats = (size_t)1 << 18;  // 1 MiB
  const int slots = 3, uploads = 72;
  float* device = (float*)ops->alloc(slots * slot_floats * sizeof(float));
  std::vector<std::vector<float>> sources(uploads);
  for (int i = 0; i < uploads; i++) {
    const size_t n = slot_floats - 97 * (size_t)(i % 5);
    sources[i].resize(n);
    for (size_t j = 0; j < n; j++) sources[i][j] = (float)(i * 1000003 + j % 8191);
    ops->from_host_async(device + (i % slots) * slot_floats, sources[i].data(), n * sizeof(float));
  }
  ops->synchronize();
  for (int i = uploads - slots; i < uploads; i++) {
    std::vector<float> got(sources[i].size());
    ops->to_host(got.data(), device + (i % slots) * slot_floats, got.size() * sizeof(float));
    EXPECT_EQ(got, sources[i]) << "upload " << i;
  }
  ops->free(device);
}

}  // namespace chamber::testing
