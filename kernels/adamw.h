// Optimizer pieces, plain C++ reference: AdamW, the sum of squares for the global gradient norm,
// and the clipping scale that folds into AdamW's gradient scale.
//
//   sum_of_squares_ref(g, n) = sum_i g[i]^2, accumulated in double. The array is cut into fixed
//     chunks whose partial sums are added in order, so the result is bit-identical whatever the
//     thread count. The op (kernels/ops.h) writes it to a backend double, which AdamW reads.
//
//   clip_grad_scale(norm, max_norm) = max_norm / (norm + 1e-6) if norm > max_norm, else 1.
//     max_norm <= 0 disables clipping (returns 1). A non-finite norm also returns 1: the caller
//     must check the norm and skip the step (scaling would hide the problem, not fix it); AdamW
//     given the sum of squares skips the update itself.
//
//   adamw_update_ref: AdamW over a list of tensors (kernels/ops.h's adamw_update), which is
//   adamw_range_ref over each tensor with its rate, decay and scale. adamw_range_ref, step t >= 1,
//   decoupled weight decay, elementwise over n:
//     g = grad_scale * grads
//     m = beta1 m + (1 - beta1) g;   v = beta2 v + (1 - beta2) g^2        (m, v OVERWRITTEN)
//     params -= lr * ( (m / (1 - beta1^t)) / (sqrt(v / (1 - beta2^t)) + eps)
//                      + weight_decay * params )                            (params UPDATED)
//   The bias corrections are computed once per call in double. params_compute, when not null,
//   receives a copy of the updated params: the CPU computes in float, so its compute copy is
//   exact (the bf16 CUDA tables round it stochastically from seed, kernels/adamw.cu); the model
//   passes null on the CPU, where the forward reads params itself.
//
// Templated over the scalar (float, double); the Ops table uses the float instantiation.
#pragma once
#include <cstddef>
#include <cstdint>

#include "kernels/ops.h"

namespace chamber {

template <typename Real>
double sum_of_squares_ref(const Real* g, size_t n);
// The op's form: *sumsq = sum_of_squares_ref(g, n).
template <typename Real>
void sum_squares_ref(double* sumsq, const Real* g, size_t n);

float clip_grad_scale(double grad_norm, float max_norm);

template <typename Real>
void adamw_range_ref(Real* params, const Real* grads, Real* m, Real* v, Real* params_compute,
                     size_t n, float lr, float beta1, float beta2, float eps, float weight_decay,
                     float grad_scale, int t);

// The gradient scale of an AdamW call (ops.h): step.grad_scale, times the clipping scale when
// grad_sumsq is given. *skip is set when the sum of squares is not finite (no update at all).
float adamw_gradient_scale(const AdamWStep& step, const double* grad_sumsq, bool* skip);

template <typename Real>
void adamw_update_ref(Real* params, const Real* grads, Real* m, Real* v, Real* params_compute,
                      const AdamWTensor* tensors, int num_tensors, AdamWStep step,
                      const double* grad_sumsq);

// The walk over an AdamW call's tensors that the CPU tables share: the step's gradient scale (and
// the skip of a non-finite norm) once, then range (adamw_range_ref's parameters) on each tensor's
// part of the arrays, with its rate and decay (params_compute null stays null).
template <typename Real, typename Range>
void adamw_for_each_tensor(Real* params, const Real* grads, Real* m, Real* v, Real* params_compute,
                           const AdamWTensor* tensors, int num_tensors, const AdamWStep& step,
                           const double* grad_sumsq, Range range) {
  bool skip;
  const float scale = adamw_gradient_scale(step, grad_sumsq, &skip);
  if (skip) return;
  for (int k = 0; k < num_tensors; k++) {
    const AdamWTensor& x = tensors[k];
    range(params + x.param_first, grads + x.param_first, m + x.moment_first, v + x.moment_first,
          params_compute ? params_compute + x.compute_first : nullptr, x.count,
          x.value_head ? step.value_head_lr : step.lr, step.beta1, step.beta2, step.eps,
          x.decays ? step.weight_decay : 0.0f, scale, step.t);
  }
}

// One tensor covering whole arrays of n elements (tests, benchmarks, one-array callers).
inline AdamWTensor adamw_whole_arrays(size_t n, bool decays = true) {
  return AdamWTensor{0, 0, 0, n, decays, false, 0u};
}

}  // namespace chamber
