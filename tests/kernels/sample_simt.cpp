// sample cases under the SIMT emulator; the cases are in sample_cases.h.
#include "tests/kernels/sample_cases.h"

namespace chamber::testing {
CHAMBER_SIMT_CASES(SampleCases);
}  // namespace chamber::testing
