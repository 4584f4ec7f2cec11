// classifier cases on the GPU (skipped without one); the cases are in classifier_cases.h.
#include "tests/kernels/classifier_cases.h"

namespace chamber::testing {
CHAMBER_GPU_CASES(ClassifierCases);
}  // namespace chamber::testing
