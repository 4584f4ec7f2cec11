// GELU and residual kernels under the SIMT emulator; the cases are in gelu_cases.h.
#include "tests/kernels/gelu_cases.h"

namespace chamber::testing {
CHAMBER_SIMT_CASES(ElementwiseCases);
}  // namespace chamber::testing
