// The optimizer ops called the way one-array tests use them: the sum of squares read back from
// its backend double, and AdamW over whole arrays as one tensor (kernels/ops.h has the ops).
#pragma once
#include <cstddef>
#include <cstdint>

#include "kernels/adamw.h"
#include "kernels/ops.h"

namespace chamber::testing {

inline double sum_squares_on(const Ops& ops, const float* g, size_t n) {
  double* on_backend = (double*)ops.alloc(sizeof(double));
  ops.sum_squares(on_backend, g, n);
  double sum = 0.0;
  ops.to_host(&sum, on_backend, sizeof(double));
  ops.free(on_backend);
  return sum;
}

inline AdamWStep adamw_step_of(float lr, float beta1, float beta2, float eps, float weight_decay,
                               float grad_scale, int t, uint32_t seed) {
  AdamWStep step{};
  step.lr = step.value_head_lr = lr;
  step.beta1 = beta1, step.beta2 = beta2, step.eps = eps;
  step.weight_decay = weight_decay;
  step.grad_scale = grad_scale;
  step.t = t;
  step.seed = seed;
  return step;
}

// AdamW over n elements of each array (params_compute may be null), as one decaying tensor.
inline void adamw_whole(const Ops& ops, float* params, const float* grads, float* m, float* v,
                        xfloat* params_compute, size_t n, float lr, float beta1, float beta2,
                        float eps, float weight_decay, float grad_scale, int t, uint32_t seed) {
  AdamWTensor whole = adamw_whole_arrays(n);
  ops.adamw_update(params, grads, m, v, params_compute, &whole, 1,
                   adamw_step_of(lr, beta1, beta2, eps, weight_decay, grad_scale, t, seed), nullptr);
}

}  // namespace chamber::testing
