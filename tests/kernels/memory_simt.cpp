// memory cases under the SIMT emulator; the cases are in memory_cases.h.
#include "tests/kernels/memory_cases.h"

namespace chamber::testing {
CHAMBER_SIMT_CASES(MemoryCases);
}  // namespace chamber::testing
