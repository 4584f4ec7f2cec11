// What every kernels/*.cu file shares, in all four of its builds:
//   - nvcc (CUDA language, sm_80/sm_90) into chamber_cuda, namespace chamber::cuda_device;
//   - the host C++ compiler against the SIMT emulator (kernels/simt.h) into chamber_simt,
//     namespace chamber::cuda_emulated;
//   - each of those again with -DCHAMBER_BF16 (mixed precision: floatX is bf16) into
//     chamber_cuda_bf16 (chamber::cuda_device_bf16) and chamber_simt_bf16
//     (chamber::cuda_emulated_bf16).
// The builds of one source land in different namespaces so all the libraries link into the same
// program. Nothing here may differ in meaning between the builds except how a launch happens and
// what floatX is.
//
// Mixed precision (the bf16 builds): activations, their gradients, the weights the forward and
// backward read and the KV cache are bf16 (the Ops table's compute type, kernels/ops.h); every
// kernel loads them with (float)x, computes and accumulates in float, and stores with (floatX)v,
// which rounds to nearest even. Parameter gradients, AdamW's fp32 master weights and moments,
// LayerNorm statistics, log-sum-exps and losses stay float, as in the fp32 builds. The bf16
// builds share the run-wide state of their fp32 twin (same machine, same run): the stream, the
// scratch buffer, the attention preference, the TF32 switch and the gemm fallback count are the
// fp32 build's, reached through the declarations at the end of this file, so the public setters
// of kernels/cuda_backend.h and an op issued by either table see one state.
//
// Contents: the element type switch (floatX), check macros that name the failing call, the one
// launch helper every launcher uses instead of <<<...>>>, the dynamic shared memory declaration,
// warp/block reductions, and the few backend services a launcher needs (scratch memory).
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <utility>

#if defined(__CUDACC__)
#include <cuda_bf16.h>
#include <cuda_runtime.h>
#define CHAMBER_FP32_NS cuda_device
#define CHAMBER_DYNAMIC_SHARED(type, name) extern __shared__ __align__(128) type name[]
#else
#include "kernels/simt.h"
#define CHAMBER_FP32_NS cuda_emulated
#define CHAMBER_DYNAMIC_SHARED(type, name) type* name = (type*)::chamber::simt::dynamic_shared_memory()
#endif
#if defined(CHAMBER_BF16)
#if defined(__CUDACC__)
#define CHAMBER_GPU_NS cuda_device_bf16
#else
#define CHAMBER_GPU_NS cuda_emulated_bf16
#endif
#else
#define CHAMBER_GPU_NS CHAMBER_FP32_NS
#endif

