// attention_decode cases on the GPU (skipped without one); the cases are in attention_decode_cases.h.
#include "tests/kernels/attention_decode_cases.h"

namespace chamber::testing {
CHAMBER_GPU_CASES(AttentionDecodeCases);
}  // namespace chamber::testing
