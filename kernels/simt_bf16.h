// The emulator's bfloat16, standing in for <cuda_bf16.h>'s __nv_bfloat16 in the host builds of
// kernels/*.cu (the bf16 compute type of chamber_simt_bf16, kernels/cuda_common.h): 16 bits of
// storage, converted to and from float by util/bf16.h (round to nearest even, NaN kept NaN), which
// is CUDA's __float2bfloat16 (cvt.rn.bf16.f32). Only what the kernels use is here: storage,
// conversion from float (explicit or implicit, as CUDA's constructor) and to float, and the named
// conversion functions. Arithmetic goes through float, as it does in every kernel.
#pragma once
#include <cstdint>

#include "util/bf16.h"

struct __nv_bfloat16 {
  uint16_t bits;
  __nv_bfloat16() = default;
  __nv_bfloat16(float f) : bits(chamber::float_to_bf16_bits(f)) {}
  operator float() const { return chamber::bf16_bits_to_float(bits); }
};
static_assert(sizeof(__nv_bfloat16) == 2, "bf16 is 16 bits of storage");

inline __nv_bfloat16 __float2bfloat16(float f) { return __nv_bfloat16(f); }
inline float __bfloat162float(__nv_bfloat16 b) { return (float)b; }
