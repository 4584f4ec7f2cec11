// Matmul reference; the contract is in matmul.h.
#include "kernels/matmul.h"

#include <cstddef>
#include <vector>

namespace chamber {

template <typename Real>
void matmul_forward_ref(Real* out, const Real* inp, const Real* weight, const Real* bias, int N,
                        int C, int OC) {
#pragma omp parallel for schedule(static)
  for (int i = 0; i < N; i++) {
    const Real* x = inp + (size_t)i * C;
    Real* y = out + (size_t)i * OC;
    for (int o = 0; o < OC; o++) {
      const Real* w = weight + (size_t)o * C;
      Real sum = 0;
#pragma omp simd reduction(+ : sum)
      for (int c = 0; c < C; c++) sum += x[c] * w[c];
      y[o] = sum + (bias ? bias[o] : Real(0));
    }
  }
}

template <typename Real>
void matmul_backward_ref(Real* dinp, Real* dweight, Real* dbias, const Real* dout, const Real* inp,
                         const Real* weight, int N, int C, int OC) {
  if (dinp) {
#pragma omp parallel for schedule(static)
    for (int i = 0; i < N; i++) {
      const Real* dy = dout + (size_t)i * OC;
      std::vector<Real> dx(C, Real(0));
      for (int o = 0; o < OC; o++) {
        const Real* w = weight + (size_t)o * C;
        Real d = dy[o];
        for (int c = 0; c < C; c++) dx[c] += d * w[c];
      }
      Real* dinp_row = dinp + (size_t)i * C;
      for (int c = 0; c < C; c++) dinp_row[c] = dx[c];
    }
  }
  if (dweight || dbias) {
#pragma omp parallel for schedule(static)
    for (int o = 0; o < OC; o++) {
      std::vector<Real> dw(dweight ? C : 0, Real(0));
      Real db = 0;
      for (int i = 0; i < N; i++) {
        Real d = dout[(size_t)i * OC + o];
        db += d;
        if (dweight) {
          const Real* x = inp + (size_t)i * C;
          for (int c = 0; c < C; c++) dw[c] += d * x[c];
        }
      }
      if (dweight) {
        Real* dweight_row = dweight + (size_t)o * C;
        for (int c = 0; c < C; c++) dweight_row[c] += dw[c];
      }
      if (dbias) dbias[o] += db;
    }
  }
}

template void matmul_forward_ref<float>(float*, const float*, const float*, const float*, int, int, int);
template void matmul_forward_ref<double>(double*, const double*, const double*, const double*, int, int, int);
template void matmul_backward_ref<float>(float*, float*, float*, const float*, const float*, const float*, int, int, int);
template void matmul_backward_ref<double>(double*, double*, double*, const double*, const double*, const double*, int, int, int);

}  // namespace chamber
