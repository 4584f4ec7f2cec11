// attention cases under the SIMT emulator; the cases are in attention_cases.h.
#include "tests/kernels/attention_cases.h"

namespace chamber::testing {
CHAMBER_SIMT_CASES(AttentionCases);
}  // namespace chamber::testing
