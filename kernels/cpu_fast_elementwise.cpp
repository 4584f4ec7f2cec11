// LayerNorm, GELU and the residual add on the fast CPU path. Contracts (math, shapes, which
// outputs accumulate) are the references': kernels/layernorm.h, gelu.h, residual.h.
//
// Elementwise ops run over fixed chunks of kChunk values (a multiple of 8, so every chunk but the
// last is whole AVX2 vectors); the chunk an element falls in, and so its arithmetic, does not
// depend on the thread count. Small arrays run on the calling thread (waking the pool costs more).
//
// GELU, tanh form, is computed through the logistic function, which needs one exp and no tanh:
//   0.5 (1 + tanh u) = sigmoid(2u) = 1 / (1 + e^(-2u)),   u = sqrt(2/pi) (x + 0.044715 x^3)
//   forward   out = x * sigmoid(2u)
//   backward  d out/dx = s + 2 x s (1 - s) du/dx,   s = sigmoid(2u),  du/dx = sqrt(2/pi)(1 + 3*0.044715 x^2)
// (since 1 - tanh^2 u = 4 s (1 - s)), with 1 - s taken as s e^(-2u). Both forms avoid the
// cancellation of 1 + tanh u (very negative x) and of 1 - tanh^2 u (large |x|) in float.
//
// LayerNorm forward is one row per iteration (mean, then the variance in a second pass over the
// row as the reference does, then the output), vectorised by `omp simd` reductions whose order is
// fixed at compile time; the fused residual add + LayerNorm adds each row just before it. Backward: dinp row by row, then dweight/dbias as sums over rows, parallel
// over blocks of channels so every channel's sum runs over the rows in order (deterministic for
// any thread count, no atomics, no scratch).
#include <immintrin.h>

#include <cmath>
#include <cstddef>

#include "kernels/cpu_fast.h"
#include "kernels/cpu_fast_simd.h"
#include "kernels/layernorm.h"

namespace chamber {

namespace {

constexpr size_t kChunk = 1 << 13;          // values per work item (32 KiB of floats)
constexpr size_t kSerialBelow = 1 << 15;    // arrays smaller than this stay on one thread

// Calls body(begin, end) for every chunk of [0, n), in parallel when n is large enough.
template <typename Body>
void for_chunks(size_t n, Body body) {
  long num_chunks = (long)((n + kChunk - 1) / kChunk);
#pragma omp parallel for schedule(static) if (n >= kSerialBelow)
  for (long chunk = 0; chunk < num_chunks; chunk++) {
    size_t begin = (size_t)chunk * kChunk;
    body(begin, begin + kChunk < n ? begin + kChunk : n);
  }
}

constexpr float kSqrt2OverPi = 0.7978845608028654f;  // sqrt(2/pi)
constexpr float kCubic = 0.044715f;

// s = sigmoid(2u) for 8 values of x; also returns e = e^(-2u), since 1 - s = e s exactly in
// real arithmetic and, unlike 1 - s in float, stays accurate when s is close to 1.
inline __m256 gelu_sigmoid(__m256 x, __m256* e_out) {
  const __m256 one = _mm256_set1_ps(1.0f);
  __m256 x2 = _mm256_mul_ps(x, x);
  __m256 u = _mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(kSqrt2OverPi), x),
                           _mm256_fmadd_ps(_mm256_set1_ps(kCubic), x2, one));
  __m256 e = simd::exp8(_mm256_mul_ps(_mm256_set1_ps(-2.0f), u));
  *e_out = e;
  return _mm256_div_ps(one, _mm256_add_ps(one, e));
}

inline __m256 gelu_forward8(__m256 x) {
  __m256 e;
  return _mm256_mul_ps(x, gelu_sigmoid(x, &e));
}

inline __m256 gelu_grad8(__m256 x) {
  const __m256 one = _mm256_set1_ps(1.0f);
  __m256 e;
  __m256 s = gelu_sigmoid(x, &e);
  __m256 one_minus_s = _mm256_mul_ps(e, s);
  __m256 du_dx = _mm256_mul_ps(_mm256_set1_ps(kSqrt2OverPi),
                               _mm256_fmadd_ps(_mm256_set1_ps(3.0f * kCubic), _mm256_mul_ps(x, x), one));
  // s + 2 x s (1 - s) du/dx
  __m256 two_x_s = _mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(2.0f), x), s);
  return _mm256_fmadd_ps(_mm256_mul_ps(two_x_s, one_minus_s), du_dx, s);
}

}  // namespace

// ---- GELU ----------------------------------------------------------------------------------------

void gelu_forward_fast(float* out, const float* inp, size_t n) {
  for_chunks(n, [&](size_t begin, size_t end) {
    size_t i = begin;
    for (; i + 8 <= end; i += 8) _mm256_storeu_ps(out + i, gelu_forward8(_mm256_loadu_ps(inp + i)));
    if (i < end) simd::store_tail(out + i, gelu_forward8(simd::load_tail(inp + i, end - i)), end - i);
  });
}

