// Token + position embedding reference; the contract is in encoder.h.
#include "kernels/encoder.h"

#include <cstddef>

namespace chamber {

template <typename Real>
void encoder_forward_ref(Real* out, const int* tokens, const Real* wte, const Real* wpe, int B,
                         int T, int C) {
#pragma omp parallel for schedule(static)
  for (int bt = 0; bt < B * T; bt++) {
    int t = bt % T;
    const Real* token_row = wte + (size_t)tokens[bt] * C;
    const Real* position_row = wpe + (size_t)t * C;
    Real* out_row = out + (size_t)bt * C;
    for (int c = 0; c < C; c++) out_row[c] = token_row[c] + position_row[c];
  }
}

template <typename Real>
void encoder_backward_ref(Real* dwte, Real* dwpe, const Real* dout, const int* tokens, int B,
                          int T, int C) {
  // Channel blocks: a thread owns columns [c0, c1) of dwte and dwpe and walks all positions in
  // order, so repeated tokens are summed in a fixed order without atomics.
  constexpr int kBlock = 32;
  int num_blocks = (C + kBlock - 1) / kBlock;
#pragma omp parallel for schedule(static)
  for (int block = 0; block < num_blocks; block++) {
    int c0 = block * kBlock;
    int c1 = c0 + kBlock < C ? c0 + kBlock : C;
    for (int b = 0; b < B; b++) {
      for (int t = 0; t < T; t++) {
        const Real* dout_row = dout + ((size_t)b * T + t) * C;
        Real* dwte_row = dwte + (size_t)tokens[b * T + t] * C;
        Real* dwpe_row = dwpe + (size_t)t * C;
        for (int c = c0; c < c1; c++) {
          dwte_row[c] += dout_row[c];
          dwpe_row[c] += dout_row[c];
        }
      }
    }
  }
}

template void encoder_forward_ref<float>(float*, const int*, const float*, const float*, int, int, int);
template void encoder_forward_ref<double>(double*, const int*, const double*, const double*, int, int, int);
template void encoder_backward_ref<float>(float*, float*, const float*, const int*, int, int, int);
template void encoder_backward_ref<double>(double*, double*, const double*, const int*, int, int, int);

}  // namespace chamber
