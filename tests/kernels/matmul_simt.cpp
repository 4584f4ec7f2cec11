// matmul cases under the SIMT emulator; the cases are in matmul_cases.h.
#include "tests/kernels/matmul_cases.h"

namespace chamber::testing {
CHAMBER_SIMT_CASES(MatmulCases);
}  // namespace chamber::testing
