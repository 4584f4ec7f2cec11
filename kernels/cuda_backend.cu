// The backend glue shared by the CUDA builds and the SIMT-emulated builds: check messages, the
// run's stream, the scratch buffer, the memory functions, and the operation table that points each
// op at its launcher. The nvcc fp32 build defines cuda_ops() and the device queries and settings
// of cuda_backend.h; the nvcc bf16 build cuda_bf16_ops() and cuda_bf16_scratch_bytes(); the
// emulated builds simt_ops() and simt_bf16_ops() (see cuda_common.h for how one source becomes
// four libraries). A bf16 build's stream and scratch buffer are its fp32 twin's.
//
// Memory: alloc is one cudaMalloc per call (the engine makes one per arena), zero-filled before
// it returns; copies to and from the host synchronise the stream, since the host buffer is read
// or written right after. Everything else is asynchronous on the run's stream.
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <string>
#include <type_traits>
#include <vector>

#include "util/util.h"
#include "kernels/cuda_launchers.h"
#include "kernels/ops.h"
#include "kernels/upload_ring.h"

#if defined(__CUDACC__)
#include <curand.h>
#include <nvtx3/nvToolsExt.h>

#include "kernels/cuda_backend.h"
#else
#include "kernels/simt_backend.h"
#endif

namespace chamber::CHAMBER_GPU_NS {

void cuda_check(cudaError_t err, const char* call, const char* file, int line) {
  if (err == cudaSuccess) return;
  std::string hint;
#if defined(__CUDACC__)
  if (err == cudaErrorNoKernelImageForDevice)
    hint = " (this build has kernels for sm_80 and sm_90; reconfigure with "
           "-DCMAKE_CUDA_ARCHITECTURES=<your GPU> and rebuild)";
  else if (err == cudaErrorInsufficientDriver)
    hint = " (the NVIDIA driver is older than the CUDA runtime this was built with; update it)";
  else if (err == cudaErrorMemoryAllocation)
    hint = " (reduce batch_size or seq_len, or use a smaller model)";
#endif
  cudaGetLastError();  // clear a non-sticky error so the next call starts clean
  fail("CUDA error ", cudaGetErrorName(err), " (", cudaGetErrorString(err), ") in ", call, " at ",
       file, ":", line, hint);
}

#if defined(CHAMBER_BF16)
cudaStream_t run_stream() { return CHAMBER_FP32_NS::run_stream(); }
void* scratch_buffer(size_t bytes) { return CHAMBER_FP32_NS::scratch_buffer(bytes); }
unsigned scratch_generation() { return CHAMBER_FP32_NS::scratch_generation(); }
void upload_async(void* dst, const void* host_src, size_t bytes) {
  CHAMBER_FP32_NS::upload_async(dst, host_src, bytes);
}
#else
cudaStream_t run_stream() {
#if defined(__CUDACC__)
  static cudaStream_t stream = [] {
    cudaStream_t s;
    CUDA_CHECK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
    return s;
  }();
  return stream;
#else
  return nullptr;
#endif
}

// How many times the scratch buffer has moved: a graph captured before a move holds the old
// address, so graph_launch refuses it (the caller captures again).
static unsigned g_scratch_generation = 0;
unsigned scratch_generation() { return g_scratch_generation; }

void* scratch_buffer(size_t bytes) {
  static void* buffer = nullptr;
  static size_t capacity = 0;
  if (bytes <= capacity) return buffer;
  cudaStreamCaptureStatus capture = cudaStreamCaptureStatusNone;
  CUDA_CHECK(cudaStreamIsCapturing(run_stream(), &capture));
  if (capture != cudaStreamCaptureStatusNone)
    fail("CUDA graph capture: an op needs ", human_bytes((double)bytes), " of scratch, more than "
         "the ", human_bytes((double)capacity), " it had before the capture (run the captured "
         "work once before capturing it, so the scratch buffer reaches its size)");
  g_scratch_generation++;
  size_t grown = capacity * 2 > bytes ? capacity * 2 : bytes;
  if (grown < ((size_t)1 << 20)) grown = (size_t)1 << 20;
  CUDA_CHECK(cudaStreamSynchronize(run_stream()));  // no kernel may still use the old buffer
  if (buffer) CUDA_CHECK(cudaFree(buffer));
  buffer = nullptr;
  capacity = 0;
  CUDA_CHECK(cudaMalloc(&buffer, grown));
  capacity = grown;
  return buffer;
}

// cudaMemcpyAsync from pageable memory may wait for the stream to drain before it copies, which
// would put a synchronisation in every micro-step's upload. So the bytes are copied into a
// 64 MiB pinned ring first and go up from there, an event behind each upload telling when its
// region may be written again (kernels/upload_ring.h: the host waits only when it is a whole
// ring of uploads ahead of the device). A larger upload, one during a capture (none is made:
// the model uploads before it replays a graph) and every upload where pinned memory cannot be
// had go straight from the caller's memory. The emulator runs the same code (its pinned memory
// is host memory and its events complete at once), so CI checks the ring's offsets and copies.
void upload_async(void* dst, const void* host_src, size_t bytes) {
  constexpr size_t kRingBytes = (size_t)64 << 20;
  static char* pinned = nullptr;
  static bool pinned_unavailable = false;
  static UploadRing<cudaEvent_t> ring;
  static std::vector<cudaEvent_t> spare_events;
  if (bytes == 0) return;
  cudaStreamCaptureStatus capture = cudaStreamCaptureStatusNone;
  CUDA_CHECK(cudaStreamIsCapturing(run_stream(), &capture));
  if (!pinned && !pinned_unavailable && capture == cudaStreamCaptureStatusNone) {
    if (cudaMallocHost((void**)&pinned, kRingBytes) == cudaSuccess) {
      ring.capacity = kRingBytes;
    } else {
      cudaGetLastError();
      pinned = nullptr;
      pinned_unavailable = true;
      std::fprintf(stderr, "chamber: could not pin %s of host memory for uploads; they go from "
                   "pageable memory and may wait for the device.\n",
                   human_bytes((double)kRingBytes).c_str());
    }
  }
  if (!pinned || bytes > kRingBytes || capture != cudaStreamCaptureStatusNone) {
    CUDA_CHECK(cudaMemcpyAsync(dst, host_src, bytes, cudaMemcpyHostToDevice, run_stream()));
    return;
  }
  size_t offset = ring.reserve(bytes, [](cudaEvent_t upload_done) {
    CUDA_CHECK(cudaEventSynchronize(upload_done));
    spare_events.push_back(upload_done);
  });
  std::memcpy(pinned + offset, host_src, bytes);
  CUDA_CHECK(cudaMemcpyAsync(dst, pinned + offset, bytes, cudaMemcpyHostToDevice, run_stream()));
  cudaEvent_t upload_done;
  if (spare_events.empty()) {
    CUDA_CHECK(cudaEventCreateWithFlags(&upload_done, cudaEventDisableTiming));
  } else {
    upload_done = spare_events.back();
    spare_events.pop_back();
  }
  CUDA_CHECK(cudaEventRecord(upload_done, run_stream()));
  ring.push(offset, bytes, upload_done);
}
#endif

namespace {

// ---- memory ----
void* backend_alloc(size_t bytes) {
  void* ptr = nullptr;
  cudaError_t err = cudaMalloc(&ptr, bytes ? bytes : 256);
  if (err != cudaSuccess) {
    cudaGetLastError();
    std::string available;
#if defined(__CUDACC__)
    size_t free_bytes = 0, total_bytes = 0;
    if (cudaMemGetInfo(&free_bytes, &total_bytes) == cudaSuccess)
      available = ", " + human_bytes((double)free_bytes) + " free of " +
                  human_bytes((double)total_bytes);
#endif
    fail("device memory: could not allocate ", human_bytes((double)bytes), " (", bytes, " bytes",
         available, "): ", cudaGetErrorString(err),
         ". Reduce batch_size or seq_len, or use a smaller model.");
  }
  CUDA_CHECK(cudaMemsetAsync(ptr, 0, bytes, run_stream()));
  CUDA_CHECK(cudaStreamSynchronize(run_stream()));
  return ptr;
}
void backend_free(void* ptr) {
  if (ptr) CUDA_CHECK(cudaFree(ptr));
}
void backend_zero(void* ptr, size_t bytes) {
  CUDA_CHECK(cudaMemsetAsync(ptr, 0, bytes, run_stream()));
}
void backend_copy(void* dst, const void* src, size_t bytes) {
  CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, run_stream()));
}
void backend_to_host(void* host_dst, const void* src, size_t bytes) {
  CUDA_CHECK(cudaMemcpyAsync(host_dst, src, bytes, cudaMemcpyDeviceToHost, run_stream()));
  CUDA_CHECK(cudaStreamSynchronize(run_stream()));
}
void backend_from_host(void* dst, const void* host_src, size_t bytes) {
  CUDA_CHECK(cudaMemcpyAsync(dst, host_src, bytes, cudaMemcpyHostToDevice, run_stream()));
  CUDA_CHECK(cudaStreamSynchronize(run_stream()));
}
void backend_synchronize() { CUDA_CHECK(cudaStreamSynchronize(run_stream())); }
// No wait: staged through pinned memory (upload_async), so it never drains the stream.
void backend_from_host_async(void* dst, const void* host_src, size_t bytes) {
  upload_async(dst, host_src, bytes);
}

