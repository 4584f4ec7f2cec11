// Value head reference; the contract is in value_head.h.
#include "kernels/value_head.h"

#include <cstddef>
#include <vector>

namespace chamber {

template <typename Real>
void value_head_forward_ref(Real* values, const Real* h, const Real* w, const Real* b, int N,
                            int C) {
#pragma omp parallel for schedule(static)
  for (int i = 0; i < N; i++) {
    const Real* x = h + (size_t)i * C;
    Real sum = 0;
    for (int c = 0; c < C; c++) sum += x[c] * w[c];
    values[i] = sum + b[0];
  }
}

template <typename Real>
void value_head_backward_ref(Real* dh, Real* dw, Real* db, const Real* dvalues, const Real* h,
                             const Real* w, int N, int C) {
#pragma omp parallel for schedule(static)
  for (int i = 0; i < N; i++) {
    Real* dx = dh + (size_t)i * C;
    for (int c = 0; c < C; c++) dx[c] += dvalues[i] * w[c];
  }

  constexpr int kBlock = 64;
  int num_blocks = (C + kBlock - 1) / kBlock;
#pragma omp parallel for schedule(static)
  for (int block = 0; block < num_blocks; block++) {
    int c0 = block * kBlock;
    int c1 = c0 + kBlock < C ? c0 + kBlock : C;
    std::vector<Real> sum_dw(c1 - c0, Real(0));
    for (int i = 0; i < N; i++) {
      const Real* x = h + (size_t)i * C;
      for (int c = c0; c < c1; c++) sum_dw[c - c0] += dvalues[i] * x[c];
    }
    for (int c = c0; c < c1; c++) dw[c] += sum_dw[c - c0];
  }

  Real sum_db = 0;
  for (int i = 0; i < N; i++) sum_db += dvalues[i];
  db[0] += sum_db;
}

template void value_head_forward_ref<float>(float*, const float*, const float*, const float*, int, int);
template void value_head_forward_ref<double>(double*, const double*, const double*, const double*, int, int);
template void value_head_backward_ref<float>(float*, float*, float*, const float*, const float*, const float*, int, int);
template void value_head_backward_ref<double>(double*, double*, double*, const double*, const double*, const double*, int, int);

}  // namespace chamber
