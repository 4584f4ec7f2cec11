// The fused classifier on the fast CPU path: softmax, cross-entropy, entropy and the logits
// gradient, in place, no probabilities tensor. The contract (padding columns, ignored rows, token
// weights, what is overwritten) is the reference's, kernels/classifier.h.
//
// Per row x = logits[i, 0..V), with m = max x, e_j = e^(x_j - m), S = sum e_j, A = sum e_j (x_j - m):
//   loss = log S - (x_target - m),   entropy = log S - A / S,
//   gradient_j = w (e_j / S - [j == target]).
// Three vectorised sweeps over the row, which stays in L1/L2 (a 50k-entry row is 200 KiB):
//   1. m;   2. e_j written over x_j while S and A accumulate;   3. scale by w/S, subtract w at the
// target, zero the padding. Without gradients, sweep 2 leaves the logits untouched.
// Rows are independent and one thread owns each row, so the result does not depend on the
// thread count.
#include <immintrin.h>

#include <cassert>
#include <cmath>
#include <cstddef>

#include "kernels/cpu_fast.h"
#include "kernels/cpu_fast_simd.h"

namespace chamber {

namespace {

float row_max(const float* x, int V) {
  const __m256 neg_inf = _mm256_set1_ps(-INFINITY);
  __m256 max8 = neg_inf;
  int j = 0;
  for (; j + 8 <= V; j += 8) max8 = _mm256_max_ps(max8, _mm256_loadu_ps(x + j));
  if (j < V) {
    __m256i mask = simd::tail_mask(V - j);
    max8 = _mm256_max_ps(max8, _mm256_blendv_ps(neg_inf, _mm256_maskload_ps(x + j, mask), simd::mask_ps(mask)));
  }
  return simd::hmax(max8);
}

// S and A of the row; when store_exp, x_j is replaced by e_j.
void row_sums(float* x, int V, float m, bool store_exp, float* S_out, float* A_out) {
  const __m256 max8 = _mm256_set1_ps(m);
  __m256 S = _mm256_setzero_ps(), A = _mm256_setzero_ps();
  int j = 0;
  for (; j + 8 <= V; j += 8) {
    __m256 shifted = _mm256_sub_ps(_mm256_loadu_ps(x + j), max8);
    __m256 e = simd::exp8(shifted);
    S = _mm256_add_ps(S, e);
    A = _mm256_fmadd_ps(e, shifted, A);
    if (store_exp) _mm256_storeu_ps(x + j, e);
  }
  if (j < V) {
    int rest = V - j;
    __m256 live = simd::mask_ps(simd::tail_mask(rest));
    __m256 shifted = _mm256_and_ps(_mm256_sub_ps(simd::load_tail(x + j, rest), max8), live);
    __m256 e = _mm256_and_ps(simd::exp8(shifted), live);
    S = _mm256_add_ps(S, e);
    A = _mm256_fmadd_ps(e, shifted, A);
    if (store_exp) simd::store_tail(x + j, e, rest);
  }
  *S_out = simd::hsum(S);
  *A_out = simd::hsum(A);
}

}  // namespace

void classifier_forward_backward_fast(float* logits, float* losses, float* entropy,
                                      const int* targets, const float* token_weights, int N, int V,
                                      int Vp, bool write_grad) {
  assert(V >= 1 && V <= Vp);
  assert(!write_grad || token_weights != nullptr);
#pragma omp parallel for schedule(static)
  for (int i = 0; i < N; i++) {
    float* x = logits + (size_t)i * Vp;
    const int target = targets[i];
    if (target < 0) {  // ignored row: no loss, no entropy, no gradient
      losses[i] = 0.0f;
      if (entropy) entropy[i] = 0.0f;
      if (write_grad)
        for (int j = 0; j < Vp; j++) x[j] = 0.0f;
      continue;
    }
    assert(target < V);
    const float x_target = x[target];
    const float m = row_max(x, V);
    float S, A;
    row_sums(x, V, m, write_grad, &S, &A);
    const float log_S = std::log(S);
    losses[i] = log_S - (x_target - m);
    if (entropy) entropy[i] = log_S - A / S;

    if (write_grad) {
      const float w = token_weights[i];
      const float w_over_S = w / S;
#pragma omp simd
      for (int j = 0; j < V; j++) x[j] *= w_over_S;
      x[target] -= w;
      for (int j = V; j < Vp; j++) x[j] = 0.0f;
    }
  }
}

}  // namespace chamber
