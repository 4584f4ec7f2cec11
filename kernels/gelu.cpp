// GELU (tanh form) reference; the contract is in gelu.h.
#include "kernels/gelu.h"

#include <cmath>

namespace chamber {

namespace {
constexpr double kSqrt2OverPi = 0.7978845608028654;  // sqrt(2/pi)
constexpr double kCubic = 0.044715;
}  // namespace

template <typename Real>
void gelu_forward_ref(Real* out, const Real* inp, size_t n) {
#pragma omp parallel for schedule(static)
  for (size_t i = 0; i < n; i++) {
    Real x = inp[i];
    Real u = Real(kSqrt2OverPi) * (x + Real(kCubic) * x * x * x);
    out[i] = Real(0.5) * x * (Real(1) + std::tanh(u));
  }
}

template <typename Real>
void gelu_backward_ref(Real* dinp, const Real* inp, const Real* dout, size_t n) {
#pragma omp parallel for schedule(static)
  for (size_t i = 0; i < n; i++) {
    Real x = inp[i];
    Real u = Real(kSqrt2OverPi) * (x + Real(kCubic) * x * x * x);
    Real th = std::tanh(u);
    Real du_dx = Real(kSqrt2OverPi) * (Real(1) + Real(3 * kCubic) * x * x);
    Real grad = Real(0.5) * (Real(1) + th) + Real(0.5) * x * (Real(1) - th * th) * du_dx;
    dinp[i] = dout[i] * grad;
  }
}

template void gelu_forward_ref<float>(float*, const float*, size_t);
template void gelu_forward_ref<double>(double*, const double*, size_t);
template void gelu_backward_ref<float>(float*, const float*, const float*, size_t);
template void gelu_backward_ref<double>(double*, const double*, const double*, size_t);

}  // namespace chamber
