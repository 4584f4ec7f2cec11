// adamw cases under the SIMT emulator; the cases are in adamw_cases.h.
#include "tests/kernels/adamw_cases.h"

namespace chamber::testing {
CHAMBER_SIMT_CASES(OptimizerCases);
}  // namespace chamber::testing
