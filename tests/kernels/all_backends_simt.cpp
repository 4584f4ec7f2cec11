// Every op of the list under the SIMT emulator; the cases are in all_backends_cases.h.
#include "tests/kernels/all_backends_cases.h"

namespace chamber::testing {
CHAMBER_SIMT_CASES(AllBackendOps);
}  // namespace chamber::testing
