// Fused AdamW on the GPU; the contract is in adamw.h. Per element, step t >= 1:
//   g = grad_scale * grads;  m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2        m, v OVERWRITTEN
//   params -= lr * ( (m / (1-b1^t)) / (sqrt(v / (1-b2^t)) + eps) + weight_decay * params )
// One pass, one thread per element: reads params, grads, m, v once and writes params, m, v once
// (memory bound; the whole optimizer step is this single launch over each arena). The bias
// corrections are computed once on the host in double, as in the reference, and the per-element
// arithmetic follows the reference's order so the two agree to a few ulps. grad_scale carries the
// global-norm clipping (the norm comes from sum_squares in reduce.cu).
#include <cmath>

#include "kernels/cuda_launchers.h"

namespace chamber::CHAMBER_GPU_NS {

namespace {

constexpr int kBlock = 256;

__global__ void adamw_kernel(floatX* params, const floatX* grads, float* m, float* v, size_t n,
                             float lr, float beta1, float beta2, float eps, float weight_decay,
                             float grad_scale, float correction1, float correction2) {
  size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  float g = grad_scale * (float)grads[i];
  float m_new = beta1 * m[i] + (1.0f - beta1) * g;
  float v_new = beta2 * v[i] + (1.0f - beta2) * g * g;
  m[i] = m_new;
  v[i] = v_new;
  float m_hat = m_new / correction1;
  float v_hat = v_new / correction2;
  float p = (float)params[i];
  params[i] = (floatX)(p - lr * (m_hat / (sqrtf(v_hat) + eps) + weight_decay * p));
}

}  // namespace

void adamw_update(floatX* params, const floatX* grads, float* m, float* v, size_t n, float lr,
                  float beta1, float beta2, float eps, float weight_decay, float grad_scale, int t,
                  cudaStream_t stream) {
  if (n == 0) return;
  float correction1 = (float)(1.0 - std::pow((double)beta1, t));
  float correction2 = (float)(1.0 - std::pow((double)beta2, t));
  CHAMBER_LAUNCH(adamw_kernel, ceil_div(n, kBlock), kBlock, 0, stream, params, grads, m, v, n, lr,
                 beta1, beta2, eps, weight_decay, grad_scale, correction1, correction2);
}

}  // namespace chamber::CHAMBER_GPU_NS
