// matmul cases on the GPU (skipped without one); the cases are in matmul_cases.h.
#include "tests/kernels/matmul_cases.h"

namespace chamber::testing {
CHAMBER_GPU_CASES(MatmulCases);
}  // namespace chamber::testing
