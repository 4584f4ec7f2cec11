// LayerNorm reference; the contract is in layernorm.h.
#include "kernels/layernorm.h"

#include <cmath>
#include <cstddef>
#include <vector>

namespace chamber {

template <typename Real>
void layernorm_forward_ref(Real* out, Real* mean, Real* rstd, const Real* inp, const Real* weight,
                           const Real* bias, int N, int C) {
#pragma omp parallel for schedule(static)
  for (int i = 0; i < N; i++) {
    const Real* x = inp + (size_t)i * C;
    Real sum = 0;
    for (int c = 0; c < C; c++) sum += x[c];
    Real m = sum / C;
    Real sum_sq = 0;
    for (int c = 0; c < C; c++) sum_sq += (x[c] - m) * (x[c] - m);
    Real s = Real(1) / std::sqrt(sum_sq / C + Real(kLayerNormEps));
    Real* y = out + (size_t)i * C;
    for (int c = 0; c < C; c++) y[c] = (x[c] - m) * s * weight[c] + bias[c];
    mean[i] = m;
    rstd[i] = s;
  }
}

template <typename Real>
void layernorm_backward_ref(Real* dinp, Real* dweight, Real* dbias, const Real* dout,
                            const Real* inp, const Real* weight, const Real* mean,
                            const Real* rstd, int N, int C) {
  // Input gradient: one row at a time (rows are independent).
#pragma omp parallel for schedule(static)
  for (int i = 0; i < N; i++) {
    const Real* x = inp + (size_t)i * C;
    const Real* dy = dout + (size_t)i * C;
    Real m = mean[i], s = rstd[i];
    Real mean_g = 0, mean_g_xhat = 0;
    for (int c = 0; c < C; c++) {
      Real g = dy[c] * weight[c];
      mean_g += g;
      mean_g_xhat += g * (x[c] - m) * s;
    }
    mean_g /= C;
    mean_g_xhat /= C;
    Real* dx = dinp + (size_t)i * C;
    for (int c = 0; c < C; c++) {
      Real xhat = (x[c] - m) * s;
      Real g = dy[c] * weight[c];
      dx[c] += s * (g - mean_g - xhat * mean_g_xhat);
    }
  }

  // Parameter gradients: sums over rows, each channel block owned by one thread. Summed into a
  // local buffer first, then added once, so the gradient buffer sees a single += per call.
  constexpr int kBlock = 64;
  int num_blocks = (C + kBlock - 1) / kBlock;
#pragma omp parallel for schedule(static)
  for (int block = 0; block < num_blocks; block++) {
    int c0 = block * kBlock;
    int c1 = c0 + kBlock < C ? c0 + kBlock : C;
    std::vector<Real> sum_dw(c1 - c0, Real(0)), sum_db(c1 - c0, Real(0));
    for (int i = 0; i < N; i++) {
      const Real* x = inp + (size_t)i * C;
      const Real* dy = dout + (size_t)i * C;
      for (int c = c0; c < c1; c++) {
        sum_db[c - c0] += dy[c];
        sum_dw[c - c0] += dy[c] * (x[c] - mean[i]) * rstd[i];
      }
    }
    for (int c = c0; c < c1; c++) {
      dweight[c] += sum_dw[c - c0];
      dbias[c] += sum_db[c - c0];
    }
  }
}

template void layernorm_forward_ref<float>(float*, float*, float*, const float*, const float*, const float*, int, int);
template void layernorm_forward_ref<double>(double*, double*, double*, const double*, const double*, const double*, int, int);
template void layernorm_backward_ref<float>(float*, float*, float*, const float*, const float*, const float*, const float*, const float*, int, int);
template void layernorm_backward_ref<double>(double*, double*, double*, const double*, const double*, const double*, const double*, const double*, int, int);

}  // namespace chamber
