// sample cases on the GPU (skipped without one); the cases are in sample_cases.h.
#include "tests/kernels/sample_cases.h"

namespace chamber::testing {
CHAMBER_GPU_CASES(SampleCases);
}  // namespace chamber::testing
