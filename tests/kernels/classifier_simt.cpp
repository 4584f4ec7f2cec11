// classifier cases under the SIMT emulator; the cases are in classifier_cases.h.
#include "tests/kernels/classifier_cases.h"

namespace chamber::testing {
CHAMBER_SIMT_CASES(ClassifierCases);
}  // namespace chamber::testing
