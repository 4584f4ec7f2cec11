// Causal multi-head self-attention on the fast CPU path. The contract (shapes, the saved per-row
// log-sum-exp lse, dqkv overwritten) is the reference's, kernels/attention.h. Per (batch, head),
// with Q, K, V the head's (T, hs) slices of qkv (row stride 3C) and s = 1/sqrt(hs):
//
//   forward   S = s Q K^T,  P = causal softmax of each row of S (lse saved),  Y = P V
//   backward  P = exp(S - lse) recomputed,  dP = dY V^T,  dS = P * (dP - rowsum(P * dP)),
//             dV = sum P^T dY,  dQ = s dS K,  dK = sum s dS^T Q  (dV, dK summed over the blocks)
//
// Every product is an sgemm on a block of kBlock query rows. Query rows [t0, t0+rows) only see
// keys [0, t0+rows), so each block multiplies only those keys: the work above the diagonal blocks
// is never done, and the small triangle inside each diagonal block is computed and then
// overwritten with zeros. A block's scores, probabilities and score gradients live in a
// per-thread buffer of 2 x kBlock x T floats (allocated on a thread's first call and kept), so
// nothing of size T x T outlives the call. Backward handles a block completely (dQ of its rows,
// and its contributions to dK and dV of the keys it sees) before the next one.
//
// Parallel over (batch, head) pairs with a static schedule; each pair is one thread's, writes
// only its own columns of out/lse/dqkv, and calls sgemm from inside the parallel region, where the
// OpenMP build of OpenBLAS runs single-threaded. dK and dV of a head receive the blocks in order,
// so the result is the same for any thread count.
//
// The row exponentials use the vector exp of cpu_fast_simd.h (within 1 ulp).
#include <cblas.h>
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <vector>

#include "kernels/cpu_fast.h"
#include "kernels/cpu_fast_simd.h"

namespace chamber {

namespace {

constexpr int kBlock = 32;  // query rows per block: 32 keeps the skipped triangle large at T=64..1024

// This thread's block buffer, at least `floats` long. Grows only when T does.
float* block_buffer(size_t floats) {
  thread_local std::vector<float> buffer;
  if (buffer.size() < floats) buffer.resize(floats);
  return buffer.data();
}

// p[0..n) = softmax(p[0..n)) in place; returns the row's log-sum-exp.
float softmax_row(float* p, int n) {
  const __m256 neg_inf = _mm256_set1_ps(-INFINITY);
  __m256 max8 = neg_inf;
  int j = 0;
  for (; j + 8 <= n; j += 8) max8 = _mm256_max_ps(max8, _mm256_loadu_ps(p + j));
  if (j < n) {
    __m256i mask = simd::tail_mask(n - j);
    max8 = _mm256_max_ps(max8, _mm256_blendv_ps(neg_inf, _mm256_maskload_ps(p + j, mask), simd::mask_ps(mask)));
  }
  const float max_score = simd::hmax(max8);
  const __m256 max_score8 = _mm256_set1_ps(max_score);
  __m256 sum8 = _mm256_setzero_ps();
  for (j = 0; j + 8 <= n; j += 8) {
    __m256 e = simd::exp8(_mm256_sub_ps(_mm256_loadu_ps(p + j), max_score8));
    sum8 = _mm256_add_ps(sum8, e);
    _mm256_storeu_ps(p + j, e);
  }
  if (j < n) {
    __m256 e = simd::exp8(_mm256_sub_ps(simd::load_tail(p + j, n - j), max_score8));
    e = _mm256_and_ps(e, simd::mask_ps(simd::tail_mask(n - j)));
    sum8 = _mm256_add_ps(sum8, e);
    simd::store_tail(p + j, e, n - j);
  }
  const float sum = simd::hsum(sum8);
  const float inv_sum = 1.0f / sum;
#pragma omp simd
  for (j = 0; j < n; j++) p[j] *= inv_sum;
  return max_score + std::log(sum);
}

// p[0..n) = exp(p[0..n) - shift) in place: probabilities from scores and the row's lse.
void exp_shifted_row(float* p, int n, float shift) {
  const __m256 shift8 = _mm256_set1_ps(shift);
  int j = 0;
  for (; j + 8 <= n; j += 8)
    _mm256_storeu_ps(p + j, simd::exp8(_mm256_sub_ps(_mm256_loadu_ps(p + j), shift8)));
  if (j < n)
    simd::store_tail(p + j, simd::exp8(_mm256_sub_ps(simd::load_tail(p + j, n - j), shift8)), n - j);
}

// ds[0..n) = p * (ds - sum(p * ds)) in place (the softmax backward of one row).
void softmax_backward_row(float* ds, const float* p, int n) {
  float p_dot_dp = 0.0f;
#pragma omp simd reduction(+ : p_dot_dp)
  for (int j = 0; j < n; j++) p_dot_dp += p[j] * ds[j];
#pragma omp simd
  for (int j = 0; j < n; j++) ds[j] = p[j] * (ds[j] - p_dot_dp);
}

// Zeroes the entries above the diagonal in the block's rows (row r is query t0 + r), over keys
// [0, keys) with row stride ld.
void zero_above_diagonal(float* block_rows, size_t ld, int t0, int rows, int keys) {
  for (int r = 0; r < rows; r++)
    for (int t2 = t0 + r + 1; t2 < keys; t2++) block_rows[(size_t)r * ld + t2] = 0.0f;
}

}  // namespace

void attention_forward_fast(float* out, float* lse, const float* qkv, int B, int T, int C, int NH) {
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
    float* p_block = block_buffer((size_t)kBlock * T);  // (rows, keys) with row stride T
    for (int t0 = 0; t0 < T; t0 += kBlock) {
      const int rows = T - t0 < kBlock ? T - t0 : kBlock;
      const int keys = t0 + rows;
      // S[rows, 0..keys) = s Q[rows] K[0..keys)^T
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, keys, hs, scale,
                  q + (size_t)t0 * row3, row3, k, row3, 0.0f, p_block, T);
      for (int r = 0; r < rows; r++)
        lse[(size_t)bh * T + t0 + r] = softmax_row(p_block + (size_t)r * T, t0 + r + 1);
      zero_above_diagonal(p_block, T, t0, rows, keys);
      // Y[rows] = P[rows, 0..keys) V[0..keys)
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, hs, keys, 1.0f, p_block, T, v,
                  row3, 0.0f, y + (size_t)t0 * C, C);
    }
  }
}

