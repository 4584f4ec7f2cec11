// Fused AdamW on the GPU; the contract is in adamw.h and ops.h. Per element, step t >= 1:
//   g = grad_scale * grads;  m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2        m, v OVERWRITTEN
//   params -= lr * ( (m / (1-b1^t)) / (sqrt(v / (1-b2^t)) + eps) + weight_decay * params )
//   params_compute = the new params in floatX (when not null)                   OVERWRITTEN
// params, grads, m, v are float in every build (params are the fp32 master weights). One pass, one
// thread per element: reads params, grads, m, v once and writes params, m, v (and the compute copy)
// once (memory bound; the whole optimizer step is this single launch over each arena). The bias
// corrections are computed once on the host in double, as in the reference, and the per-element
// arithmetic follows the reference's order so the two agree to a few ulps. grad_scale carries the
// global-norm clipping (the norm comes from sum_squares in reduce.cu).
//
// The compute copy. The fp32 builds copy the new weight. The bf16 builds round it stochastically:
// a bf16 keeps the top 16 bits of the float, so adding a uniform 16-bit integer r to the float's
// bit pattern and then truncating the low 16 bits rounds up exactly when r >= 2^16 - low bits,
// that is with probability (low bits) / 2^16, the fraction of the way to the next bf16 (the same
// holds for negative values, whose magnitude is what the bits encode). So the expected copy is the
// float itself, and an update smaller than half a bf16 step still moves the copy on average,
// where round to nearest would drop it every time. A carry out of the mantissa steps the exponent,
// which is the next bf16 up (or Inf past the largest finite one, as rounding up would). Inf and NaN
// are converted as they are (adding to a NaN's bits could make it an Inf). r comes from a
// counter-based hash of (seed, element index): no state, the same bits for the same seed whatever
// the launch shape, different bits for another seed (the caller passes a new one each step).
#include <cmath>
#include <cstring>

#include "kernels/cuda_launchers.h"

namespace chamber::CHAMBER_GPU_NS {

namespace {

constexpr int kBlock = 256;

// 32 well-mixed bits of (seed, i): splitmix64's finaliser over a Weyl step of the index keyed by
// the seed.
__device__ __forceinline__ uint32_t hash_bits(uint32_t seed, uint64_t i) {
  uint64_t x = i * 0x9E3779B97F4A7C15ull + ((uint64_t)seed << 32 | seed) + 0x632BE59BD9B4E019ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return (uint32_t)((x ^ (x >> 31)) >> 32);
}

__device__ __forceinline__ uint32_t float_bits(float f) {
#if defined(__CUDACC__)
  return __float_as_uint(f);
#else
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
#endif
}
__device__ __forceinline__ float bits_float(uint32_t u) {
#if defined(__CUDACC__)
  return __uint_as_float(u);
#else
  float f;
  std::memcpy(&f, &u, 4);
  return f;
#endif
}

// p in the compute type: a copy for float, stochastic rounding (above) for bf16. The rounded float
// has its low 16 bits zero, so the conversion to bf16 is exact.
__device__ __forceinline__ floatX to_compute(float p, uint32_t seed, size_t i) {
  if constexpr (sizeof(floatX) == sizeof(float)) {
    return (floatX)p;
  } else {
    uint32_t u = float_bits(p);
    if ((u & 0x7f800000u) == 0x7f800000u) return (floatX)p;  // Inf, NaN
    u = (u + (hash_bits(seed, i) >> 16)) & 0xffff0000u;
    return (floatX)bits_float(u);
  }
}

__global__ void adamw_kernel(float* params, const float* grads, float* m, float* v,
                             floatX* params_compute, size_t n, float lr, float beta1, float beta2,
                             float eps, float weight_decay, float grad_scale, float correction1,
                             float correction2, uint32_t seed) {
  size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  float g = grad_scale * grads[i];
  float m_new = beta1 * m[i] + (1.0f - beta1) * g;
  float v_new = beta2 * v[i] + (1.0f - beta2) * g * g;
  m[i] = m_new;
  v[i] = v_new;
  float m_hat = m_new / correction1;
  float v_hat = v_new / correction2;
  float p = params[i];
  p = p - lr * (m_hat / (sqrtf(v_hat) + eps) + weight_decay * p);
  params[i] = p;
  if (params_compute) params_compute[i] = to_compute(p, seed, i);
}

}  // namespace

void adamw_update(float* params, const float* grads, float* m, float* v, floatX* params_compute,
                  size_t n, float lr, float beta1, float beta2, float eps, float weight_decay,
                  float grad_scale, int t, uint32_t seed, cudaStream_t stream) {
  if (n == 0) return;
  float correction1 = (float)(1.0 - std::pow((double)beta1, t));
  float correction2 = (float)(1.0 - std::pow((double)beta2, t));
  CHAMBER_LAUNCH(adamw_kernel, ceil_div(n, kBlock), kBlock, 0, stream, params, grads, m, v,
                 params_compute, n, lr, beta1, beta2, eps, weight_decay, grad_scale, correction1,
                 correction2, seed);
}

}  // namespace chamber::CHAMBER_GPU_NS
