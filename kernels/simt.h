// The SIMT emulator: just enough of the CUDA programming model for the kernels in kernels/*.cu to
// compile with the host C++ compiler and run on the CPU, so every hand-written kernel is tested
// against its C++ reference on machines without a GPU.
//
// What it provides, and how:
//   - Qualifiers (__global__, __device__, __shared__, ...) as macros. `__shared__` becomes
//     `static thread_local`: the emulator runs one block at a time per OS thread, so a static
//     per OS thread is exactly "one copy per block".
//   - threadIdx, blockIdx, blockDim, gridDim: thread-local globals the scheduler sets before it
//     resumes each emulated thread.
//   - Each block's threads run as cooperative fibers (own stack, switched in user space). A fiber
//     runs until it reaches a barrier: __syncthreads (whole block) or a warp collective (shuffle,
//     vote, wmma). When every live thread of the block (or warp of 32 lanes) has arrived, they all
//     go on.
//     A thread that never synchronises runs start to finish in one go, so elementwise kernels cost
//     little more than a loop.
//   - Checks that real hardware does not make: a barrier that some threads of the block (or warp)
//     have already exited from, a deadlock (threads waiting on different barriers), lanes of a
//     warp in different collectives, an oversized launch (dynamic shared memory above 48 KiB
//     needs cudaFuncSetAttribute, as on the GPU). Each is a chamber::Error naming the kernel,
//     block and thread.
//   - Tensor cores: the nvcuda::wmma fragment API for TF32 m16n16k8 (simt_wmma.h), and the raw
//     bf16 mma.sync m16n8k16 with its documented layout (simt_mma.h).
//   - Stream capture (CUDA graphs): while a capture is open, launches, memsets, device copies and
//     the emulated cuBLAS products are recorded as closures holding their arguments by value, as
//     a CUDA graph holds its kernel parameters, and cudaGraphLaunch replays them in order. What a
//     capture forbids on a GPU fails here too (a host copy, a synchronisation, cudaMalloc), so a
//     step that would not capture on the device does not capture in CI either.
//   - Atomics (std::atomic_ref, so they stay correct if blocks ever run on several OS threads), the half/bf16 storage
//     types with round-to-nearest-even conversions, a few intrinsics (rsqrtf, __expf, __ffs, ...),
//     and the slice of the CUDA runtime API the backend uses (cudaMalloc is host memory).
// Blocks run one after another on the calling thread, so a launch is deterministic.
#pragma once
#include <math.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <type_traits>

// ---- qualifiers ----------------------------------------------------------------------------------
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __noinline__
#define __restrict__ __restrict
#define __shared__ static thread_local
#define __launch_bounds__(...)
#define __align__(n) alignas(n)

// ---- index types and the per-thread built-ins ----------------------------------------------------
struct uint3 {
  unsigned int x, y, z;
};
struct alignas(16) float4 {
  float x, y, z, w;
};
inline float4 make_float4(float x, float y, float z, float w) { return {x, y, z, w}; }
struct dim3 {
  unsigned int x, y, z;
  constexpr dim3(unsigned int x_ = 1, unsigned int y_ = 1, unsigned int z_ = 1) : x(x_), y(y_), z(z_) {}
};
inline constinit thread_local uint3 threadIdx{0, 0, 0};
inline constinit thread_local uint3 blockIdx{0, 0, 0};
inline constinit thread_local dim3 blockDim{1, 1, 1};
inline constinit thread_local dim3 gridDim{1, 1, 1};
constexpr int warpSize = 32;

