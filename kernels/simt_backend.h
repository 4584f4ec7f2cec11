// The CUDA kernel sources (kernels/*.cu) compiled for the host and run by the SIMT emulator
// (kernels/simt.h): the same operation table as the CUDA backend with host memory, and matrix
// multiplies done by plain loops where the GPU build calls cuBLASLt. For tests: it runs every
// hand-written kernel, launch configuration included, on machines without a GPU.
#pragma once
#include "kernels/ops.h"

namespace chamber {

// "simt": fp32 compute type (compute_bytes 4). "simt-bf16": the bf16 build of the same sources
// (compute_bytes 2; mixed precision as in cuda_bf16_ops(), kernels/cuda_backend.h).
const Ops& simt_ops();
const Ops& simt_bf16_ops();

}  // namespace chamber
