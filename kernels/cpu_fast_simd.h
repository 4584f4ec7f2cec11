// AVX2+FMA helpers shared by the fast CPU kernels (kernels/cpu_fast_*.cpp): a vector exp, masked
// loads/stores for the ragged end of a row, and horizontal reductions. AVX2+FMA is the compile
// floor (CMakeLists.txt passes -mavx2 -mfma), so these are plain intrinsics, no dispatch.
//
// exp8(x) = e^x for 8 floats at once, by range reduction:
//   e^x = 2^n * e^r,   n = round(x / ln 2),   r = x - n ln 2   (|r| <= ln2 / 2 ~ 0.347)
// with n ln 2 subtracted in two parts (a short "high" part that multiplies n exactly, then a
// correction) so r keeps full precision, and e^r from its Taylor series up to r^7 evaluated by
// Horner's rule. The first dropped term is at most 0.347^8 / 8! ~ 5e-9, below float resolution,
// so the error is rounding in the Horner steps: measured over [-87, 88] it stays within 0.9 ulp
// of the exact value, 7.6e-8 relative (tests/kernels/cpu_fast_test.cpp checks < 1 ulp, 2^-23).
// 2^n is built by writing n + 127 into the exponent bits. Inputs are clamped to [-87.3, 88.3] so
// 2^n stays a normal float; below -87.3 the result is 0 (the true value is < 1.2e-38, a denormal
// that no caller needs); NaN stays NaN.
//
// Masked loads return 0 in the lanes past the end; callers that need another neutral value (the
// max of a row wants -inf) blend it in with mask_ps.
#pragma once
#include <immintrin.h>

#include <cstddef>

namespace chamber::simd {

inline __m256 exp8(__m256 x) {
  const __m256 lowest = _mm256_set1_ps(-87.3f);
  __m256 too_small = _mm256_cmp_ps(x, lowest, _CMP_LT_OQ);
  // min/max return their second operand when one is NaN, so x goes second to keep a NaN.
  x = _mm256_min_ps(_mm256_set1_ps(88.3f), x);
  x = _mm256_max_ps(lowest, x);
  __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                             _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  // ln 2 = 0.693359375 (exact in 9 bits, so n * it is exact) - 2.12194440e-4
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
  __m256 p = _mm256_set1_ps(1.0f / 5040.0f);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 720.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 120.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 24.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 6.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
  __m256i bits = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  __m256 result = _mm256_mul_ps(p, _mm256_castsi256_ps(bits));
  return _mm256_andnot_ps(too_small, result);
}

// e^x for one float with exactly the arithmetic of exp8 (for code that has a single value).
inline float exp1(float x) { return _mm256_cvtss_f32(exp8(_mm256_set1_ps(x))); }

// Lane mask for the first `count` (0..8) lanes.
inline __m256i tail_mask(size_t count) {
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)count), lane);
}
inline __m256 mask_ps(__m256i mask) { return _mm256_castsi256_ps(mask); }
inline __m256 load_tail(const float* p, size_t count) {
  return _mm256_maskload_ps(p, tail_mask(count));
}
inline void store_tail(float* p, __m256 v, size_t count) {
  _mm256_maskstore_ps(p, tail_mask(count), v);
}

// Horizontal reductions in a fixed lane order (deterministic).
inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}
inline float hmax(__m256 v) {
  __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_max_ps(s, _mm_movehl_ps(s, s));
  s = _mm_max_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}
inline double hsum(__m256d v) {
  __m128d s = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
  s = _mm_add_sd(s, _mm_unpackhi_pd(s, s));
  return _mm_cvtsd_f64(s);
}

}  // namespace chamber::simd
