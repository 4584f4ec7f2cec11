// Matmul with bias on the fast CPU path: the three products go to OpenBLAS sgemm. The contract
// (shapes, which gradients accumulate, null arguments) is the reference's, kernels/matmul.h.
//
// In row-major terms, with inp (N,C), weight (OC,C), dout (N,OC):
//   forward   out     = inp @ weight^T (+ bias)    sgemm(NoTrans, Trans),  beta = 1 over a bias
//                                                  pre-fill (or beta = 0 without bias)
//   backward  dinp    = dout @ weight              sgemm(NoTrans, NoTrans), beta = 0
//             dweight += dout^T @ inp              sgemm(Trans, NoTrans),   beta = 1
//             dbias  += column sums of dout        our own loop, below
// beta is how "overwrite" and "accumulate" map onto BLAS: C = alpha A B + beta C.
//
// sgemm is called from the serial part of the program, so OpenBLAS (the OpenMP build) splits each
// product over all threads itself. The bias column sums are parallel over blocks of columns; each
// block sums the rows in order, so dbias does not depend on the thread count.
#include <cblas.h>

#include <cstddef>
#include <cstring>

#include "kernels/cpu_fast.h"

namespace chamber {

void matmul_forward_fast(float* out, const float* inp, const float* weight, const float* bias,
                         int N, int C, int OC) {
  if (N <= 0 || OC <= 0) return;
  float beta = 0.0f;
  if (bias) {
#pragma omp parallel for schedule(static)
    for (int i = 0; i < N; i++) std::memcpy(out + (size_t)i * OC, bias, (size_t)OC * sizeof(float));
    beta = 1.0f;
  }
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, OC, C, 1.0f, inp, C, weight, C, beta,
              out, OC);
}

// dbias[o] += sum_i dout[i,o], i in order. Blocks of 64 columns keep the running sums in
// registers/L1 while the rows stream past.
static void bias_backward(float* dbias, const float* dout, int N, int OC) {
  constexpr int kBlock = 64;
  int num_blocks = (OC + kBlock - 1) / kBlock;
#pragma omp parallel for schedule(static)
  for (int block = 0; block < num_blocks; block++) {
    int o0 = block * kBlock;
    int width = OC - o0 < kBlock ? OC - o0 : kBlock;
    float sum[kBlock] = {};
    for (int i = 0; i < N; i++) {
      const float* row = dout + (size_t)i * OC + o0;
#pragma omp simd
      for (int o = 0; o < width; o++) sum[o] += row[o];
    }
    for (int o = 0; o < width; o++) dbias[o0 + o] += sum[o];
  }
}

void matmul_backward_fast(float* dinp, float* dweight, float* dbias, const float* dout,
                          const float* inp, const float* weight, int N, int C, int OC) {
  if (N <= 0 || C <= 0 || OC <= 0) return;
  if (dinp)
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, C, OC, 1.0f, dout, OC, weight, C,
                0.0f, dinp, C);  // overwritten: beta 0 never reads the old values
  if (dweight)
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, OC, C, N, 1.0f, dout, OC, inp, C, 1.0f,
                dweight, C);
  if (dbias) bias_backward(dbias, dout, N, OC);
}

}  // namespace chamber
