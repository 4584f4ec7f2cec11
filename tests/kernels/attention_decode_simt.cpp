// attention_decode cases under the SIMT emulator; the cases are in attention_decode_cases.h.
#include "tests/kernels/attention_decode_cases.h"

namespace chamber::testing {
CHAMBER_SIMT_CASES(AttentionDecodeCases);
}  // namespace chamber::testing
