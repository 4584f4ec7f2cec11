// attention cases on the GPU (skipped without one); the cases are in attention_cases.h.
#include "tests/kernels/attention_cases.h"

namespace chamber::testing {
CHAMBER_GPU_CASES(AttentionCases);
}  // namespace chamber::testing
