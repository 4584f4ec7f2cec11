// Attention against a KV cache, reference; the contract is in attention_decode.h.
#include "kernels/attention_decode.h"

#include <cmath>
#include <cstddef>
#include <vector>

#include "kernels/attention.h"

namespace chamber {

template <typename Real>
void attention_decode_ref(Real* out, Real* k_cache, Real* v_cache, const Real* qkv,
                          const int* slots, const int* pos, int N, int Tn, int C, int NH,
                          int max_len) {
  const int hs = C / NH;
  const Real scale = Real(1) / std::sqrt(Real(hs));
  const size_t row3 = (size_t)3 * C;
  // Threads only pay off with enough work; a batch-1 decode step is a few thousand flops.
  const bool parallel = (size_t)N * NH * Tn * max_len * hs >= ((size_t)1 << 16);
#pragma omp parallel if (parallel)
  {
    std::vector<Real> p(max_len);  // scores, then probabilities, of one query (per thread)
#pragma omp for collapse(2) schedule(static)
    for (int i = 0; i < N; i++) {
      for (int h = 0; h < NH; h++) {
        const size_t head_base = ((size_t)slots[i] * NH + h) * max_len * hs;
        Real* kc = k_cache + head_base;  // (max_len, hs) of this slot and head
        Real* vc = v_cache + head_base;
        const Real* rows = qkv + (size_t)i * Tn * row3;
        // Append the new keys and values.
        for (int j = 0; j < Tn; j++) {
          const Real* r = rows + (size_t)j * row3;
          Real* kd = kc + (size_t)(pos[i] + j) * hs;
          Real* vd = vc + (size_t)(pos[i] + j) * hs;
          for (int c = 0; c < hs; c++) {
            kd[c] = r[C + h * hs + c];
            vd[c] = r[2 * C + h * hs + c];
          }
        }
        // Attend: each new token over the cached positions up to its own.
        for (int j = 0; j < Tn; j++) {
          const int t = pos[i] + j;
          const Real* q = rows + (size_t)j * row3 + h * hs;
          attention_probabilities(p.data(), q, (const Real*)kc, (size_t)hs, t + 1, hs, scale);
          Real* y = out + ((size_t)i * Tn + j) * C + h * hs;
          for (int c = 0; c < hs; c++) y[c] = 0;
          for (int t2 = 0; t2 <= t; t2++) {
            const Real* v = vc + (size_t)t2 * hs;
            for (int c = 0; c < hs; c++) y[c] += p[t2] * v[c];
          }
        }
      }
    }
  }
}

template void attention_decode_ref<float>(float*, float*, float*, const float*, const int*,
                                          const int*, int, int, int, int, int);
template void attention_decode_ref<double>(double*, double*, double*, const double*, const int*,
                                           const int*, int, int, int, int, int);

}  // namespace chamber
