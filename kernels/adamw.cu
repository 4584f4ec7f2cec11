// Fused AdamW on the GPU; the contract is in adamw.h and ops.h. Per element, step t >= 1:
//   g = grad_scale * grads;  m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2        m, v OVERWRITTEN
//   params -= lr * ( (m / (1-b1^t)) / (sqrt(v / (1-b2^t)) + eps) + weight_decay * params )
//   params_compute = the new params in floatX (when not null)                   OVERWRITTEN
// params, grads, m, v are float in every build (params are the fp32 master weights). One pass, one
// thread per element: reads params, grads, m, v once and writes params, m, v (and the compute copy)
// once (memory bound). The whole optimizer step is this single launch over every tensor of the
// model, each with its own rate and decay (the list travels as a kernel parameter). The bias
// corrections are computed once on the host in double, as in the reference, and the per-element
// arithmetic follows the reference's order so the two agree to a few ulps. The global-norm
// clipping scale is computed by every thread from the sum of squares that sum_squares (reduce.cu)
// left in device memory: a double load and a sqrt per thread cost nothing beside the 28 bytes it
// moves, and the norm never visits the host.
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

#include "util/util.h"
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

// The tensor list as the kernel receives it, by value (kernel parameters live in constant
// memory, read at the speed of a register when a warp's threads read the same entry): each tensor
// gets whole blocks, tensor k the blocks first_block[k] .. first_block[k+1]-1, so a block finds
// its tensor once and every thread of it reads the same entry.
struct AdamWTable {
  int num_tensors;
  unsigned first_block[kAdamWMaxTensors + 1];
  AdamWTensor tensors[kAdamWMaxTensors];
};

__global__ void adamw_kernel(float* params, const float* grads, float* m, float* v,
                             floatX* params_compute, const AdamWTable table, AdamWStep step,
                             float correction1, float correction2, const double* grad_sumsq) {
  // The gradient's scale, and the skip of a step whose gradient is not finite: clip_grad_scale's
  // arithmetic (adamw.cpp), from the sum of squares sum_squares left in device memory.
  float scale = step.grad_scale;
  if (grad_sumsq) {
    double sumsq = *grad_sumsq;
    if (!isfinite(sumsq)) return;
    double norm = sqrt(sumsq);
    if (step.max_grad_norm > 0.0f && norm > step.max_grad_norm)
      scale *= (float)(step.max_grad_norm / (norm + 1e-6));
  }
  int k = 0;
  while (k + 1 < table.num_tensors && blockIdx.x >= table.first_block[k + 1]) k++;
  const AdamWTensor& tensor = table.tensors[k];
  size_t i = (size_t)(blockIdx.x - table.first_block[k]) * blockDim.x + threadIdx.x;
  if (i >= tensor.count) return;
  const float lr = tensor.value_head ? step.value_head_lr : step.lr;
  const float weight_decay = tensor.decays ? step.weight_decay : 0.0f;
  const size_t p_i = tensor.param_first + i, m_i = tensor.moment_first + i;
  float g = scale * grads[p_i];
  float m_new = step.beta1 * m[m_i] + (1.0f - step.beta1) * g;
  float v_new = step.beta2 * v[m_i] + (1.0f - step.beta2) * g * g;
  m[m_i] = m_new;
  v[m_i] = v_new;
  float m_hat = m_new / correction1;
  float v_hat = v_new / correction2;
  float p = params[p_i];
  p = p - lr * (m_hat / (sqrtf(v_hat) + step.eps) + weight_decay * p);
  params[p_i] = p;
  if (params_compute)
    params_compute[tensor.compute_first + i] = to_compute(p, step.seed ^ tensor.seed_salt, i);
}

}  // namespace

void adamw_update(float* params, const float* grads, float* m, float* v, floatX* params_compute,
                  const AdamWTensor* tensors, int num_tensors, AdamWStep step,
                  const double* grad_sumsq, cudaStream_t stream) {
  if (num_tensors > kAdamWMaxTensors)
    fail("adamw_update: ", num_tensors, " tensors, more than one launch takes (",
         kAdamWMaxTensors, ")");
  AdamWTable table{};
  table.num_tensors = num_tensors;
  unsigned blocks = 0;
  for (int k = 0; k < num_tensors; k++) {
    table.tensors[k] = tensors[k];
    table.first_block[k] = blocks;
    blocks += ceil_div(tensors[k].count, kBlock);
  }
  table.first_block[num_tensors] = blocks;
  if (blocks == 0) return;
  float correction1 = (float)(1.0 - std::pow((double)step.beta1, step.t));
  float correction2 = (float)(1.0 - std::pow((double)step.beta2, step.t));
  CHAMBER_LAUNCH(adamw_kernel, blocks, kBlock, 0, stream, params, grads, m, v, params_compute,
                 table, step, correction1, correction2, grad_sumsq);
}

}  // namespace chamber::CHAMBER_GPU_NS
