// Scalar value head (PPO critic) on the final hidden states; plain C++ reference.
//
//   forward:  values[i] = sum_c h[i,c] * w[c] + b[0]          h (N,C), w (C), b (1);
//             values (N) OVERWRITTEN.
//   backward: dh[i,c] += dvalues[i] * w[c]                     dh (N,C)
//             dw[c]   += sum_i dvalues[i] * h[i,c]             dw (C)
//             db[0]   += sum_i dvalues[i]                      db (1)
//             All ACCUMULATE.
//
// dw is a reduction over N: parallel over channel blocks, rows summed in order (deterministic).
//
// Templated over the scalar (float, double); the Ops table uses the float instantiation.
#pragma once

namespace chamber {

template <typename Real>
void value_head_forward_ref(Real* values, const Real* h, const Real* w, const Real* b, int N,
                            int C);

template <typename Real>
void value_head_backward_ref(Real* dh, Real* dw, Real* db, const Real* dvalues, const Real* h,
                             const Real* w, int N, int C);

}  // namespace chamber