namespace chamber::simt {

// Called from inside an emulated thread.
void block_barrier();                           // __syncthreads
// A collective's body: run once by the last lane to arrive, over every lane's published value.
using WarpBody = void (*)(const uint64_t* values);
// All live lanes publish a value, then read all 32. With a body, every lane must pass the same one.
uint64_t* warp_exchange(uint64_t value, WarpBody body = nullptr);
unsigned lane_id();
unsigned warp_lanes();                          // lanes that exist in this warp (32 but the last)
void* dynamic_shared_memory();                  // this block's `extern __shared__` bytes (128-aligned)

// Runs body(ctx) once per thread of every block; throws chamber::Error on a misuse it detects.
// `kernel` identifies the kernel for its dynamic shared memory limit.
void run_grid(const char* kernel_name, const void* kernel, dim3 grid, dim3 block,
              size_t shared_bytes, void (*body)(void*), void* ctx);
// cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, bytes); false if
// bytes is beyond what a GPU allows.
bool set_max_dynamic_shared(const void* kernel, int bytes);

// The emulated stream's work: run now, or recorded while a capture is open (cudaStreamBeginCapture).
bool capturing();
void record_work(std::function<void()> work);
template <typename Work>
void stream_work(Work&& work) {
  if (capturing()) record_work(std::function<void()>(std::forward<Work>(work)));
  else work();
}

template <typename T>
uint64_t to_bits(T v) {
  static_assert(sizeof(T) <= 8 && std::is_trivially_copyable_v<T>, "shuffle of a type over 8 bytes");
  uint64_t bits = 0;
  std::memcpy(&bits, &v, sizeof(T));
  return bits;
}
template <typename T>
T from_bits(uint64_t bits) {
  T v;
  std::memcpy(&v, &bits, sizeof(T));
  return v;
}
// Lane whose value a shuffle returns: the source when it lies in the caller's segment of `width`
// lanes and exists, else the caller itself (CUDA's rule for out-of-range shuffles).
inline unsigned shuffle_source(unsigned lane, int src, int width) {
  unsigned segment_start = lane & ~(unsigned)(width - 1);
  if (src < (int)segment_start || src >= (int)(segment_start + width) || src >= (int)warp_lanes())
    return lane;
  return (unsigned)src;
}

}  // namespace chamber::simt

// ---- synchronisation, warp shuffles and votes ------------------------------------------------------
inline void __syncthreads() { chamber::simt::block_barrier(); }
inline void __syncwarp(unsigned = 0xffffffffu) { chamber::simt::warp_exchange(0); }
inline unsigned __activemask() { return (unsigned)((1ull << chamber::simt::warp_lanes()) - 1); }

template <typename T>
T __shfl_sync(unsigned, T v, int src_lane, int width = warpSize) {
  using namespace chamber::simt;
  unsigned lane = lane_id();
  uint64_t* all = warp_exchange(to_bits(v));
  int src = (int)(lane & ~(unsigned)(width - 1)) + (src_lane & (width - 1));
  return from_bits<T>(all[shuffle_source(lane, src, width)]);
}
template <typename T>
T __shfl_xor_sync(unsigned, T v, int lane_mask, int width = warpSize) {
  using namespace chamber::simt;
  unsigned lane = lane_id();
  uint64_t* all = warp_exchange(to_bits(v));
  return from_bits<T>(all[shuffle_source(lane, (int)(lane ^ (unsigned)lane_mask), width)]);
}
template <typename T>
T __shfl_down_sync(unsigned, T v, unsigned delta, int width = warpSize) {
  using namespace chamber::simt;
  unsigned lane = lane_id();
  uint64_t* all = warp_exchange(to_bits(v));
  return from_bits<T>(all[shuffle_source(lane, (int)(lane + delta), width)]);
}
template <typename T>
T __shfl_up_sync(unsigned, T v, unsigned delta, int width = warpSize) {
  using namespace chamber::simt;
  unsigned lane = lane_id();
  uint64_t* all = warp_exchange(to_bits(v));
  return from_bits<T>(all[shuffle_source(lane, (int)lane - (int)delta, width)]);
}
inline unsigned __ballot_sync(unsigned, int predicate) {
  using namespace chamber::simt;
  uint64_t* all = warp_exchange(predicate ? 1 : 0);
  unsigned bits = 0;
  for (unsigned i = 0; i < warp_lanes(); i++) bits |= (unsigned)(all[i] & 1) << i;
  return bits;
}
inline int __all_sync(unsigned mask, int predicate) {
  return __ballot_sync(mask, predicate) == __activemask();
}
inline int __any_sync(unsigned mask, int predicate) { return __ballot_sync(mask, predicate) != 0; }