void gelu_backward_fast(float* dinp, const float* inp, const float* dout, size_t n) {
  for_chunks(n, [&](size_t begin, size_t end) {
    size_t i = begin;
    for (; i + 8 <= end; i += 8) {
      __m256 g = _mm256_mul_ps(_mm256_loadu_ps(dout + i), gelu_grad8(_mm256_loadu_ps(inp + i)));
      _mm256_storeu_ps(dinp + i, g);
    }
    if (i < end) {
      size_t rest = end - i;
      __m256 g = _mm256_mul_ps(simd::load_tail(dout + i, rest), gelu_grad8(simd::load_tail(inp + i, rest)));
      simd::store_tail(dinp + i, g, rest);
    }
  });
}

// ---- residual ------------------------------------------------------------------------------------

void residual_forward_fast(float* out, const float* a, const float* b, size_t n) {
  for_chunks(n, [&](size_t begin, size_t end) {
#pragma omp simd
    for (size_t i = begin; i < end; i++) out[i] = a[i] + b[i];
  });
}

void residual_backward_fast(float* da, float* db, const float* dout, size_t n) {
  for_chunks(n, [&](size_t begin, size_t end) {
#pragma omp simd
    for (size_t i = begin; i < end; i++) {
      da[i] += dout[i];
      db[i] += dout[i];
    }
  });
}

// ---- LayerNorm -----------------------------------------------------------------------------------

namespace {

// One row of the forward. Not inlined, so that the plain and the fused forward run the very same
// instructions on a row and agree bit for bit.
[[gnu::noinline]] void layernorm_row(float* y, float* mean, float* rstd, const float* x,
                                     const float* weight, const float* bias, int C) {
  float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
  for (int c = 0; c < C; c++) sum += x[c];
  float m = sum / (float)C;
  float sum_sq = 0.0f;
#pragma omp simd reduction(+ : sum_sq)
  for (int c = 0; c < C; c++) sum_sq += (x[c] - m) * (x[c] - m);
  float s = 1.0f / std::sqrt(sum_sq / (float)C + (float)kLayerNormEps);
#pragma omp simd
  for (int c = 0; c < C; c++) y[c] = (x[c] - m) * s * weight[c] + bias[c];
  *mean = m;
  *rstd = s;
}

}  // namespace

void layernorm_forward_fast(float* out, float* mean, float* rstd, const float* inp,
                            const float* weight, const float* bias, int N, int C) {
#pragma omp parallel for schedule(static) if ((size_t)N * C >= kSerialBelow)
  for (int i = 0; i < N; i++) {
    const size_t offset = (size_t)i * C;
    layernorm_row(out + offset, mean + i, rstd + i, inp + offset, weight, bias, C);
  }
}

// The add is done a row at a time right before that row's LayerNorm, which then reads it from
// cache instead of memory.
void residual_layernorm_forward_fast(float* residual_out, float* ln_out, float* mean, float* rstd,
                                     const float* a, const float* b, const float* weight,
                                     const float* bias, int N, int C) {
#pragma omp parallel for schedule(static) if ((size_t)N * C >= kSerialBelow)
  for (int i = 0; i < N; i++) {
    const size_t offset = (size_t)i * C;
    float* x = residual_out + offset;
#pragma omp simd
    for (int c = 0; c < C; c++) x[c] = a[offset + c] + b[offset + c];
    layernorm_row(ln_out + offset, mean + i, rstd + i, x, weight, bias, C);
  }
}

void layernorm_backward_fast(float* dinp, float* dweight, float* dbias, const float* dout,
                             const float* inp, const float* weight, const float* mean,
                             const float* rstd, int N, int C) {
  const bool parallel = (size_t)N * C >= kSerialBelow;
#pragma omp parallel for schedule(static) if (parallel)
  for (int i = 0; i < N; i++) {
    const float* x = inp + (size_t)i * C;
    const float* dy = dout + (size_t)i * C;
    const float m = mean[i], s = rstd[i];
    float sum_g = 0.0f, sum_g_xhat = 0.0f;
#pragma omp simd reduction(+ : sum_g, sum_g_xhat)
    for (int c = 0; c < C; c++) {
      float g = dy[c] * weight[c];
      sum_g += g;
      sum_g_xhat += g * ((x[c] - m) * s);
    }
    const float mean_g = sum_g / (float)C, mean_g_xhat = sum_g_xhat / (float)C;
    float* dx = dinp + (size_t)i * C;
#pragma omp simd
    for (int c = 0; c < C; c++) {
      float xhat = (x[c] - m) * s;
      float g = dy[c] * weight[c];
      dx[c] += s * (g - mean_g - xhat * mean_g_xhat);
    }
  }

  constexpr int kBlock = 64;
  int num_blocks = (C + kBlock - 1) / kBlock;
#pragma omp parallel for schedule(static) if (parallel)
  for (int block = 0; block < num_blocks; block++) {
    int c0 = block * kBlock;
    int width = C - c0 < kBlock ? C - c0 : kBlock;
    float sum_dw[kBlock] = {}, sum_db[kBlock] = {};
    for (int i = 0; i < N; i++) {
      const float* x = inp + (size_t)i * C + c0;
      const float* dy = dout + (size_t)i * C + c0;
      const float m = mean[i], s = rstd[i];
#pragma omp simd
      for (int c = 0; c < width; c++) {
        sum_db[c] += dy[c];
        sum_dw[c] += dy[c] * ((x[c] - m) * s);
      }
    }
    for (int c = 0; c < width; c++) {
      dweight[c0 + c] += sum_dw[c];
      dbias[c0 + c] += sum_db[c];
    }
  }
}

}  // namespace chamber
