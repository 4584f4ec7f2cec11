// value_head cases under the SIMT emulator; the cases are in value_head_cases.h.
#include "tests/kernels/value_head_cases.h"

namespace chamber::testing {
CHAMBER_SIMT_CASES(ValueHeadCases);
}  // namespace chamber::testing
