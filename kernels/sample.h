// Drawing the next token of each row from its logits, for the KV-cache sampler; plain C++
// reference. For row i of logits (N, Vp), with x_j its first n_draw columns:
//
//   temperature <= 0:  ids[i] = argmax_j x_j                  (the lowest j among ties)
//   temperature  > 0:  p_j = exp((x_j - max x) / temperature),  P = p_0 + ... + p_{n_draw-1},
//                      ids[i] = the first j with p_0 + ... + p_j > uniforms[i] * P
//                      (inverse-CDF sampling over the ids in natural order; n_draw - 1 when
//                      rounding leaves none)
//   logprobs[i] = x_id - log sum_{j<V} exp(x_j)   over the first V columns (n_draw <= V),
//                 untempered: the log-probability the trainer will score the token with.
//   ids (N), logprobs (N) OVERWRITTEN; uniforms (N) in [0, 1), not read when greedy.
//
// Sums are in double, so a draw depends on the order of summation only when uniforms[i] * P lies
// within ~1e-16 (relative) of a boundary between two ids. Top-k and top-p need the ids sorted by
// logit; the host sampler (engine/sampler.cpp) does those, and this op serves the greedy and plain
// temperature cases, which is what RL rollouts and evaluations use, without copying whole rows
// of logits to the host.
#pragma once

namespace chamber {

// One row: the drawn id, and the log-probability of an id.
int sample_row_ref(const float* logits, int n_draw, float temperature, double uniform);
double logprob_row_ref(const float* logits, int V, int id);

// Every row (OpenMP over rows). A template like every other reference, for the operation table's
// `<name>_ref<float>`; only float is instantiated (the draw is defined on float logits).
template <typename Real>
void sample_tokens_ref(int* ids, float* logprobs, const Real* logits, const double* uniforms,
                       int N, int n_draw, int V, int Vp, float temperature);

}  // namespace chamber