// ---- atomics (return the old value, like CUDA) ---------------------------------------------------
template <typename T>
T atomicAdd(T* address, T value) {
  return std::atomic_ref<T>(*address).fetch_add(value, std::memory_order_relaxed);
}
template <typename T>
T atomicExch(T* address, T value) {
  return std::atomic_ref<T>(*address).exchange(value, std::memory_order_relaxed);
}
template <typename T>
T atomicCAS(T* address, T compare, T value) {
  std::atomic_ref<T>(*address).compare_exchange_strong(compare, value, std::memory_order_relaxed);
  return compare;  // holds the old value whether or not the exchange happened
}
template <typename T>
T atomicMax(T* address, T value) {
  std::atomic_ref<T> ref(*address);
  T old = ref.load(std::memory_order_relaxed);
  while (old < value && !ref.compare_exchange_weak(old, value, std::memory_order_relaxed)) {
  }
  return old;
}
template <typename T>
T atomicMin(T* address, T value) {
  std::atomic_ref<T> ref(*address);
  T old = ref.load(std::memory_order_relaxed);
  while (value < old && !ref.compare_exchange_weak(old, value, std::memory_order_relaxed)) {
  }
  return old;
}
inline void __threadfence() { std::atomic_thread_fence(std::memory_order_seq_cst); }
inline void __threadfence_block() { std::atomic_thread_fence(std::memory_order_seq_cst); }

// ---- intrinsics --------------------------------------------------------------------------------
inline float rsqrtf(float x) { return 1.0f / sqrtf(x); }
inline double rsqrt(double x) { return 1.0 / sqrt(x); }
inline float __expf(float x) { return expf(x); }
inline float __logf(float x) { return logf(x); }
inline float __fdividef(float a, float b) { return a / b; }
inline float __saturatef(float x) { return x < 0.0f ? 0.0f : (x > 1.0f ? 1.0f : x); }
inline int __ffs(unsigned x) { return __builtin_ffs((int)x); }
inline int __popc(unsigned x) { return __builtin_popcount(x); }
inline unsigned __float_as_uint(float x) {
  unsigned u;
  std::memcpy(&u, &x, sizeof u);
  return u;
}
inline int __clz(unsigned x) { return x ? __builtin_clz(x) : 32; }
template <typename T>
T __ldg(const T* p) { return *p; }
template <typename T>
T __ldcg(const T* p) { return *p; }  // a load that skips L1; the emulator has no caches

// ---- 16-bit storage types ----------------------------------------------------------------------
// Storage only: arithmetic goes through float, as the kernels do on the GPU. bf16 has its own
// header (the compute type of the bf16 builds, kernels/cuda_common.h).
namespace chamber::simt {
uint16_t float_to_half_bits(float f);
float half_bits_to_float(uint16_t h);
}  // namespace chamber::simt

struct __half {
  uint16_t bits;
  __half() = default;
  __half(float f) : bits(chamber::simt::float_to_half_bits(f)) {}
  operator float() const { return chamber::simt::half_bits_to_float(bits); }
};
inline __half __float2half(float f) { return __half(f); }
inline float __half2float(__half h) { return (float)h; }

#include "kernels/simt_bf16.h"

