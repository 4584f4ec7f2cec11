// GELU (tanh approximation) on the GPU; the math and the overwrite rule are in gelu.h:
//   forward:  out = 0.5 x (1 + tanh u),  u = sqrt(2/pi) (x + 0.044715 x^3)       out OVERWRITTEN
//   backward: dinp = dout * d/dx[GELU](x), recomputed from inp                   dinp OVERWRITTEN
// Elementwise and memory bound: one thread per element, consecutive threads on consecutive
// elements so every warp reads and writes whole cache lines. tanhf (not the fast approximate
// intrinsic) keeps the result within a few ulps of the reference.
#include "kernels/cuda_launchers.h"

namespace chamber::CHAMBER_GPU_NS {

namespace {

constexpr float kSqrt2OverPi = 0.7978845608028654f;
constexpr float kCubic = 0.044715f;
constexpr int kBlock = 256;

__global__ void gelu_forward_kernel(floatX* out, const floatX* inp, size_t n) {
  size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  float x = (float)inp[i];
  float u = kSqrt2OverPi * (x + kCubic * x * x * x);
  out[i] = (floatX)(0.5f * x * (1.0f + tanhf(u)));
}

__global__ void gelu_backward_kernel(floatX* dinp, const floatX* inp, const floatX* dout, size_t n) {
  size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  float x = (float)inp[i];
  float u = kSqrt2OverPi * (x + kCubic * x * x * x);
  float th = tanhf(u);
  float sech2 = 1.0f - th * th;
  float local_grad = 0.5f * (1.0f + th) + 0.5f * x * sech2 * kSqrt2OverPi * (1.0f + 3.0f * kCubic * x * x);
  dinp[i] = (floatX)(local_grad * (float)dout[i]);
}

}  // namespace

void gelu_forward(floatX* out, const floatX* inp, size_t n, cudaStream_t stream) {
  if (n == 0) return;
  CHAMBER_LAUNCH(gelu_forward_kernel, ceil_div(n, kBlock), kBlock, 0, stream, out, inp, n);
}

void gelu_backward(floatX* dinp, const floatX* inp, const floatX* dout, size_t n,
                   cudaStream_t stream) {
  if (n == 0) return;
  CHAMBER_LAUNCH(gelu_backward_kernel, ceil_div(n, kBlock), kBlock, 0, stream, dinp, inp, dout, n);
}

}  // namespace chamber::CHAMBER_GPU_NS
