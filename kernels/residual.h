// Residual add, elementwise over n values; plain C++ reference.
//
//   forward:  out = a + b                       out (n) OVERWRITTEN
//   backward: da += dout;  db += dout           da, db (n) ACCUMULATE
//
// Templated over the scalar (float, double); the Ops table uses the float instantiation.
#pragma once
#include <cstddef>

namespace chamber {

template <typename Real>
void residual_forward_ref(Real* out, const Real* a, const Real* b, size_t n);

template <typename Real>
void residual_backward_ref(Real* da, Real* db, const Real* dout, size_t n);

}  // namespace chamber