void attention_backward_fast(float* dqkv, const float* dout, const float* qkv, const float* out,
                             const float* lse, int B, int T, int C, int NH) {
  (void)out;  // the softmax backward's row sum is taken from P and dP of the block
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
    float* p_block = block_buffer((size_t)2 * kBlock * T);  // P, then dS below it; row stride T
    float* ds_block = p_block + (size_t)kBlock * T;
    // dqkv is overwritten: dq rows are written once below (beta 0), dk and dv add up over the
    // query blocks from zero.
    for (int t = 0; t < T; t++) {
      std::fill(dk + (size_t)t * row3, dk + (size_t)t * row3 + hs, 0.0f);
      std::fill(dv + (size_t)t * row3, dv + (size_t)t * row3 + hs, 0.0f);
    }

    for (int t0 = 0; t0 < T; t0 += kBlock) {
      const int rows = T - t0 < kBlock ? T - t0 : kBlock;
      const int keys = t0 + rows;
      const float* q_rows = q + (size_t)t0 * row3;
      const float* dy_rows = dy + (size_t)t0 * C;
      // P[rows, 0..keys) = exp(s Q K^T - lse), the forward's probabilities again.
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, keys, hs, scale, q_rows, row3, k,
                  row3, 0.0f, p_block, T);
      for (int r = 0; r < rows; r++)
        exp_shifted_row(p_block + (size_t)r * T, t0 + r + 1, lse[(size_t)bh * T + t0 + r]);
      zero_above_diagonal(p_block, T, t0, rows, keys);
      // dP = dY V^T, then the softmax backward: dS.
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, keys, hs, 1.0f, dy_rows, C, v,
                  row3, 0.0f, ds_block, T);
      for (int r = 0; r < rows; r++)
        softmax_backward_row(ds_block + (size_t)r * T, p_block + (size_t)r * T, t0 + r + 1);
      zero_above_diagonal(ds_block, T, t0, rows, keys);
      // dQ[rows] = s dS K[0..keys);  dV[0..keys) += P^T dY[rows];  dK[0..keys) += s dS^T Q[rows]
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, hs, keys, scale, ds_block, T,
                  k, row3, 0.0f, dq + (size_t)t0 * row3, row3);
      cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, keys, hs, rows, 1.0f, p_block, T,
                  dy_rows, C, 1.0f, dv, row3);
      cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, keys, hs, rows, scale, ds_block, T,
                  q_rows, row3, 1.0f, dk, row3);
    }
  }
}

}  // namespace chamber
