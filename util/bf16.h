// bfloat16 on the host, as bits: the top 16 bits of an IEEE float (sign, the same 8-bit exponent,
// 7 mantissa bits), so widening is exact (append 16 zero bits) and narrowing rounds the low 16:
//   - round to nearest, ties to even: add 0x7fff plus the lowest kept bit, then truncate (a carry
//     out of the mantissa steps the exponent, and past the largest finite value gives Inf, as
//     IEEE rounding does);
//   - NaN stays NaN: the carry could turn a NaN whose payload lies in the low bits into Inf, so a
//     NaN keeps its top bits with the quiet bit set instead.
// This is CUDA's __float2bfloat16 (cvt.rn.bf16.f32). One definition for the SIMT emulator's bf16
// type (kernels/simt_bf16.h) and the model's host copies of bf16 tensors (engine/model.cpp), so a
// weight rounded on the host is the value a kernel would have stored.
#pragma once
#include <cstdint>
#include <cstring>

namespace chamber {

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

}  // namespace chamber