namespace chamber::CHAMBER_GPU_NS {

// The compute type (the Ops table's xfloat, kernels/ops.h): activations, their gradients, the
// weights forward and backward read, the KV cache. The one switch for precision; kernels compute
// in float whatever floatX is. __nv_bfloat16 is <cuda_bf16.h>'s under nvcc and the emulator's
// (kernels/simt_bf16.h) on the host.
#if defined(CHAMBER_BF16)
using floatX = __nv_bfloat16;
#else
using floatX = float;
#endif

// ---- checks: the failing call, file and line, and a hint, as a chamber::Error ----
void cuda_check(cudaError_t err, const char* call, const char* file, int line);
#define CUDA_CHECK(call) ::chamber::CHAMBER_GPU_NS::cuda_check((call), #call, __FILE__, __LINE__)

// ---- launching ----
// Every kernel launch goes through here so the nvcc and emulated builds share the call site:
//   CHAMBER_LAUNCH(kernel, grid, block, shared_bytes, stream, args...)
// checks the launch (bad configuration, missing kernel image for this GPU) and names the kernel.
template <typename... Params, typename... Args>
void launch_kernel(const char* name, const char* file, int line, void (*kernel)(Params...),
                   dim3 grid, dim3 block, size_t shared_bytes, cudaStream_t stream,
                   Args&&... args) {
  static_assert(sizeof...(Params) == sizeof...(Args), "kernel argument count");
#if defined(__CUDACC__)
  kernel<<<grid, block, shared_bytes, stream>>>(std::forward<Args>(args)...);
  cuda_check(cudaGetLastError(), name, file, line);
#else
  (void)file;
  (void)line;
  (void)stream;
  // The arguments are held by value, as a CUDA graph holds a captured launch's parameters.
  ::chamber::simt::stream_work([name, kernel, grid, block, shared_bytes,
                                ... held = std::decay_t<Args>(args)] {
    auto run_thread = [&]() { kernel(held...); };
    using RunThread = decltype(run_thread);
    ::chamber::simt::run_grid(
        name, reinterpret_cast<const void*>(kernel), grid, block, shared_bytes,
        [](void* ctx) { (*(RunThread*)ctx)(); }, &run_thread);
  });
#endif
}
#define CHAMBER_LAUNCH(kernel, grid, block, shared_bytes, stream, ...)                         \
  ::chamber::CHAMBER_GPU_NS::launch_kernel(#kernel, __FILE__, __LINE__, kernel, grid, block, \
                                          shared_bytes, stream, __VA_ARGS__)

inline unsigned ceil_div(size_t a, size_t b) { return (unsigned)((a + b - 1) / b); }

// ---- backend services (kernels/cuda_backend.cu; a bf16 build forwards to its fp32 twin's) ----
cudaStream_t run_stream();   // the stream every op of the run is issued on
// Device scratch of at least `bytes`, shared by all launchers of both precisions (valid until the
// next call). Grown by reallocation the first few times a larger size is asked for, then stable.
void* scratch_buffer(size_t bytes);
// Incremented each time scratch_buffer moves (a captured graph holds the old address).
unsigned scratch_generation();
// Queues a host-to-device copy on the run's stream without waiting for the device: on the GPU
// the bytes go first into a pinned staging ring (kernels/upload_ring.h), so host_src may change
// as soon as it returns; under the emulator the copy is made at once.
void upload_async(void* dst, const void* host_src, size_t bytes);

// ---- a float's bits and back (__float_as_uint, __uint_as_float on the GPU) ----
__device__ __forceinline__ uint32_t float_bits(float f) {
#if defined(__CUDACC__)
  return __float_as_uint(f);
#else
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
#endif
}
__device__ __forceinline__ float bits_float(uint32_t u) {
#if defined(__CUDACC__)
  return __uint_as_float(u);
#else
  float f;
  std::memcpy(&f, &u, 4);
  return f;
#endif
}

// ---- reductions within a warp / block (every lane / thread gets the result) ----
template <typename T>
__device__ __forceinline__ T warp_sum(T v) {
  for (int offset = 16; offset > 0; offset /= 2) v += __shfl_xor_sync(0xffffffffu, v, offset);
  return v;
}
__device__ __forceinline__ float warp_max(float v) {
  for (int offset = 16; offset > 0; offset /= 2)
    v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, offset));
  return v;
}
// Sum over a block whose size is a multiple of 32 (at most 1024); `shared` holds 32 Ts. Ends with
// a barrier so `shared` can be reused right away.
template <typename T>
__device__ T block_sum(T v, T* shared) {
  unsigned lane = threadIdx.x % 32, warp = threadIdx.x / 32, num_warps = blockDim.x / 32;
  v = warp_sum(v);
  if (lane == 0) shared[warp] = v;
  __syncthreads();
  T total = lane < num_warps ? shared[lane] : T(0);
  total = warp_sum(total);
  __syncthreads();
  return total;
}

}  // namespace chamber::CHAMBER_GPU_NS

#if defined(CHAMBER_BF16)
// The fp32 twin's run-wide services, which the bf16 build uses instead of keeping its own (see
// the top of this file). Declared here because a translation unit includes one build's headers.
namespace chamber::CHAMBER_FP32_NS {
cudaStream_t run_stream();
void* scratch_buffer(size_t bytes);
unsigned scratch_generation();
void upload_async(void* dst, const void* host_src, size_t bytes);
}  // namespace chamber::CHAMBER_FP32_NS
#endif