// ---- graphs: stream capture on the run's stream (ops.h). A graph remembers the scratch
// buffer's generation at capture; after the buffer has moved its kernels would use freed memory,
// so graph_launch refuses it and the caller captures again.
struct CapturedGraph {
  cudaGraphExec_t exec;
  unsigned scratch_generation;
};
void backend_capture_begin() {
  CUDA_CHECK(cudaStreamBeginCapture(run_stream(), cudaStreamCaptureModeThreadLocal));
}
void* backend_capture_end() {
  cudaGraph_t graph = nullptr;
  CUDA_CHECK(cudaStreamEndCapture(run_stream(), &graph));
  cudaGraphExec_t exec = nullptr;
  cudaError_t err = cudaGraphInstantiate(&exec, graph, 0);
  CUDA_CHECK(cudaGraphDestroy(graph));  // the executable graph keeps what it needs
  CUDA_CHECK(err);
  return new CapturedGraph{exec, scratch_generation()};
}
bool backend_graph_launch(void* graph) {
  CapturedGraph* captured = (CapturedGraph*)graph;
  if (captured->scratch_generation != scratch_generation()) return false;
  CUDA_CHECK(cudaGraphLaunch(captured->exec, run_stream()));
  return true;
}
void backend_graph_destroy(void* graph) {
  CapturedGraph* captured = (CapturedGraph*)graph;
  if (!captured) return;
  CUDA_CHECK(cudaGraphExecDestroy(captured->exec));
  delete captured;
}

