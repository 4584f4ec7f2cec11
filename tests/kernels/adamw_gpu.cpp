// adamw cases on the GPU (skipped without one); the cases are in adamw_cases.h.
#include "tests/kernels/adamw_cases.h"

namespace chamber::testing {
CHAMBER_GPU_CASES(OptimizerCases);
}  // namespace chamber::testing
