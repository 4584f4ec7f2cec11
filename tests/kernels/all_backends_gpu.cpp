// Every op of the list on the GPU (skipped without one); the cases are in all_backends_cases.h.
#include "tests/kernels/all_backends_cases.h"

namespace chamber::testing {
CHAMBER_GPU_CASES(AllBackendOps);
}  // namespace chamber::testing
