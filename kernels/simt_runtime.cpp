// The SIMT emulator's non-scheduling parts (see simt.h): IEEE half conversions with
// round-to-nearest-even, and the slice of the CUDA runtime API the backend calls, on host memory.
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <vector>

#include "kernels/simt.h"

namespace chamber::simt {

// ---- half precision conversions (IEEE binary16, round to nearest even) ----
uint16_t float_to_half_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  uint32_t sign = (u >> 16) & 0x8000u;
  uint32_t abs = u & 0x7fffffffu;
  if (abs > 0x7f800000u) return (uint16_t)(sign | 0x7e00u);   // NaN
  if (abs >= 0x477ff000u) return (uint16_t)(sign | 0x7c00u);  // rounds to >= 65520: infinity
  if (abs < 0x38800000u) {                                    // below 2^-14: subnormal half
    // value = abs_float * 2^24 in units of the smallest subnormal; round to nearest even.
    float scaled;
    uint32_t abs_bits = abs;
    std::memcpy(&scaled, &abs_bits, 4);
    scaled *= 16777216.0f;  // exact (power of two)
    uint32_t q = (uint32_t)scaled;
    float rest = scaled - (float)q;
    if (rest > 0.5f || (rest == 0.5f && (q & 1))) q++;
    return (uint16_t)(sign | q);
  }
  uint32_t mantissa_rounded = abs + 0xfffu + ((abs >> 13) & 1);  // nearest even at bit 13
  return (uint16_t)(sign | ((mantissa_rounded - 0x38000000u) >> 13));
}

float half_bits_to_float(uint16_t h) {
  uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
  uint32_t exponent = (h >> 10) & 0x1f, mantissa = h & 0x3ffu;
  float result;
  if (exponent == 0) {
    result = std::ldexp((float)mantissa, -24);
    uint32_t u;
    std::memcpy(&u, &result, 4);
    u |= sign;
    std::memcpy(&result, &u, 4);
    return result;
  }
  uint32_t u = exponent == 31 ? sign | 0x7f800000u | (mantissa << 13)
                              : sign | ((exponent + 112) << 23) | (mantissa << 13);
  std::memcpy(&result, &u, 4);
  return result;
}

}  // namespace chamber::simt

// ---- the emulated runtime API ------------------------------------------------------------------
namespace {
cudaError_t g_last_error = cudaSuccess;  // sticky like CUDA's, cleared by cudaGetLastError
cudaError_t record(cudaError_t err) {
  if (err != cudaSuccess) g_last_error = err;
  return err;
}
}  // namespace

// ---- stream capture: the open capture's recorded work, and the graphs made from it ----
namespace {
struct Capture {
  bool open = false;
  bool invalidated = false;  // an operation a capture forbids was attempted
  std::vector<std::function<void()>> work;
};
Capture g_capture;
// A capture-forbidden call: invalidates the open capture, as CUDA does, and fails the call.
cudaError_t forbidden_in_capture() {
  g_capture.invalidated = true;
  return record(cudaErrorStreamCaptureUnsupported);
}
}  // namespace

struct CUgraph_st {
  std::vector<std::function<void()>> work;
};
struct CUgraphExec_st {
  std::vector<std::function<void()>> work;
};

namespace chamber::simt {
bool capturing() { return g_capture.open; }
void record_work(std::function<void()> work) { g_capture.work.push_back(std::move(work)); }
}  // namespace chamber::simt

cudaError_t cudaStreamBeginCapture(cudaStream_t, cudaStreamCaptureMode) {
  if (g_capture.open) return record(cudaErrorStreamCaptureUnsupported);
  g_capture = Capture{};
  g_capture.open = true;
  return cudaSuccess;
}
cudaError_t cudaStreamEndCapture(cudaStream_t, cudaGraph_t* graph) {
  if (!g_capture.open) return record(cudaErrorInvalidValue);
  Capture done = std::move(g_capture);
  g_capture = Capture{};
  if (done.invalidated) {
    *graph = nullptr;
    return record(cudaErrorStreamCaptureInvalidated);
  }
  *graph = new CUgraph_st{std::move(done.work)};
  return cudaSuccess;
}
cudaError_t cudaStreamIsCapturing(cudaStream_t, cudaStreamCaptureStatus* status) {
  *status = !g_capture.open          ? cudaStreamCaptureStatusNone
            : g_capture.invalidated ? cudaStreamCaptureStatusInvalidated
                                    : cudaStreamCaptureStatusActive;
  return cudaSuccess;
}
cudaError_t cudaGraphInstantiate(cudaGraphExec_t* exec, cudaGraph_t graph, unsigned long long) {
  if (!graph) return record(cudaErrorInvalidValue);
  *exec = new CUgraphExec_st{graph->work};
  return cudaSuccess;
}
cudaError_t cudaGraphLaunch(cudaGraphExec_t exec, cudaStream_t) {
  if (!exec) return record(cudaErrorInvalidValue);
  if (g_capture.open) return forbidden_in_capture();
  for (auto& work : exec->work) work();
  return cudaSuccess;
}
cudaError_t cudaGraphExecDestroy(cudaGraphExec_t exec) {
  delete exec;
  return cudaSuccess;
}
cudaError_t cudaGraphDestroy(cudaGraph_t graph) {
  delete graph;
  return cudaSuccess;
}

