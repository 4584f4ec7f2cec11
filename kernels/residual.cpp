// Residual add reference; the contract is in residual.h.
#include "kernels/residual.h"

namespace chamber {

template <typename Real>
void residual_forward_ref(Real* out, const Real* a, const Real* b, size_t n) {
#pragma omp parallel for schedule(static)
  for (size_t i = 0; i < n; i++) out[i] = a[i] + b[i];
}

template <typename Real>
void residual_backward_ref(Real* da, Real* db, const Real* dout, size_t n) {
#pragma omp parallel for schedule(static)
  for (size_t i = 0; i < n; i++) {
    da[i] += dout[i];
    db[i] += dout[i];
  }
}

template void residual_forward_ref<float>(float*, const float*, const float*, size_t);
template void residual_forward_ref<double>(double*, const double*, const double*, size_t);
template void residual_backward_ref<float>(float*, float*, const float*, size_t);
template void residual_backward_ref<double>(double*, double*, const double*, size_t);

}  // namespace chamber
