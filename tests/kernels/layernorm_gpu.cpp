// layernorm cases on the GPU (skipped without one); the cases are in layernorm_cases.h.
#include "tests/kernels/layernorm_cases.h"

namespace chamber::testing {
CHAMBER_GPU_CASES(LayernormCases);
}  // namespace chamber::testing
