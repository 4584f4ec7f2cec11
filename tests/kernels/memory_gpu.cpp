// memory cases on the GPU (skipped without one); the cases are in memory_cases.h.
#include "tests/kernels/memory_cases.h"

namespace chamber::testing {
CHAMBER_GPU_CASES(MemoryCases);
}  // namespace chamber::testing
