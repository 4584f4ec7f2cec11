// GELU, tanh approximation, elementwise over n values; plain C++ reference.
//
//   forward:  out = 0.5 * x * (1 + tanh(u)),   u = sqrt(2/pi) * (x + 0.044715 x^3)
//             out (n) OVERWRITTEN.
//   backward: dinp = dout * ( 0.5 (1 + tanh u) + 0.5 x (1 - tanh^2 u) sqrt(2/pi) (1 + 3*0.044715 x^2) )
//             dinp (n) OVERWRITTEN (its one producer); the derivative is recomputed from inp
//             (nothing is saved).
//
// Templated over the scalar (float, double); the Ops table uses the float instantiation.
#pragma once
#include <cstddef>

namespace chamber {

template <typename Real>
void gelu_forward_ref(Real* out, const Real* inp, size_t n);

template <typename Real>
void gelu_backward_ref(Real* dinp, const Real* inp, const Real* dout, size_t n);

}  // namespace chamber
