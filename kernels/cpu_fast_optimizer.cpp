// AdamW and the gradient sum of squares on the fast CPU path. Contracts are the references'
// (kernels/adamw.h): the same formulas, in the same float operations, one pass over memory.
//
// AdamW reads params, grads, m, v and writes params, m, v: 28 bytes per parameter and a handful
// of flops, so it is memory-bound; the point is to touch each array once (a "foreach"-style
// optimizer makes several passes) and to use both cores' bandwidth. Work is cut into fixed chunks
// of 8-float vectors, so an element's arithmetic never depends on the thread count.
//
// sum_squares accumulates in double as the reference does (4 double lanes per chunk), over at
// most kMaxChunks fixed chunks whose partial sums are then added in order: the chunking depends
// only on n, so the result is bit-identical for any thread count, and the partials live on the
// stack (no allocation).
#include <immintrin.h>

#include <cmath>
#include <cstddef>

#include "kernels/adamw.h"
#include "kernels/cpu_fast.h"
#include "kernels/cpu_fast_simd.h"

namespace chamber {

namespace {
constexpr size_t kAdamChunk = 1 << 14;     // floats per AdamW work item
constexpr size_t kSerialBelow = 1 << 15;   // smaller tensors stay on one thread
constexpr size_t kMaxChunks = 1024;        // sum_squares partial sums (on the stack)
constexpr size_t kMinSumChunk = 1 << 14;
}  // namespace

void adamw_range_fast(float* params, const float* grads, float* m, float* v, float* params_compute,
                      size_t n, float lr, float beta1, float beta2, float eps, float weight_decay,
                      float grad_scale, int t) {
  const float correction1 = (float)(1.0 - std::pow((double)beta1, t));
  const float correction2 = (float)(1.0 - std::pow((double)beta2, t));
  const __m256 b1 = _mm256_set1_ps(beta1), one_minus_b1 = _mm256_set1_ps(1.0f - beta1);
  const __m256 b2 = _mm256_set1_ps(beta2), one_minus_b2 = _mm256_set1_ps(1.0f - beta2);
  const __m256 c1 = _mm256_set1_ps(correction1), c2 = _mm256_set1_ps(correction2);
  const __m256 rate = _mm256_set1_ps(lr), epsilon = _mm256_set1_ps(eps);
  const __m256 decay = _mm256_set1_ps(weight_decay), scale = _mm256_set1_ps(grad_scale);

  // One vector of the update; `count` < 8 only for the last few values of the array.
  auto update8 = [&](size_t i, size_t count) {
    __m256 p, g, mi, vi;
    if (count == 8) {
      p = _mm256_loadu_ps(params + i), g = _mm256_loadu_ps(grads + i);
      mi = _mm256_loadu_ps(m + i), vi = _mm256_loadu_ps(v + i);
    } else {
      p = simd::load_tail(params + i, count), g = simd::load_tail(grads + i, count);
      mi = simd::load_tail(m + i, count), vi = simd::load_tail(v + i, count);
    }
    g = _mm256_mul_ps(scale, g);
    mi = _mm256_add_ps(_mm256_mul_ps(b1, mi), _mm256_mul_ps(one_minus_b1, g));
    vi = _mm256_add_ps(_mm256_mul_ps(b2, vi), _mm256_mul_ps(_mm256_mul_ps(one_minus_b2, g), g));
    __m256 m_hat = _mm256_div_ps(mi, c1);
    __m256 v_hat = _mm256_div_ps(vi, c2);
    __m256 step = _mm256_add_ps(_mm256_div_ps(m_hat, _mm256_add_ps(_mm256_sqrt_ps(v_hat), epsilon)),
                                _mm256_mul_ps(decay, p));
    p = _mm256_sub_ps(p, _mm256_mul_ps(rate, step));
    if (count == 8) {
      _mm256_storeu_ps(params + i, p), _mm256_storeu_ps(m + i, mi), _mm256_storeu_ps(v + i, vi);
      if (params_compute) _mm256_storeu_ps(params_compute + i, p);
    } else {
      simd::store_tail(params + i, p, count), simd::store_tail(m + i, mi, count);
      simd::store_tail(v + i, vi, count);
      if (params_compute) simd::store_tail(params_compute + i, p, count);
    }
  };

  long num_chunks = (long)((n + kAdamChunk - 1) / kAdamChunk);
#pragma omp parallel for schedule(static) if (n >= kSerialBelow)
  for (long chunk = 0; chunk < num_chunks; chunk++) {
    size_t begin = (size_t)chunk * kAdamChunk;
    size_t end = begin + kAdamChunk < n ? begin + kAdamChunk : n;
    for (size_t i = begin; i < end; i += 8) update8(i, end - i < 8 ? end - i : 8);
  }
}

// The tensors one after another, each with its rate, decay and the step's scale (adamw.h).
void adamw_update_fast(float* params, const float* grads, float* m, float* v, float* params_compute,
                       const AdamWTensor* tensors, int num_tensors, AdamWStep step,
                       const double* grad_sumsq) {
  // The compute copy is float here: exact, no seeds.
  adamw_for_each_tensor(params, grads, m, v, params_compute, tensors, num_tensors, step, grad_sumsq,
                        adamw_range_fast);
}

void sum_squares_fast(double* sumsq, const float* g, size_t n) { *sumsq = sum_of_squares_fast(g, n); }

double sum_of_squares_fast(const float* g, size_t n) {
  if (n == 0) return 0.0;
  size_t chunk = (n + kMaxChunks - 1) / kMaxChunks;
  chunk = chunk < kMinSumChunk ? kMinSumChunk : (chunk + 7) / 8 * 8;
  long num_chunks = (long)((n + chunk - 1) / chunk);
  double partial[kMaxChunks];
#pragma omp parallel for schedule(static) if (n >= kSerialBelow)
  for (long c = 0; c < num_chunks; c++) {
    size_t begin = (size_t)c * chunk;
    size_t end = begin + chunk < n ? begin + chunk : n;
    __m256d lo = _mm256_setzero_pd(), hi = _mm256_setzero_pd();
    size_t i = begin;
    for (; i + 8 <= end; i += 8) {
      __m256 x = _mm256_loadu_ps(g + i);
      __m256d x_lo = _mm256_cvtps_pd(_mm256_castps256_ps128(x));
      __m256d x_hi = _mm256_cvtps_pd(_mm256_extractf128_ps(x, 1));
      lo = _mm256_fmadd_pd(x_lo, x_lo, lo);
      hi = _mm256_fmadd_pd(x_hi, x_hi, hi);
    }
    double sum = simd::hsum(_mm256_add_pd(lo, hi));
    for (; i < end; i++) sum += (double)g[i] * (double)g[i];
    partial[c] = sum;
  }
  double total = 0.0;
  for (long c = 0; c < num_chunks; c++) total += partial[c];
  return total;
}

}  // namespace chamber
