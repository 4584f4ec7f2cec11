// layernorm cases under the SIMT emulator; the cases are in layernorm_cases.h.
#include "tests/kernels/layernorm_cases.h"

namespace chamber::testing {
CHAMBER_SIMT_CASES(LayernormCases);
}  // namespace chamber::testing
