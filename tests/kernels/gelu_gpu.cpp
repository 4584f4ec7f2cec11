// GELU and residual kernels on the GPU (skipped without one); the cases are in gelu_cases.h.
#include "tests/kernels/gelu_cases.h"

namespace chamber::testing {
CHAMBER_GPU_CASES(ElementwiseCases);
}  // namespace chamber::testing
