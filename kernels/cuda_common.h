// What every kernels/*.cu file shares, in both of its builds:
//   - nvcc (CUDA language, sm_80/sm_90) into chamber_cuda, namespace chamber::cuda_device;
//   - the host C++ compiler against the SIMT emulator (kernels/simt.h) into chamber_simt,
//     namespace chamber::cuda_emulated.
// The two builds of one source land in different namespaces so both libraries link into the same
// program. Nothing here may differ in meaning between the builds except how a launch happens.
//
// Contents: the element type switch (floatX), check macros that name the failing call, the one
// launch helper every launcher uses instead of <<<...>>>, the dynamic shared memory declaration,
// warp/block reductions, and the few backend services a launcher needs (scratch memory).
#pragma once
#include <cstddef>
#include <cstdint>
#include <utility>

#if defined(__CUDACC__)
#include <cuda_runtime.h>
#define CHAMBER_GPU_NS cuda_device
#define CHAMBER_DYNAMIC_SHARED(type, name) extern __shared__ __align__(128) type name[]
#else
#include "kernels/simt.h"
#define CHAMBER_GPU_NS cuda_emulated
#define CHAMBER_DYNAMIC_SHARED(type, name) type* name = (type*)::chamber::simt::dynamic_shared_memory()
#endif

namespace chamber::CHAMBER_GPU_NS {

// The storage type of every activation, parameter and gradient: the one switch for precision.
// Kernels compute in float whatever floatX is; the Ops table passes floatX* (float for now).
using floatX = float;

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
  auto run_thread = [&]() { kernel(args...); };
  using RunThread = decltype(run_thread);
  ::chamber::simt::run_grid(
      name, reinterpret_cast<const void*>(kernel), grid, block, shared_bytes,
      [](void* ctx) { (*(RunThread*)ctx)(); }, &run_thread);
#endif
}
#define CHAMBER_LAUNCH(kernel, grid, block, shared_bytes, stream, ...)                         \
  ::chamber::CHAMBER_GPU_NS::launch_kernel(#kernel, __FILE__, __LINE__, kernel, grid, block, \
                                          shared_bytes, stream, __VA_ARGS__)

inline unsigned ceil_div(size_t a, size_t b) { return (unsigned)((a + b - 1) / b); }

// ---- backend services (kernels/backend.cu) ----
cudaStream_t run_stream();   // the stream every op of the run is issued on
// Device scratch of at least `bytes`, shared by all launchers (valid until the next call). Grown
// by reallocation the first few times a larger size is asked for, then stable.
void* scratch_buffer(size_t bytes);

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