// Names each op in Nsight's timeline (the emulated build has no profiler to tell). The model
// names the phases and layers around them through the table's range_push/range_pop.
#if defined(__CUDACC__)
void backend_range_push(const char* name) { nvtxRangePushA(name); }
void backend_range_pop() { nvtxRangePop(); }
#else
constexpr std::nullptr_t backend_range_push = nullptr, backend_range_pop = nullptr;
#endif
struct OpRange {
#if defined(__CUDACC__)
  explicit OpRange(const char* name) { nvtxRangePushA(name); }
  ~OpRange() { nvtxRangePop(); }
#else
  explicit OpRange(const char*) {}
#endif
};

// The table's compute-type pointers (ops.h's xfloat*, which is void*) as the launchers' floatX*:
// every void* among a kernel op's parameters is an xfloat (ops.h has no other), so these two
// overloads convert exactly those, and every other argument passes through unchanged.
inline floatX* launcher_arg(void* p) { return static_cast<floatX*>(p); }
inline const floatX* launcher_arg(const void* p) { return static_cast<const floatX*>(p); }
template <typename T>
T launcher_arg(T arg) {
  return arg;
}

Ops make_ops(const char* name) {
  Ops ops{};
  ops.name = name;
  ops.compute_bytes = sizeof(floatX);
  // Memory, synchronisation and profiler ranges: the backend_<name> functions above.
#define CHAMBER_BACKEND_OP(name, ...) ops.name = backend_##name;
  CHAMBER_RUNTIME_OPS(CHAMBER_BACKEND_OP)
#undef CHAMBER_BACKEND_OP
  // Every kernel op names its range and calls its launcher (kernels/cuda_launchers.h, the same
  // name and arguments, xfloat* as floatX*) on the run's stream.
#define CHAMBER_FORWARD_TO_LAUNCHER(name, phase, ret, params) \
  ops.name = [](auto... args) -> ret {                        \
    OpRange range(#name);                                     \
    return name(launcher_arg(args)..., run_stream());         \
  };
  CHAMBER_KERNEL_OPS(CHAMBER_FORWARD_TO_LAUNCHER)
#undef CHAMBER_FORWARD_TO_LAUNCHER
  return ops;
}

}  // namespace
}  // namespace chamber::CHAMBER_GPU_NS

