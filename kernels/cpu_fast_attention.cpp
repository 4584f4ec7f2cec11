// Causal multi-head self-attention on the fast CPU path. The contract (shapes, the saved att
// probabilities with zeros above the diagonal, dqkv accumulating, datt as scratch holding ds) is
// the reference's, kernels/attention.h. Per (batch, head), with Q, K, V the head's (T, hs) slices
// of qkv (row stride 3C), P = att and s = 1/sqrt(hs):
//
//   forward   S = s Q K^T,  P = causal softmax of each row of S,  Y = P V
//   backward  dP = dY V^T,  dS = P * (dP - rowsum(P * dP)),
//             dV += P^T dY,  dQ += s dS K,  dK += s dS^T Q
//
// Every product is an sgemm on a block of kBlock query rows (or key columns). Query rows
// [t0, t0+rows) only see keys [0, t0+rows), so each block multiplies only those keys: the work
// above the diagonal blocks is never done, and the small triangle inside each diagonal block is
// computed and then overwritten with zeros. For the transposed products (dV, dK) key columns
// [j0, j0+cols) only receive from query rows [j0, T).
//
// Parallel over (batch, head) pairs with a static schedule; each pair is one thread's, writes
// only its own columns of out/dqkv and its own att/datt slab, and calls sgemm from inside the
// parallel region, where the OpenMP build of OpenBLAS runs single-threaded. The result is
// therefore the same for any thread count.
//
// The row softmax uses the vector exp of cpu_fast_simd.h (within 1 ulp).
#include <cblas.h>
#include <immintrin.h>

#include <cmath>
#include <cstddef>

#include "kernels/cpu_fast.h"
#include "kernels/cpu_fast_simd.h"

namespace chamber {

namespace {

constexpr int kBlock = 32;  // query rows per block: 32 keeps the skipped triangle large at T=64..1024

// p[0..n) = softmax(p[0..n)) in place.
void softmax_row(float* p, int n) {
  const __m256 neg_inf = _mm256_set1_ps(-INFINITY);
  __m256 max8 = neg_inf;
  int j = 0;
  for (; j + 8 <= n; j += 8) max8 = _mm256_max_ps(max8, _mm256_loadu_ps(p + j));
  if (j < n) {
    __m256i mask = simd::tail_mask(n - j);
    max8 = _mm256_max_ps(max8, _mm256_blendv_ps(neg_inf, _mm256_maskload_ps(p + j, mask), simd::mask_ps(mask)));
  }
  const __m256 max_score = _mm256_set1_ps(simd::hmax(max8));
  __m256 sum8 = _mm256_setzero_ps();
  for (j = 0; j + 8 <= n; j += 8) {
    __m256 e = simd::exp8(_mm256_sub_ps(_mm256_loadu_ps(p + j), max_score));
    sum8 = _mm256_add_ps(sum8, e);
    _mm256_storeu_ps(p + j, e);
  }
  if (j < n) {
    __m256 e = simd::exp8(_mm256_sub_ps(simd::load_tail(p + j, n - j), max_score));
    e = _mm256_and_ps(e, simd::mask_ps(simd::tail_mask(n - j)));
    sum8 = _mm256_add_ps(sum8, e);
    simd::store_tail(p + j, e, n - j);
  }
  const float inv_sum = 1.0f / simd::hsum(sum8);
#pragma omp simd
  for (j = 0; j < n; j++) p[j] *= inv_sum;
}

// ds[0..n) = p * (ds - sum(p * ds)) in place (the softmax backward of one row).
void softmax_backward_row(float* ds, const float* p, int n) {
  float p_dot_dp = 0.0f;
#pragma omp simd reduction(+ : p_dot_dp)
  for (int j = 0; j < n; j++) p_dot_dp += p[j] * ds[j];
#pragma omp simd
  for (int j = 0; j < n; j++) ds[j] = p[j] * (ds[j] - p_dot_dp);
}

void zero_above_diagonal(float* block_rows, int t0, int rows, int T) {
  for (int r = 0; r < rows; r++) {
    int t = t0 + r;
    for (int t2 = t + 1; t2 < T; t2++) block_rows[(size_t)r * T + t2] = 0.0f;
  }
}

}  // namespace

void attention_forward_fast(float* out, float* att, const float* qkv, int B, int T, int C, int NH) {
  const int hs = C / NH;
  const float scale = 1.0f / std::sqrt((float)hs);
  const int row3 = 3 * C;
#pragma omp parallel for schedule(static)
  for (int bh = 0; bh < B * NH; bh++) {
    const int b = bh / NH, h = bh % NH;
    const float* q = qkv + (size_t)b * T * row3 + h * hs;
    const float* k = q + C;
    const float* v = q + 2 * C;
    float* y = out + (size_t)b * T * C + h * hs;
    float* p = att + (size_t)bh * T * T;
    for (int t0 = 0; t0 < T; t0 += kBlock) {
      const int rows = T - t0 < kBlock ? T - t0 : kBlock;
      const int keys = t0 + rows;
      float* p_block = p + (size_t)t0 * T;
      // S[rows, 0..keys) = s Q[rows] K[0..keys)^T
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, keys, hs, scale,
                  q + (size_t)t0 * row3, row3, k, row3, 0.0f, p_block, T);
      for (int r = 0; r < rows; r++) softmax_row(p_block + (size_t)r * T, t0 + r + 1);
      zero_above_diagonal(p_block, t0, rows, T);
      // Y[rows] = P[rows, 0..keys) V[0..keys)
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, hs, keys, 1.0f, p_block, T, v,
                  row3, 0.0f, y + (size_t)t0 * C, C);
    }
  }
}

