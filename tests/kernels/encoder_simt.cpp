// encoder cases under the SIMT emulator; the cases are in encoder_cases.h.
#include "tests/kernels/encoder_cases.h"

namespace chamber::testing {
CHAMBER_SIMT_CASES(EncoderCases);
}  // namespace chamber::testing
