// Drawing the next token of each row from its logits, for the KV-cache sampler; plain C++
// reference. For row i of logits (N, Vp), with x_j its first n_draw columns:
//
//   temperature <= 0:  ids[i] = argmax_j x_j                  (the lowest j among ties)
//   temperature  > 0, top-k and top-p off (top_k <= 0 or >= n_draw, and top_p >= 1):
//                      p_j = exp((x_j - max x) / temperature),  P = p_0 + ... + p_{n_draw-1},
//                      ids[i] = the first j with p_0 + ... + p_j > uniforms[i] * P
//                      (inverse-CDF sampling over the ids in natural order; n_draw - 1 when
//                      rounding leaves none)
//   temperature  > 0, top-k or top-p on: the candidates in sorted order, by logit descending
//                      and ties by lower id first; top_k keeps the first k; with p_j as above
//                      over the kept, top_p < 1 keeps the shortest prefix whose mass (summed in
//                      that order) reaches top_p * (their total), and the total becomes that
//                      prefix's mass; r = uniforms[i] * total, and the draw walks the kept
//                      prefix in order subtracting p_j until r < 0 (the last kept id when
//                      rounding lands r on the total).
//   logprobs[i] = x_id - log sum_{j<V} exp(x_j)   over the first V columns (n_draw <= V),
//                 untempered: the log-probability the trainer will score the token with.
//   ids (N), logprobs (N) OVERWRITTEN; uniforms (N) in [0, 1), not read when greedy.
//
// Sums are in double, so a draw depends on the order of summation only when uniforms[i] * P (or
// top_p * total) lies within ~1e-16 (relative) of a boundary between two ids. sample_row_ref is
// the one statement of the rule: the host sampler (engine/sampler.cpp, sampler_draw) calls it,
// and every backend's sample_tokens must return its ids.
#pragma once

namespace chamber {

// One row: the drawn id, and the log-probability of an id.
int sample_row_ref(const float* logits, int n_draw, float temperature, int top_k, float top_p,
                   double uniform);
double logprob_row_ref(const float* logits, int V, int id);

// Every row (OpenMP over rows). A template like every other reference, for the operation table's
// `<name>_ref<float>`; only float is instantiated (the draw is defined on float logits).
template <typename Real>
void sample_tokens_ref(int* ids, float* logprobs, const Real* logits, const double* uniforms,
                       int N, int n_draw, int V, int Vp, float temperature, int top_k,
                       float top_p);

}  // namespace chamber
