// The backend glue shared by the CUDA build and the SIMT-emulated build: check messages, the run's
// stream, the scratch buffer, the memory functions, and the operation table that points each op
// at its launcher. In the nvcc build this defines cuda_ops() and the device queries of
// cuda_backend.h; in the emulated build it defines simt_ops() (see cuda_common.h for how one
// source becomes two libraries).
//
// Memory: alloc is one cudaMalloc per call (the engine makes one per arena), zero-filled before
// it returns; copies to and from the host synchronise the stream, since the host buffer is read
// or written right after. Everything else is asynchronous on the run's stream.
#include <cstdio>
#include <string>
#include <type_traits>

#include "util/util.h"
#include "kernels/cuda_launchers.h"
#include "kernels/ops.h"

#if defined(__CUDACC__)
#include <curand.h>
#include <nvtx3/nvToolsExt.h>

#include "kernels/cuda_backend.h"
#else
#include "kernels/simt_backend.h"
#endif

namespace chamber::CHAMBER_GPU_NS {

static_assert(std::is_same_v<floatX, float>,
              "the Ops table passes float*: change kernels/ops.h together with floatX");

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

void* scratch_buffer(size_t bytes) {
  static void* buffer = nullptr;
  static size_t capacity = 0;
  if (bytes <= capacity) return buffer;
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

// Names each op in Nsight's timeline (the emulated build has no profiler to tell). The model
// names the phases and layers around them through the table's range_push/range_pop.
#if defined(__CUDACC__)
void backend_range_push(const char* name) { nvtxRangePushA(name); }
void backend_range_pop() { nvtxRangePop(); }
#endif
struct OpRange {
#if defined(__CUDACC__)
  explicit OpRange(const char* name) { nvtxRangePushA(name); }
  ~OpRange() { nvtxRangePop(); }
#else
  explicit OpRange(const char*) {}
#endif
};

// ---- the ops: each one names its range and issues its launcher on the run's stream ----
void op_encoder_forward(float* out, const int* tokens, const float* wte, const float* wpe, int B,
                        int T, int C) {
  OpRange range("encoder_forward");
  encoder_forward(out, tokens, wte, wpe, B, T, C, run_stream());
}
void op_encoder_backward(float* dwte, float* dwpe, const float* dout, const int* tokens, int B,
                         int T, int C) {
  OpRange range("encoder_backward");
  encoder_backward(dwte, dwpe, dout, tokens, B, T, C, run_stream());
}
void op_layernorm_forward(float* out, float* mean, float* rstd, const float* inp,
                          const float* weight, const float* bias, int N, int C) {
  OpRange range("layernorm_forward");
  layernorm_forward(out, mean, rstd, inp, weight, bias, N, C, run_stream());
}
void op_layernorm_backward(float* dinp, float* dweight, float* dbias, const float* dout,
                           const float* inp, const float* weight, const float* mean,
                           const float* rstd, int N, int C) {
  OpRange range("layernorm_backward");
  layernorm_backward(dinp, dweight, dbias, dout, inp, weight, mean, rstd, N, C, run_stream());
}
void op_matmul_forward(float* out, const float* inp, const float* weight, const float* bias, int N,
                       int C, int OC) {
  OpRange range("matmul_forward");
  matmul_forward(out, inp, weight, bias, N, C, OC, run_stream());
}
void op_matmul_gelu_forward(float* out, float* pre_gelu, const float* inp, const float* weight,
                            const float* bias, int N, int C, int OC) {
  OpRange range("matmul_gelu_forward");
  matmul_gelu_forward(out, pre_gelu, inp, weight, bias, N, C, OC, run_stream());
}
void op_matmul_backward(float* dinp, float* dweight, float* dbias, const float* dout,
                        const float* inp, const float* weight, int N, int C, int OC) {
  OpRange range("matmul_backward");
  matmul_backward(dinp, dweight, dbias, dout, inp, weight, N, C, OC, run_stream());
}
void op_attention_forward(float* out, float* lse, const float* qkv, int B, int T, int C, int NH) {
  OpRange range("attention_forward");
  attention_forward(out, lse, qkv, B, T, C, NH, run_stream());
}
void op_attention_backward(float* dqkv, const float* dout, const float* qkv, const float* out,
                           const float* lse, int B, int T, int C, int NH) {
  OpRange range("attention_backward");
  attention_backward(dqkv, dout, qkv, out, lse, B, T, C, NH, run_stream());
}
void op_attention_decode(float* out, float* k_cache, float* v_cache, const float* qkv,
                         const int* slots, const int* pos, int N, int Tn, int C, int NH,
                         int max_len) {
  OpRange range("attention_decode");
  attention_decode(out, k_cache, v_cache, qkv, slots, pos, N, Tn, C, NH, max_len, run_stream());
}
void op_gelu_forward(float* out, const float* inp, size_t n) {
  OpRange range("gelu_forward");
  gelu_forward(out, inp, n, run_stream());
}
void op_gelu_backward(float* dinp, const float* inp, const float* dout, size_t n) {
  OpRange range("gelu_backward");
  gelu_backward(dinp, inp, dout, n, run_stream());
}
void op_residual_forward(float* out, const float* a, const float* b, size_t n) {
  OpRange range("residual_forward");
  residual_forward(out, a, b, n, run_stream());
}
void op_residual_backward(float* da, float* db, const float* dout, size_t n) {
  OpRange range("residual_backward");
  residual_backward(da, db, dout, n, run_stream());
}
void op_classifier(float* logits, float* losses, float* entropy, const int* targets,
                   const float* token_weights, int N, int V, int Vp, bool write_grad) {
  OpRange range("classifier_forward_backward");
  classifier_forward_backward(logits, losses, entropy, targets, token_weights, N, V, Vp,
                              write_grad, run_stream());
}
void op_value_head_forward(float* values, const float* h, const float* w, const float* b, int N,
                           int C) {
  OpRange range("value_head_forward");
  value_head_forward(values, h, w, b, N, C, run_stream());
}
void op_value_head_backward(float* dh, float* dw, float* db, const float* dvalues, const float* h,
                            const float* w, int N, int C) {
  OpRange range("value_head_backward");
  value_head_backward(dh, dw, db, dvalues, h, w, N, C, run_stream());
}
void op_sample_tokens(int* ids, float* logprobs, const float* logits, const double* uniforms, int N,
                      int n_draw, int V, int Vp, float temperature) {
  OpRange range("sample_tokens");
  sample_tokens(ids, logprobs, logits, uniforms, N, n_draw, V, Vp, temperature, run_stream());
}
double op_sum_squares(const float* g, size_t n) {
  OpRange range("sum_squares");
  return sum_squares(g, n, run_stream());
}
void op_adamw_update(float* params, const float* grads, float* m, float* v, size_t n, float lr,
                     float beta1, float beta2, float eps, float weight_decay, float grad_scale,
                     int t) {
  OpRange range("adamw_update");
  adamw_update(params, grads, m, v, n, lr, beta1, beta2, eps, weight_decay, grad_scale, t,
               run_stream());
}

Ops make_ops(const char* name) {
  Ops ops{};
  ops.name = name;
  ops.alloc = backend_alloc;
  ops.free = backend_free;
  ops.zero = backend_zero;
  ops.copy = backend_copy;
  ops.to_host = backend_to_host;
  ops.from_host = backend_from_host;
  ops.synchronize = backend_synchronize;
#if defined(__CUDACC__)
  ops.range_push = backend_range_push;
  ops.range_pop = backend_range_pop;
#endif
  ops.encoder_forward = op_encoder_forward;
  ops.encoder_backward = op_encoder_backward;
  ops.layernorm_forward = op_layernorm_forward;
  ops.layernorm_backward = op_layernorm_backward;
  ops.matmul_forward = op_matmul_forward;
  ops.matmul_backward = op_matmul_backward;
  ops.matmul_gelu_forward = op_matmul_gelu_forward;
  ops.attention_forward = op_attention_forward;
  ops.attention_backward = op_attention_backward;
  ops.attention_decode = op_attention_decode;
  ops.gelu_forward = op_gelu_forward;
  ops.gelu_backward = op_gelu_backward;
  ops.residual_forward = op_residual_forward;
  ops.residual_backward = op_residual_backward;
  ops.classifier_forward_backward = op_classifier;
  ops.value_head_forward = op_value_head_forward;
  ops.value_head_backward = op_value_head_backward;
  ops.sample_tokens = op_sample_tokens;
  ops.sum_squares = op_sum_squares;
  ops.adamw_update = op_adamw_update;
  return ops;
}

}  // namespace
}  // namespace chamber::CHAMBER_GPU_NS

// ---- the public entry points of this build ----
namespace chamber {

#if defined(__CUDACC__)
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

void cuda_set_attention_kernels(const std::string& name) {
  using cuda_device::AttentionKernels;
  if (name == "auto") cuda_device::set_attention_preference(AttentionKernels::kAuto);
  else if (name == "flash") cuda_device::set_attention_preference(AttentionKernels::kTensorCoresTf32);
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
#else
const Ops& simt_ops() {
  static const Ops ops = cuda_emulated::make_ops("simt");
  return ops;
}
#endif

}  // namespace chamber
