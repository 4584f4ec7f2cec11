// AdamW, sum of squares and clip scale reference; the contract is in adamw.h.
#include "kernels/adamw.h"

#include <cmath>
#include <vector>

namespace chamber {

template <typename Real>
double sum_of_squares_ref(const Real* g, size_t n) {
  // Fixed chunk size (not one chunk per thread) so the summation order never depends on the
  // number of threads.
  constexpr size_t kChunk = 1 << 14;
  size_t num_chunks = (n + kChunk - 1) / kChunk;
  std::vector<double> partial(num_chunks, 0.0);
#pragma omp parallel for schedule(static)
  for (size_t chunk = 0; chunk < num_chunks; chunk++) {
    size_t begin = chunk * kChunk;
    size_t end = begin + kChunk < n ? begin + kChunk : n;
    double sum = 0.0;
    for (size_t i = begin; i < end; i++) sum += (double)g[i] * (double)g[i];
    partial[chunk] = sum;
  }
  double total = 0.0;
  for (double p : partial) total += p;
  return total;
}

template <typename Real>
void sum_squares_ref(double* sumsq, const Real* g, size_t n) {
  *sumsq = sum_of_squares_ref(g, n);
}

float clip_grad_scale(double grad_norm, float max_norm) {
  if (!(max_norm > 0.0f) || !std::isfinite(grad_norm) || grad_norm <= max_norm) return 1.0f;
  return (float)(max_norm / (grad_norm + 1e-6));
}

template <typename Real>
void adamw_range_ref(Real* params, const Real* grads, Real* m, Real* v, Real* params_compute,
                     size_t n, float lr, float beta1, float beta2, float eps, float weight_decay,
                     float grad_scale, int t) {
  Real correction1 = Real(1.0 - std::pow((double)beta1, t));
  Real correction2 = Real(1.0 - std::pow((double)beta2, t));
  Real b1 = beta1, b2 = beta2, rate = lr, epsilon = eps, decay = weight_decay, scale = grad_scale;
#pragma omp parallel for schedule(static)
  for (size_t i = 0; i < n; i++) {
    Real g = scale * grads[i];
    m[i] = b1 * m[i] + (Real(1) - b1) * g;
    v[i] = b2 * v[i] + (Real(1) - b2) * g * g;
    Real m_hat = m[i] / correction1;
    Real v_hat = v[i] / correction2;
    params[i] -= rate * (m_hat / (std::sqrt(v_hat) + epsilon) + decay * params[i]);
    if (params_compute) params_compute[i] = params[i];
  }
}

float adamw_gradient_scale(const AdamWStep& step, const double* grad_sumsq, bool* skip) {
  *skip = false;
  if (!grad_sumsq) return step.grad_scale;
  if (!std::isfinite(*grad_sumsq)) {
    *skip = true;
    return 0.0f;
  }
  return step.grad_scale * clip_grad_scale(std::sqrt(*grad_sumsq), step.max_grad_norm);
}

template <typename Real>
void adamw_update_ref(Real* params, const Real* grads, Real* m, Real* v, Real* params_compute,
                      const AdamWTensor* tensors, int num_tensors, AdamWStep step,
                      const double* grad_sumsq) {
  // A float copy needs no rounding: the seeds go unused.
  adamw_for_each_tensor(params, grads, m, v, params_compute, tensors, num_tensors, step, grad_sumsq,
                        adamw_range_ref<Real>);
}

template double sum_of_squares_ref<float>(const float*, size_t);
template double sum_of_squares_ref<double>(const double*, size_t);
template void sum_squares_ref<float>(double*, const float*, size_t);
template void sum_squares_ref<double>(double*, const double*, size_t);
template void adamw_range_ref<float>(float*, const float*, float*, float*, float*, size_t, float, float, float, float, float, float, int);
template void adamw_range_ref<double>(double*, const double*, double*, double*, double*, size_t, float, float, float, float, float, float, int);
template void adamw_update_ref<float>(float*, const float*, float*, float*, float*, const AdamWTensor*, int, AdamWStep, const double*);
template void adamw_update_ref<double>(double*, const double*, double*, double*, double*, const AdamWTensor*, int, AdamWStep, const double*);

}  // namespace chamber