void attention_backward_fast(float* dqkv, float* datt, const float* dout, const float* qkv,
                             const float* att, int B, int T, int C, int NH) {
  const int hs = C / NH;
  const float scale = 1.0f / std::sqrt((float)hs);
  const int row3 = 3 * C;
#pragma omp parallel for schedule(static)
  for (int bh = 0; bh < B * NH; bh++) {
    const int b = bh / NH, h = bh % NH;
    const size_t head = (size_t)b * T * row3 + h * hs;
    const float *q = qkv + head, *k = q + C, *v = q + 2 * C;
    float *dq = dqkv + head, *dk = dq + C, *dv = dq + 2 * C;
    const float* dy = dout + (size_t)b * T * C + h * hs;
    const float* p = att + (size_t)bh * T * T;
    float* ds = datt + (size_t)bh * T * T;

    // Row blocks: dP = dY V^T over the causal keys, then the softmax backward, then dQ.
    for (int t0 = 0; t0 < T; t0 += kBlock) {
      const int rows = T - t0 < kBlock ? T - t0 : kBlock;
      const int keys = t0 + rows;
      float* ds_block = ds + (size_t)t0 * T;
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, keys, hs, 1.0f,
                  dy + (size_t)t0 * C, C, v, row3, 0.0f, ds_block, T);
      for (int r = 0; r < rows; r++)
        softmax_backward_row(ds_block + (size_t)r * T, p + (size_t)(t0 + r) * T, t0 + r + 1);
      zero_above_diagonal(ds_block, t0, rows, T);
      // dQ[rows] += s dS[rows, 0..keys) K[0..keys)
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, hs, keys, scale, ds_block, T,
                  k, row3, 1.0f, dq + (size_t)t0 * row3, row3);
    }
    // Column blocks: key columns [j0, j0+cols) receive from query rows [j0, T).
    for (int j0 = 0; j0 < T; j0 += kBlock) {
      const int cols = T - j0 < kBlock ? T - j0 : kBlock;
      const int queries = T - j0;
      // dV[cols] += P[j0.., cols]^T dY[j0..]
      cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, cols, hs, queries, 1.0f,
                  p + (size_t)j0 * T + j0, T, dy + (size_t)j0 * C, C, 1.0f,
                  dv + (size_t)j0 * row3, row3);
      // dK[cols] += s dS[j0.., cols]^T Q[j0..]
      cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, cols, hs, queries, scale,
                  ds + (size_t)j0 * T + j0, T, q + (size_t)j0 * row3, row3, 1.0f,
                  dk + (size_t)j0 * row3, row3);
    }
  }
}

}  // namespace chamber