cudaError_t cudaMalloc(void** ptr, size_t bytes) {
  if (g_capture.open) return forbidden_in_capture();
  size_t rounded = (bytes + 255) / 256 * 256;  // cudaMalloc's 256-byte alignment
  *ptr = std::aligned_alloc(256, rounded ? rounded : 256);
  return *ptr ? cudaSuccess : record(cudaErrorMemoryAllocation);
}
cudaError_t cudaFree(void* ptr) {
  if (g_capture.open) return forbidden_in_capture();
  std::free(ptr);
  return cudaSuccess;
}
cudaError_t cudaMallocHost(void** ptr, size_t bytes) {
  if (g_capture.open) return forbidden_in_capture();
  *ptr = std::malloc(bytes ? bytes : 1);
  return *ptr ? cudaSuccess : record(cudaErrorMemoryAllocation);
}
cudaError_t cudaFreeHost(void* ptr) {
  if (g_capture.open) return forbidden_in_capture();
  std::free(ptr);
  return cudaSuccess;
}
struct CUevent_st {
  bool recorded = false;
};
cudaError_t cudaEventCreateWithFlags(cudaEvent_t* event, unsigned) {
  *event = new CUevent_st;
  return cudaSuccess;
}
cudaError_t cudaEventRecord(cudaEvent_t event, cudaStream_t) {
  if (!event) return record(cudaErrorInvalidValue);
  if (g_capture.open) return forbidden_in_capture();
  event->recorded = true;
  return cudaSuccess;
}
cudaError_t cudaEventSynchronize(cudaEvent_t event) {
  return event ? cudaSuccess : record(cudaErrorInvalidValue);
}
cudaError_t cudaEventDestroy(cudaEvent_t event) {
  delete event;
  return cudaSuccess;
}
cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind,
                            cudaStream_t) {
  if (bytes && (!dst || !src)) return record(cudaErrorInvalidValue);
  if (!bytes) return cudaSuccess;
  if (g_capture.open) {
    // A graph may copy between device buffers; a copy to or from (pageable) host memory would
    // read or write the host when the graph runs, which the backend never means.
    if (kind != cudaMemcpyDeviceToDevice) return forbidden_in_capture();
    chamber::simt::record_work([=] { std::memmove(dst, src, bytes); });
    return cudaSuccess;
  }
  std::memmove(dst, src, bytes);
  return cudaSuccess;
}
cudaError_t cudaMemsetAsync(void* ptr, int value, size_t bytes, cudaStream_t) {
  if (bytes && !ptr) return record(cudaErrorInvalidValue);
  if (bytes) chamber::simt::stream_work([=] { std::memset(ptr, value, bytes); });
  return cudaSuccess;
}
cudaError_t cudaStreamSynchronize(cudaStream_t) {
  if (g_capture.open) return forbidden_in_capture();
  return cudaSuccess;
}
cudaError_t cudaGetLastError() {
  cudaError_t err = g_last_error;
  g_last_error = cudaSuccess;
  return err;
}
const char* cudaGetErrorName(cudaError_t err) {
  switch (err) {
    case cudaSuccess: return "cudaSuccess";
    case cudaErrorInvalidValue: return "cudaErrorInvalidValue";
    case cudaErrorMemoryAllocation: return "cudaErrorMemoryAllocation";
    case cudaErrorLaunchFailure: return "cudaErrorLaunchFailure";
    case cudaErrorStreamCaptureUnsupported: return "cudaErrorStreamCaptureUnsupported";
    case cudaErrorStreamCaptureInvalidated: return "cudaErrorStreamCaptureInvalidated";
  }
  return "cudaErrorUnknown";
}
const char* cudaGetErrorString(cudaError_t err) {
  switch (err) {
    case cudaSuccess: return "no error";
    case cudaErrorInvalidValue: return "invalid argument";
    case cudaErrorMemoryAllocation: return "out of memory";
    case cudaErrorLaunchFailure: return "unspecified launch failure";
    case cudaErrorStreamCaptureUnsupported:
      return "operation not permitted when stream is capturing";
    case cudaErrorStreamCaptureInvalidated:
      return "operation failed due to a previous error during capture";
  }
  return "unknown error";
}
