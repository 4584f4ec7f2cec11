// Choosing the backend that fills the operation table, and the CPU thread count.
//   cpu      the fast CPU path (OpenBLAS matmuls, fused threaded ops) — the default
//   cpu-ref  the plain C++ reference kernels (readable; what tests compare against)
//   cuda     the hand-written CUDA kernels and cuBLASLt on the GPU
//   simt     the CUDA kernel sources run on the CPU by the SIMT emulator (for tests)
//   auto     cuda when a GPU is present, else cpu
#pragma once
#include <string>

#include "kernels/ops.h"

namespace chamber {

// dtype "fp32" (every backend) or "bf16": mixed precision, the bf16 tables of the CUDA backend
// (and of the SIMT emulator, for tests); Error naming the fix for a CPU device.
const Ops& select_backend(const std::string& device, const std::string& dtype = "fp32");
std::string resolve_device_name(const std::string& device);   // "auto" -> the concrete name

// Before allocating: on a GPU, fails with how much is needed and how much is free when `bytes`
// (the sum of the planned arenas) does not fit, then `fix` (what to change in the config); on
// the CPU it does nothing (allocation failures there already name the arena and size).
void check_device_memory(const std::string& device, size_t bytes, const std::string& what,
                         const std::string& fix);
// "NVIDIA H200, sm_90, 132 SMs, 139.8 GiB" when `device` resolves to a CUDA GPU, else "".
std::string gpu_description(const std::string& device);
// What the backend allocates beyond the arenas for forward and backward at B x T of a model of
// width C with NH heads (on a GPU: attention's scratch and cuBLASLt's workspace; 0 on the CPU),
// to add to the arenas before check_device_memory. compute_bytes: the table's compute type (2 in
// bf16, whose attention scratch is half the fp32 one).
size_t device_scratch_bytes(const std::string& device, int B, int T, int C, int NH,
                            size_t compute_bytes = sizeof(float));

// Threads for OpenMP loops and OpenBLAS: n > 0, else $CHAMBER_THREADS, else all cores.
// Returns the count in effect.
int set_cpu_threads(int n);

}  // namespace chamber
