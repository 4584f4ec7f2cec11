// The CUDA kernel sources (kernels/*.cu) compiled for the host and run by the SIMT emulator
// (kernels/simt.h): the same operation table as the CUDA backend with host memory, and matrix
// multiplies done by plain loops where the GPU build calls cuBLASLt. For tests: it runs every
// hand-written kernel, launch configuration included, on machines without a GPU.
#pragma once
#include "kernels/ops.h"

namespace chamber {

const Ops& simt_ops();

}  // namespace chamber
