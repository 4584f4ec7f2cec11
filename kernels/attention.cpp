// Causal self-attention reference; the contract is in attention.h.
#include "kernels/attention.h"

#include <cmath>
#include <cstddef>
#include <vector>

namespace chamber {

template <typename Real>
void attention_forward_ref(Real* out, Real* lse, const Real* qkv, int B, int T, int C, int NH) {
  int hs = C / NH;
  Real scale = Real(1) / std::sqrt(Real(hs));
  size_t row3 = (size_t)3 * C;  // stride between positions in qkv
#pragma omp parallel
  {
    std::vector<Real> p(T);  // one query's probabilities (per thread)
#pragma omp for collapse(2) schedule(static)
    for (int b = 0; b < B; b++) {
      for (int h = 0; h < NH; h++) {
        for (int t = 0; t < T; t++) {
          const Real* q = qkv + ((size_t)b * T + t) * row3 + h * hs;

          // Causal: the query at t attends to keys t2 <= t only.
          const Real* k0 = qkv + (size_t)b * T * row3 + C + h * hs;
          lse[((size_t)b * NH + h) * T + t] =
              attention_probabilities(p.data(), q, k0, row3, t + 1, hs, scale);

          // Weighted sum of values.
          Real* y = out + ((size_t)b * T + t) * C + h * hs;
          for (int i = 0; i < hs; i++) y[i] = 0;
          for (int t2 = 0; t2 <= t; t2++) {
            const Real* v = qkv + ((size_t)b * T + t2) * row3 + 2 * C + h * hs;
            for (int i = 0; i < hs; i++) y[i] += p[t2] * v[i];
          }
        }
      }
    }
  }
}

template <typename Real>
void attention_backward_ref(Real* dqkv, const Real* dout, const Real* qkv, const Real* out,
                            const Real* lse, int B, int T, int C, int NH) {
  (void)out;  // see attention.h: the row sum is taken as sum p * da here
  int hs = C / NH;
  Real scale = Real(1) / std::sqrt(Real(hs));
  size_t row3 = (size_t)3 * C;
#pragma omp parallel
  {
    std::vector<Real> p(T), ds(T);  // one query row of probabilities and score gradients
#pragma omp for collapse(2) schedule(static)
    for (int b = 0; b < B; b++) {
      for (int h = 0; h < NH; h++) {
        // dqkv is overwritten: this head's q, k and v gradients start from zero.
        for (int t = 0; t < T; t++)
          for (int part = 0; part < 3; part++)
            for (int i = 0; i < hs; i++) dqkv[((size_t)b * T + t) * row3 + part * C + h * hs + i] = 0;
        for (int t = 0; t < T; t++) {
          size_t qt = ((size_t)b * T + t) * row3 + h * hs;  // offset of q[b,t,h] in qkv
          const Real* dy = dout + ((size_t)b * T + t) * C + h * hs;
          Real row_lse = lse[((size_t)b * NH + h) * T + t];

          // Recompute the probabilities from the scores and the saved log-sum-exp.
          for (int t2 = 0; t2 <= t; t2++) {
            size_t kt2 = ((size_t)b * T + t2) * row3 + C + h * hs;
            Real dot = 0;
            for (int i = 0; i < hs; i++) dot += qkv[qt + i] * qkv[kt2 + i];
            p[t2] = std::exp(dot * scale - row_lse);
          }

          // Through the weighted sum: gradient to the probabilities and to the values.
          for (int t2 = 0; t2 <= t; t2++) {
            size_t vt2 = ((size_t)b * T + t2) * row3 + 2 * C + h * hs;
            Real da = 0;
            for (int i = 0; i < hs; i++) {
              da += dy[i] * qkv[vt2 + i];
              dqkv[vt2 + i] += p[t2] * dy[i];
            }
            ds[t2] = da;
          }
          // Through the softmax: ds = p * (da - sum p*da).
          Real p_dot_da = 0;
          for (int t2 = 0; t2 <= t; t2++) p_dot_da += p[t2] * ds[t2];
          for (int t2 = 0; t2 <= t; t2++) ds[t2] = p[t2] * (ds[t2] - p_dot_da);

          // Through the scaled dot product: gradient to q[t] and to each k[t2].
          for (int t2 = 0; t2 <= t; t2++) {
            size_t kt2 = ((size_t)b * T + t2) * row3 + C + h * hs;
            Real g = ds[t2] * scale;
            for (int i = 0; i < hs; i++) {
              dqkv[qt + i] += g * qkv[kt2 + i];
              dqkv[kt2 + i] += g * qkv[qt + i];
            }
          }
        }
      }
    }
  }
}

template void attention_forward_ref<float>(float*, float*, const float*, int, int, int, int);
template void attention_forward_ref<double>(double*, double*, const double*, int, int, int, int);
template void attention_backward_ref<float>(float*, const float*, const float*, const float*,
                                            const float*, int, int, int, int);
template void attention_backward_ref<double>(double*, const double*, const double*, const double*,
                                             const double*, int, int, int, int);

}  // namespace chamber
