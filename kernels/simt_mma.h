// The SIMT emulator's raw tensor-core instruction: PTX `mma.sync.aligned.m16n8k16.row.col.f32.bf16.
// bf16.f32`, D (16 x 8) = A (16 x 16) B (16 x 8) + C, bf16 inputs and fp32 accumulators, as the
// warp collective the hardware instruction is. The bf16 flash attention kernels
// (kernels/attention_bf16.cu) call it through mma_bf16_m16n8k16 there: inline PTX on the GPU,
// this function under the emulator.
//
// Unlike WMMA's fragments (simt_wmma.h, whose lane mapping CUDA leaves unspecified), this
// instruction's register layout is documented in the PTX ISA ("Matrix Fragments for
// mma.m16n8k16 with floating point type"), and the kernels rely on it: they load operands from
// shared memory themselves, and reuse an accumulator as the A operand of the next product. So the
// emulator implements exactly that layout. With g = lane / 4 and t = lane % 4:
//   A  4 registers of two bf16 each (low half first):
//        a[0] = A(g, 2t),   A(g, 2t+1)        a[1] = A(g+8, 2t),   A(g+8, 2t+1)
//        a[2] = A(g, 2t+8), A(g, 2t+9)        a[3] = A(g+8, 2t+8), A(g+8, 2t+9)
//   B  2 registers:  b[0] = B(2t, g), B(2t+1, g)      b[1] = B(2t+8, g), B(2t+9, g)
//   C, D  4 floats:  c[0] = C(g, 2t)  c[1] = C(g, 2t+1)  c[2] = C(g+8, 2t)  c[3] = C(g+8, 2t+1)
// tests/kernels/simt_emulator_simt.cpp checks each lane's elements against this table.
//
// Arithmetic: the inputs widen exactly to float, products of two bf16 are exact in float, and
// each output adds its 16 products onto C in k order in fp32.
//
// Checks the hardware does not make (chamber::Error naming kernel, block and thread): a warp of
// fewer than 32 lanes, and lanes of one warp in different collectives (a divergent mma).
#pragma once
#include <cstdint>

namespace chamber::simt {

// d = a b + c over the calling warp; every lane passes its own registers. d may alias c.
void mma_m16n8k16_bf16(float (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[2],
                       const float (&c)[4]);

}  // namespace chamber::simt
