// The CUDA backend: the hand-written kernels of kernels/*.cu and cuBLASLt on the GPU, filling the
// whole operation table (kernels/ops.h), memory included. Defined only when the build found nvcc
// (CHAMBER_HAVE_CUDA); kernels/simt_backend.h is the same sources run on the CPU.
//
// Every op is issued on one stream owned by the backend (the run's stream) and returns without
// waiting, except the ones that hand data to the host or take it from host memory the caller may
// reuse at once (to_host, from_host, synchronize) and alloc/free (cudaMalloc + zero fill,
// cudaFree); from_host_async does not wait. The graph ops are stream capture on that stream
// (kernels/ops.h). The first call of a kernel that needs scratch (column sums, sum_squares)
// allocates it; the buffer grows but never during a capture; cuBLASLt's 32 MiB workspace is
// allocated once.
// Every CUDA, cuBLASLt and cuRAND call is checked; a failure is a chamber::Error naming the call,
// file and line. Each op is an NVTX range named after it, and the table's
// range_push/range_pop let the model name the phases and layers around them.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

#include "kernels/ops.h"

namespace chamber {

// True when a CUDA driver and a GPU of compute capability 8.0 or newer are present. Never throws
// or crashes: false without a driver, without a device, or with too old a driver.
bool cuda_device_available();

// The operation tables. Error if no usable device (check cuda_device_available first).
// cuda_ops(): fp32 compute type ("cuda", compute_bytes 4). cuda_bf16_ops(): mixed precision
// ("cuda-bf16", compute_bytes 2): activations, their gradients, the weights forward and backward
// read and the KV cache in bf16, everything else float (kernels/ops.h, kernels/cuda_common.h).
// Both issue on one stream and share the settings below.
const Ops& cuda_ops();
const Ops& cuda_bf16_ops();

// "NVIDIA H100 80GB HBM3, sm_90, 132 SMs, 79.1 GiB" for logs; "" without a device.
std::string cuda_device_description();

// Free and total device memory in bytes (for "needs X, has Y" messages before allocating).
void cuda_memory_info(size_t* free_bytes, size_t* total_bytes);

// Matmul precision: TF32 tensor cores (true, the default) or strict fp32 (false: for comparing a
// GPU step with the CPU's to fp32 rounding; the environment's CHAMBER_TF32=0 sets it at start).
// The bf16 table's products are exact bf16 products accumulated in fp32 either way. The fallback
// count covers both tables.
void cuda_set_tf32_matmuls(bool enabled);
bool cuda_tf32_matmuls();
// Matmuls so far that cuBLASLt had no algorithm for (they ran a slower fallback, said once on
// stderr); a test at real shapes requires none.
long cuda_gemm_fallbacks();

// Attention kernels: "auto" (the default: cuBLASLt products over T x T scores in scratch when that
// scratch is at most 2 GiB, else the flash kernels), "flash" (the flash kernels on tensor cores:
// TF32 inputs in the fp32 table, bf16 in the bf16 one), "materialized" or "simt"; the
// environment's CHAMBER_ATTENTION sets it at start. Error for another name. Both tables.
void cuda_set_attention_kernels(const std::string& name);
// Device memory the CUDA backend takes beyond the model's arenas for a step at this shape:
// attention's scratch (up to 2 GiB) and cuBLASLt's 32 MiB workspace. For fit checks. The bf16
// table's figure differs (its attention scratch holds bf16 scores, so it may choose another path).
size_t cuda_scratch_bytes(int B, int T, int C, int NH);
size_t cuda_bf16_scratch_bytes(int B, int T, int C, int NH);

// dst[0..n) ~ Normal(mean, stddev) from cuRAND's Philox generator seeded with `seed`, on the
// run's stream. Device memory.
void cuda_fill_normal(float* dst, size_t n, float mean, float stddev, uint64_t seed);

}  // namespace chamber
