// encoder cases on the GPU (skipped without one); the cases are in encoder_cases.h.
#include "tests/kernels/encoder_cases.h"

namespace chamber::testing {
CHAMBER_GPU_CASES(EncoderCases);
}  // namespace chamber::testing
