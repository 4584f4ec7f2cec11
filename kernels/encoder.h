// Token + position embedding, plain C++ reference.
//
//   forward:  out[b,t,:] = wte[tokens[b,t], :] + wpe[t, :]          out (B,T,C) OVERWRITTEN
//   backward: dwte[tokens[b,t], :] += dout[b,t,:]                   dwte (V,C)  ACCUMULATES
//             dwpe[t, :]           += sum_b dout[b,t,:]             dwpe (maxT,C) ACCUMULATES
//   tokens (B,T) must lie in [0, V); wte (V,C); wpe has at least T rows.
//
// Several positions can hold the same token, so the dwte scatter is parallelised over channel
// blocks (each thread owns whole columns) rather than over positions: no atomics, and the sum over
// positions always runs in the same order, so the result is deterministic.
//
// Templated over the scalar (float, double) so tests can run finite differences in double on the
// same code; the Ops table points at the float instantiation.
#pragma once

namespace chamber {

template <typename Real>
void encoder_forward_ref(Real* out, const int* tokens, const Real* wte, const Real* wpe, int B,
                         int T, int C);

template <typename Real>
void encoder_backward_ref(Real* dwte, Real* dwpe, const Real* dout, const int* tokens, int B,
                          int T, int C);

}  // namespace chamber
