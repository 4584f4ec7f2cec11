// Scalar value head on the GPU; the contract is in value_head.h:
//   forward:  values[i] = h[i,:] . w + b[0]                       values (N) OVERWRITTEN
//   backward: dh[i,c] += dvalues[i] w[c];  dw[c] += sum_i dvalues[i] h[i,c];  db += sum_i dvalues[i]
//             all ACCUMULATE
// Types: h, w, b, dh floatX; values, dvalues, dw, db float; arithmetic in float.
// Forward: one warp per row (a dot product of C ~ 768, shuffle-reduced). Backward: dh is an
// elementwise outer product (one thread per element); dw and db are deterministic column sums
// (reduce.cu), db being the column sum of the (N,1) matrix dvalues.
#include "kernels/cuda_launchers.h"

namespace chamber::CHAMBER_GPU_NS {

namespace {

constexpr int kWarpsPerBlock = 8;
constexpr int kBlock = 256;

__global__ void value_head_forward_kernel(float* values, const floatX* h, const floatX* w,
                                          const floatX* b, int N, int C) {
  int lane = threadIdx.x % 32;
  int row = blockIdx.x * kWarpsPerBlock + threadIdx.x / 32;
  if (row >= N) return;
  const floatX* x = h + (size_t)row * C;
  float dot = 0.0f;
  for (int c = lane; c < C; c += 32) dot += (float)x[c] * (float)w[c];
  dot = warp_sum(dot);
  if (lane == 0) values[row] = dot + (float)b[0];
}

__global__ void value_head_backward_dh_kernel(floatX* dh, const float* dvalues, const floatX* w,
                                              int N, int C) {
  size_t idx = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
  if (idx >= (size_t)N * C) return;
  dh[idx] = (floatX)((float)dh[idx] + dvalues[idx / C] * (float)w[idx % C]);
}

}  // namespace

void value_head_forward(float* values, const floatX* h, const floatX* w, const floatX* b, int N,
                        int C, cudaStream_t stream) {
  if (N <= 0) return;
  CHAMBER_LAUNCH(value_head_forward_kernel, ceil_div(N, kWarpsPerBlock), kWarpsPerBlock * 32, 0,
                 stream, values, h, w, b, N, C);
}

void value_head_backward(floatX* dh, float* dw, float* db, const float* dvalues,
                         const floatX* h, const floatX* w, int N, int C, cudaStream_t stream) {
  if (N <= 0) return;
  CHAMBER_LAUNCH(value_head_backward_dh_kernel, ceil_div((size_t)N * C, kBlock), kBlock, 0, stream,
                 dh, dvalues, w, N, C);
  column_sums_accumulate(dw, h, dvalues, N, C, stream);
  column_sums_accumulate(db, dvalues, nullptr, N, 1, stream);
}

}  // namespace chamber::CHAMBER_GPU_NS
