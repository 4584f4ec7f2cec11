// The emulator's bfloat16, standing in for <cuda_bf16.h>'s __nv_bfloat16 in the host builds of
// kernels/*.cu (the bf16 compute type of chamber_simt_bf16, kernels/cuda_common.h). bf16 is the
// top 16 bits of an IEEE float: sign, the same 8-bit exponent, 7 mantissa bits, so widening is
// exact (append 16 zero bits) and narrowing is a rounding of the low 16 bits:
//   - round to nearest, ties to even: add 0x7fff plus the lowest kept bit, then truncate (a carry
//     out of the mantissa steps the exponent, and past the largest finite value gives Inf, as
//     IEEE rounding does);
//   - NaN stays NaN: the carry could turn a NaN whose payload lies in the low bits into Inf, so a
//     NaN keeps its top bits with the quiet bit set instead.
// This is CUDA's __float2bfloat16 (cvt.rn.bf16.f32). Only what the kernels use is here: storage,
// conversion from float (explicit or implicit, as CUDA's constructor) and to float, and the named
// conversion functions. Arithmetic goes through float, as it does in every kernel.
#pragma once
#include <cstdint>
#include <cstring>

namespace chamber::simt {
inline uint16_t float_to_bf16_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40);  // quiet NaN
  u += 0x7fffu + ((u >> 16) & 1);                                               // nearest even
  return (uint16_t)(u >> 16);
}
inline float bf16_bits_to_float(uint16_t b) {
  uint32_t u = (uint32_t)b << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
}  // namespace chamber::simt

struct __nv_bfloat16 {
  uint16_t bits;
  __nv_bfloat16() = default;
  __nv_bfloat16(float f) : bits(chamber::simt::float_to_bf16_bits(f)) {}
  operator float() const { return chamber::simt::bf16_bits_to_float(bits); }
};
static_assert(sizeof(__nv_bfloat16) == 2, "bf16 is 16 bits of storage");

inline __nv_bfloat16 __float2bfloat16(float f) { return __nv_bfloat16(f); }
inline float __bfloat162float(__nv_bfloat16 b) { return (float)b; }