// ---- the slice of the CUDA runtime API the backend uses ----------------------------------------
// Memory is host memory; every call completes before it returns (one implicit stream).
enum cudaError_t {
  cudaSuccess = 0,
  cudaErrorInvalidValue = 1,
  cudaErrorMemoryAllocation = 2,
  cudaErrorLaunchFailure = 719,
  cudaErrorStreamCaptureUnsupported = 900,
  cudaErrorStreamCaptureInvalidated = 901,
};
enum cudaMemcpyKind {
  cudaMemcpyHostToHost = 0,
  cudaMemcpyHostToDevice = 1,
  cudaMemcpyDeviceToHost = 2,
  cudaMemcpyDeviceToDevice = 3,
  cudaMemcpyDefault = 4,
};
struct CUstream_st;
using cudaStream_t = CUstream_st*;

cudaError_t cudaMalloc(void** ptr, size_t bytes);
cudaError_t cudaFree(void* ptr);
// Pinned host memory is plain host memory here.
cudaError_t cudaMallocHost(void** ptr, size_t bytes);
cudaError_t cudaFreeHost(void* ptr);
// Events: work completes as it is issued, so a recorded event is complete at once. Recording one
// inside a capture is refused (the backend records events only outside captures).
struct CUevent_st;
using cudaEvent_t = CUevent_st*;
constexpr unsigned cudaEventDisableTiming = 2;
cudaError_t cudaEventCreateWithFlags(cudaEvent_t* event, unsigned flags);
cudaError_t cudaEventRecord(cudaEvent_t event, cudaStream_t stream = nullptr);
cudaError_t cudaEventSynchronize(cudaEvent_t event);
cudaError_t cudaEventDestroy(cudaEvent_t event);
cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind,
                            cudaStream_t stream = nullptr);
cudaError_t cudaMemsetAsync(void* ptr, int value, size_t bytes, cudaStream_t stream = nullptr);
cudaError_t cudaStreamSynchronize(cudaStream_t stream);
enum cudaFuncAttribute { cudaFuncAttributeMaxDynamicSharedMemorySize = 8 };
template <typename Kernel>
cudaError_t cudaFuncSetAttribute(Kernel* kernel, cudaFuncAttribute attr, int value) {
  if (attr != cudaFuncAttributeMaxDynamicSharedMemorySize ||
      !chamber::simt::set_max_dynamic_shared(reinterpret_cast<const void*>(kernel), value))
    return cudaErrorInvalidValue;
  return cudaSuccess;
}
// Stream capture and graphs (one stream, one capture at a time).
enum cudaStreamCaptureMode {
  cudaStreamCaptureModeGlobal = 0,
  cudaStreamCaptureModeThreadLocal = 1,
  cudaStreamCaptureModeRelaxed = 2,
};
enum cudaStreamCaptureStatus {
  cudaStreamCaptureStatusNone = 0,
  cudaStreamCaptureStatusActive = 1,
  cudaStreamCaptureStatusInvalidated = 2,
};
struct CUgraph_st;
using cudaGraph_t = CUgraph_st*;
struct CUgraphExec_st;
using cudaGraphExec_t = CUgraphExec_st*;
cudaError_t cudaStreamBeginCapture(cudaStream_t stream, cudaStreamCaptureMode mode);
cudaError_t cudaStreamEndCapture(cudaStream_t stream, cudaGraph_t* graph);
cudaError_t cudaStreamIsCapturing(cudaStream_t stream, cudaStreamCaptureStatus* status);
cudaError_t cudaGraphInstantiate(cudaGraphExec_t* exec, cudaGraph_t graph,
                                 unsigned long long flags = 0);
cudaError_t cudaGraphLaunch(cudaGraphExec_t exec, cudaStream_t stream);
cudaError_t cudaGraphExecDestroy(cudaGraphExec_t exec);
cudaError_t cudaGraphDestroy(cudaGraph_t graph);
cudaError_t cudaGetLastError();
const char* cudaGetErrorName(cudaError_t err);
const char* cudaGetErrorString(cudaError_t err);

#include "kernels/simt_wmma.h"
#include "kernels/simt_mma.h"