// ---- the public entry points of this build ----
namespace chamber {

#if defined(__CUDACC__) && defined(CHAMBER_BF16)
const Ops& cuda_bf16_ops() {
  if (!cuda_device_available())
    fail("CUDA backend: no usable GPU (needs a CUDA driver and compute capability 8.0 or newer)");
  static const Ops ops = cuda_device_bf16::make_ops("cuda-bf16");
  return ops;
}

size_t cuda_bf16_scratch_bytes(int B, int T, int C, int NH) {
  return cuda_device_bf16::attention_scratch_bytes(B, T, C, NH) + ((size_t)32 << 20);
}
#elif defined(__CUDACC__)
bool cuda_device_available() {
  static const bool available = [] {
    int count = 0;
    if (cudaGetDeviceCount(&count) != cudaSuccess || count == 0) {
      cudaGetLastError();
      return false;
    }
    cudaDeviceProp prop;
    if (cudaGetDeviceProperties(&prop, 0) != cudaSuccess) {
      cudaGetLastError();
      return false;
    }
    return prop.major >= 8;  // the kernels are built for sm_80 and sm_90
  }();
  return available;
}

const Ops& cuda_ops() {
  if (!cuda_device_available())
    fail("CUDA backend: no usable GPU (needs a CUDA driver and compute capability 8.0 or newer)");
  static const Ops ops = cuda_device::make_ops("cuda");
  return ops;
}

std::string cuda_device_description() {
  if (!cuda_device_available()) return "";
  cudaDeviceProp prop;
  CUDA_CHECK(cudaGetDeviceProperties(&prop, 0));
  return std::string(prop.name) + ", sm_" + std::to_string(prop.major * 10 + prop.minor) + ", " +
         std::to_string(prop.multiProcessorCount) + " SMs, " +
         human_bytes((double)prop.totalGlobalMem);
}

void cuda_memory_info(size_t* free_bytes, size_t* total_bytes) {
  CUDA_CHECK(cudaMemGetInfo(free_bytes, total_bytes));
}


static void curand_check(curandStatus_t status, const char* call, const char* file, int line) {
  if (status != CURAND_STATUS_SUCCESS)
    fail("cuRAND error ", (int)status, " in ", call, " at ", file, ":", line);
}
#define CURAND_CHECK(call) curand_check((call), #call, __FILE__, __LINE__)

// The settings below reach the bf16 build too: it reads the fp32 build's (cuda_common.h).
void cuda_set_attention_kernels(const std::string& name) {
  if (name == "auto") cuda_device::set_attention_preference(AttentionKernels::kAuto);
  else if (name == "flash") cuda_device::set_attention_preference(AttentionKernels::kTensorCores);
  else if (name == "materialized") cuda_device::set_attention_preference(AttentionKernels::kMaterialized);
  else if (name == "simt") cuda_device::set_attention_preference(AttentionKernels::kSimt);
  else fail("attention kernels '", name, "': expected auto, flash, materialized or simt");
}

size_t cuda_scratch_bytes(int B, int T, int C, int NH) {
  return cuda_device::attention_scratch_bytes(B, T, C, NH) + ((size_t)32 << 20);
}

void cuda_set_tf32_matmuls(bool enabled) { cuda_device::set_tf32_matmuls(enabled); }
bool cuda_tf32_matmuls() { return cuda_device::tf32_matmuls(); }
long cuda_gemm_fallbacks() { return cuda_device::gemm_fallbacks(); }

void cuda_fill_normal(float* dst, size_t n, float mean, float stddev, uint64_t seed) {
  static curandGenerator_t generator = [] {
    curandGenerator_t g;
    CURAND_CHECK(curandCreateGenerator(&g, CURAND_RNG_PSEUDO_PHILOX4_32_10));
    return g;
  }();
  CURAND_CHECK(curandSetStream(generator, cuda_device::run_stream()));
  CURAND_CHECK(curandSetPseudoRandomGeneratorSeed(generator, seed));
  CURAND_CHECK(curandSetGeneratorOffset(generator, 0));
  // cuRAND makes normals in pairs: an odd count takes its last value from a pair in scratch.
  size_t even = n & ~(size_t)1;
  if (even) CURAND_CHECK(curandGenerateNormal(generator, dst, even, mean, stddev));
  if (n & 1) {
    float* pair = (float*)cuda_device::scratch_buffer(2 * sizeof(float));
    CURAND_CHECK(curandGenerateNormal(generator, pair, 2, mean, stddev));
    CUDA_CHECK(cudaMemcpyAsync(dst + even, pair, sizeof(float), cudaMemcpyDeviceToDevice,
                               cuda_device::run_stream()));
  }
}
#elif defined(CHAMBER_BF16)
const Ops& simt_bf16_ops() {
  static const Ops ops = cuda_emulated_bf16::make_ops("simt-bf16");
  return ops;
}
#else
const Ops& simt_ops() {
  static const Ops ops = cuda_emulated::make_ops("simt");
  return ops;
}
#endif

}  // namespace chamber
