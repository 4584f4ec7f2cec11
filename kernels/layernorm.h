// LayerNorm over the last dimension, plain C++ reference.
//
//   forward, for each row i of inp (N,C):
//     mean[i] = (1/C) sum_c x[i,c]
//     rstd[i] = 1 / sqrt( (1/C) sum_c (x[i,c] - mean[i])^2 + 1e-5 )     (biased variance)
//     out[i,c] = (x[i,c] - mean[i]) * rstd[i] * weight[c] + bias[c]
//   out (N,C), mean (N), rstd (N) are OVERWRITTEN; mean and rstd are kept for backward.
//
//   backward, with xhat = (x - mean) * rstd and g = dout * weight:
//     dbias[c]   += sum_i dout[i,c]
//     dweight[c] += sum_i dout[i,c] * xhat[i,c]
//     dinp[i,c]  += rstd[i] * ( g[i,c] - mean_c(g[i,:]) - xhat[i,c] * mean_c(g[i,:] * xhat[i,:]) )
//   All three gradients ACCUMULATE.
//
// The variance is computed in a second pass over the row (not E[x^2] - E[x]^2) so large means do
// not cancel. dinp is parallel over rows; dweight/dbias are reductions over N, parallel over
// channel blocks so the sum over rows runs in a fixed order (deterministic, no atomics).
//
// Templated over the scalar (float, double); the Ops table uses the float instantiation.
#pragma once

namespace chamber {

constexpr double kLayerNormEps = 1e-5;

template <typename Real>
void layernorm_forward_ref(Real* out, Real* mean, Real* rstd, const Real* inp, const Real* weight,
                           const Real* bias, int N, int C);

template <typename Real>
void layernorm_backward_ref(Real* dinp, Real* dweight, Real* dbias, const Real* dout,
                            const Real* inp, const Real* weight, const Real* mean,
                            const Real* rstd, int N, int C);

}  // namespace chamber
