// value_head cases on the GPU (skipped without one); the cases are in value_head_cases.h.
#include "tests/kernels/value_head_cases.h"

namespace chamber::testing {
CHAMBER_GPU_CASES(ValueHeadCases);
}  // namespace chamber::testing
