// The KV-cache sampler over the CUDA kernels under the SIMT emulator (attention_decode,
// sample_tokens and the rest): the same draws as the reference sampler, and log-probabilities
// that are the reference full forward's.
#include "kernels/simt_backend.h"
#include "tests/engine/sampler_cases.h"

namespace chamber::testing {
namespace {

// float32 in both, summed in other orders: log-probabilities agree to ~1e-6.
TEST(SamplerSimt, MatchesTheReferenceSampler) { check_sampler_on_backend(simt_ops(), 2e-5, true); }

}  // namespace
}  // namespace chamber::testing
