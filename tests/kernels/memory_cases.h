// The backend's memory functions: allocation is zero-filled, copies round-trip, zero clears
// exactly the asked range. See backend_cases.h.
#pragma once
#include "tests/kernels/backend_cases.h"

namespace chamber::testing {

class MemoryCases : public BackendTest {};

TEST_P(MemoryCases, AllocIsZeroFilledAndCopiesRoundTrip) { expect_memory_round_trip(*ops); }

}  // namespace chamber::testing
