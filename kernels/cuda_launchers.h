// The launchers of every kernels/*.cu file, one per operation of the table in kernels/ops.h with
// the same arguments plus the stream they are issued on. The math and the accumulate/overwrite
// rules of each op are those of its C++ reference header (kernels/<op>.h). Included by every build
// (see cuda_common.h), so each declaration exists in chamber::cuda_device, cuda_emulated,
// cuda_device_bf16 and cuda_emulated_bf16.
//
// Types: an ops.h `xfloat*` is `floatX*` here (the compute type: float, or bf16 in the bf16
// builds) and an ops.h `float*` is `float*` in every build (parameter gradients, master weights,
// statistics, losses). The one launcher whose output may be either is gemm (GemmOutput below).
#pragma once
#include <type_traits>

#include "kernels/attention.h"
#include "kernels/cuda_common.h"
#include "kernels/ops.h"

namespace chamber {
// Which attention kernels run (see attention_forward below). One type for every build, since the
// preference is shared by a build and its bf16 twin.
enum class AttentionKernels { kAuto, kMaterialized, kTensorCores, kTensorCoresFp32, kSimt };
}  // namespace chamber

namespace chamber::CHAMBER_GPU_NS {

using ::chamber::AttentionKernels;

// ---- kernels/gemm.cu: the one matrix-multiply entry (cuBLASLt on the GPU, loops when emulated) ----
// Column-major, cuBLAS conventions, for each of `batch` problems (pointers advance by the strides):
//   D = alpha * op(A) @ op(B) + beta * D  [+ bias broadcast over columns, bias has m entries]
// op(A) is m x k, op(B) is k x n, D is m x n; op transposes an input whose `transposed` is set.
// A row-major (R, K) buffer is the column-major (K, R) matrix with the same bytes, leading
// dimension K: that is how the ops (matmul.cu, attention_materialized.cu) describe their operands.

// An input matrix as stored: column j starts `ld` elements after column j-1, problem p of a batch
// `batch_stride` elements after problem p-1 (not read when batch is 1).
struct GemmInput {
  const floatX* ptr;
  int ld;
  long long batch_stride;
  bool transposed;
};
// The output D (m x n, never transposed), laid out as a GemmInput is. Its elements are floatX
// (activations, attention scratch) or float (the weight gradients that matmul_backward
// accumulates with beta = 1): the pointer's type, recorded in `fp32`, says which. In the fp32
// build the two are one type.
struct GemmOutput {
  void* ptr;
  int ld;
  long long batch_stride;
  bool fp32;  // D is float (else floatX)
  template <typename T>
  GemmOutput(T* p, int ld_, long long batch_stride_)
      : ptr(p), ld(ld_), batch_stride(batch_stride_), fp32(std::is_same_v<T, float>) {
    static_assert(std::is_same_v<T, float> || std::is_same_v<T, floatX>,
                  "gemm writes float or floatX");
  }
  size_t element_bytes() const { return fp32 ? sizeof(float) : sizeof(floatX); }
};
// The sizes: op(A) is m x k, op(B) is k x n, and there are `batch` such products.
struct GemmShape {
  int m, n, k;
  int batch = 1;
};
// A bias (m entries, floatX) needs D of type floatX (cuBLASLt's bias has D's type) and batch 1.
void gemm(const GemmInput& A, const GemmInput& B, const GemmOutput& D, GemmShape shape,
          float alpha, float beta, const floatX* bias, cudaStream_t stream);
// D = GELU(pre_gelu), pre_gelu = op(A) @ op(B) [+ bias]: one product (batch 1, alpha 1, beta 0;
// batch strides not read) whose epilogue applies the bias and GELU and also writes the GELU input
// (backward reads it) to pre_gelu, which has D's layout and type (floatX). Falls back to gemm then gelu_forward where
// the epilogue is unavailable.
void gemm_gelu(const GemmInput& A, const GemmInput& B, const GemmOutput& D, floatX* pre_gelu,
               GemmShape shape, const floatX* bias, cudaStream_t stream);
// D = (op(A) @ op(B)) * GELU'(pre_gelu): one product (batch 1, alpha 1, beta 0) whose epilogue
// multiplies by the GELU derivative at pre_gelu (the forward's pre-activation, D's layout), the
// gradient through the GELU before a Linear. Falls back to gemm then gelu_backward in place where
// the epilogue is unavailable.
void gemm_dgelu(const GemmInput& A, const GemmInput& B, const GemmOutput& D,
                const floatX* pre_gelu, GemmShape shape, cudaStream_t stream);
// D = alpha op(A) @ op(B) + beta D, and bias_grad[j] = sum_q op(B)[q, j] (n floats, OVERWRITTEN):
// one product (batch 1) whose epilogue sums op(B)'s columns as its tiles stream through (cuBLASLt's
// BGRADB), so a Linear layer's weight gradient dout^T inp brings its bias gradient without another
// pass over dout. op(B) must be a packed row-major (k, n) matrix (B transposed, ldb = n), as dout
// is. Falls back to gemm then a column-sum pass where the epilogue is unavailable.
void gemm_bias_grad(const GemmInput& A, const GemmInput& B, const GemmOutput& D, float* bias_grad,
                    GemmShape shape, float alpha, float beta, cudaStream_t stream);
// Whether gemm multiplies fp32 operands on TF32 tensor cores (the default) or in strict fp32
// (about half the speed; CHAMBER_TF32=0 in the environment sets this at start). The GPU builds
// only; bf16 operands always multiply exactly with fp32 accumulation (CUBLAS_COMPUTE_32F), and
// the bf16 build's switch is the fp32 build's (it only steers attention's kernel choice there).
void set_tf32_matmuls(bool enabled);
bool tf32_matmuls();
// How many products so far took a fallback instead of cuBLASLt, in either precision (GPU builds
// only; one count, kept by the fp32 build). count_gemm_fallback adds one.
long gemm_fallbacks();
void count_gemm_fallback();
// The same product by a simple kernel (one thread per element of D): what gemm falls back to when
// cuBLASLt has no algorithm for a shape or alignment.
void gemm_simple(const GemmInput& A, const GemmInput& B, const GemmOutput& D, GemmShape shape,
                 float alpha, float beta, const floatX* bias, cudaStream_t stream);

// ---- kernels/reduce.cu ----
// out[c] += sum_i x[i,c] * (row_scale ? row_scale[i] : 1) for x (N,C), floatX or float (the value
// head's db sums the float dvalues); out is float (parameter gradients). Deterministic (fixed
// order), accumulated in float.
void column_sums_accumulate(float* out, const floatX* x, const float* row_scale, int N, int C,
                            cudaStream_t stream);
#if defined(CHAMBER_BF16)
void column_sums_accumulate(float* out, const float* x, const float* row_scale, int N, int C,
                            cudaStream_t stream);
#endif
// *sumsq (device) = sum of squares in double; nothing read back.
void sum_squares(double* sumsq, const float* g, size_t n, cudaStream_t stream);

void encoder_forward(floatX* out, const int* tokens, const floatX* wte, const floatX* wpe, int B,
                     int T, int C, cudaStream_t stream);
void encoder_backward(float* dwte, float* dwpe, const floatX* dout, const int* tokens, int B,
                      int T, int C, cudaStream_t stream);

void layernorm_forward(floatX* out, float* mean, float* rstd, const floatX* inp,
                       const floatX* weight, const floatX* bias, int N, int C, cudaStream_t stream);
void layernorm_backward(floatX* dinp, float* dweight, float* dbias, const floatX* dout,
                        const floatX* inp, const floatX* weight, const float* mean,
                        const float* rstd, int N, int C, cudaStream_t stream);
// residual_forward then layernorm_forward in one pass over each row (kernels/layernorm.cu).
void residual_layernorm_forward(floatX* residual_out, floatX* ln_out, float* mean, float* rstd,
                                const floatX* a, const floatX* b, const floatX* weight,
                                const floatX* bias, int N, int C, cudaStream_t stream);

void matmul_forward(floatX* out, const floatX* inp, const floatX* weight, const floatX* bias,
                    int N, int C, int OC, cudaStream_t stream);
void matmul_backward(floatX* dinp, float* dweight, float* dbias, const floatX* dout,
                     const floatX* inp, const floatX* weight, int N, int C, int OC,
                     cudaStream_t stream);

void matmul_gelu_forward(floatX* out, floatX* pre_gelu, const floatX* inp, const floatX* weight,
                         const floatX* bias, int N, int C, int OC, cudaStream_t stream);
void matmul_gelu_backward(floatX* d_pre_gelu, float* dweight, float* dbias, const floatX* dout,
                          const floatX* inp, const floatX* pre_gelu, const floatX* weight, int N,
                          int C, int OC, cudaStream_t stream);

// kernels/attention.cu (contract in attention.h): lse (B,NH,T) float, dqkv overwritten. `kernels`
// picks the implementation:
//   kAuto              on the GPU: kMaterialized when its scratch fits (attention_materialized_fits,
//                      kernels/attention.h), else the flash kernels on tensor cores when the
//                      head size allows it (a multiple of 8, at most 64, rows 16-byte aligned),
//                      else the SIMT kernels; in the fp32 builds, with strict fp32 products
//                      (CHAMBER_TF32=0) the flash kernels are replaced by the SIMT ones. Under the
//                      emulator: the flash kernels with exact fp32 products (as the emulated
//                      gemm) in the fp32 build, the bf16 flash kernels (as the GPU's) in the
//                      bf16 build, else SIMT.
//                      set_attention_preference (CHAMBER_ATTENTION=flash|materialized|simt in the
//                      environment) makes kAuto take that path wherever it can.
//   kMaterialized      cuBLASLt products over T x T scores in scratch (attention_materialized.cu).
//   kTensorCores       the flash kernels with the GPU's tensor-core inputs for the build's
//                      storage (what CHAMBER_ATTENTION=flash runs): WMMA TF32 m16n16k8 in the
//                      fp32 builds (attention.cu), raw bf16 mma.sync m16n8k16 with S and P in
//                      registers in the bf16 builds (attention_bf16.cu).
//   kTensorCoresFp32   the flash kernels with fp32 inputs; emulator only (an Error on the GPU).
//   kSimt              the fp32 SIMT flash kernels, any head size (attention_fallback.cu).
// The flash and SIMT backwards take B*NH*T floats of scratch_buffer. Tests name a path to check
// each one; naming a tensor-core path for a shape it cannot take is an Error. Every path reads and
// writes floatX and accumulates in float, so the bf16 builds choose by the same rule
// (attention.cu).
void attention_forward(floatX* out, float* lse, const floatX* qkv, int B, int T, int C, int NH,
                       cudaStream_t stream, AttentionKernels kernels = AttentionKernels::kAuto);
void attention_backward(floatX* dqkv, const floatX* dout, const floatX* qkv, const floatX* out,
                        const float* lse, int B, int T, int C, int NH, cudaStream_t stream,
                        AttentionKernels kernels = AttentionKernels::kAuto);
// What kAuto prefers (kAuto: the rule above; one setting shared with the twin build of the other
// precision); the launchers' choice for a shape, and the bytes of scratch_buffer that choice takes
// (for fitting a run into device memory up front).
void set_attention_preference(AttentionKernels preferred);
AttentionKernels attention_preference();
AttentionKernels attention_kernels_for(int B, int T, int C, int NH);
size_t attention_scratch_bytes(int B, int T, int C, int NH);
// kernels/attention_materialized.cu: the path behind kMaterialized (scratch: 2 x B*NH*T*T floatX).
void attention_forward_materialized(floatX* out, float* lse, const floatX* qkv, int B, int T,
                                    int C, int NH, cudaStream_t stream);
void attention_backward_materialized(floatX* dqkv, const floatX* dout, const floatX* qkv,
                                     const float* lse, int B, int T, int C, int NH,
                                     cudaStream_t stream);
#if defined(CHAMBER_BF16)
// kernels/attention_bf16.cu: the bf16 builds' flash kernels behind kTensorCores (mma.sync
// m16n8k16, S and P in registers). Head sizes: multiples of 8 up to 64; every tensor 16-byte
// aligned. The backward takes D = rowsum(dout * out) (B,NH,T).
void flash_forward_mma(floatX* out, float* lse, const floatX* qkv, int B, int T, int C, int NH,
                       cudaStream_t stream);
void flash_backward_mma(floatX* dqkv, const floatX* dout, const floatX* qkv, const float* lse,
                        const float* D, int B, int T, int C, int NH, cudaStream_t stream);
#endif
// kernels/attention_fallback.cu: the SIMT kernels behind kSimt, for any head size. The backward
// takes D = rowsum(dout * out) (B,NH,T), which attention_backward computes first.
void attention_forward_fallback(floatX* out, float* lse, const floatX* qkv, int B, int T, int C,
                                int NH, cudaStream_t stream);
void attention_backward_fallback(floatX* dqkv, const floatX* dout, const floatX* qkv,
                                 const float* lse, const float* D, int B, int T, int C, int NH,
                                 cudaStream_t stream);

// kernels/attention_decode.cu (contract in attention_decode.h).
void attention_decode(floatX* out, floatX* k_cache, floatX* v_cache, const floatX* qkv,
                      const int* slots, const int* pos, int N, int Tn, int C, int NH, int max_len,
                      cudaStream_t stream);

void gelu_forward(floatX* out, const floatX* inp, size_t n, cudaStream_t stream);
void gelu_backward(floatX* dinp, const floatX* inp, const floatX* dout, size_t n,
                   cudaStream_t stream);

void residual_forward(floatX* out, const floatX* a, const floatX* b, size_t n, cudaStream_t stream);
void residual_backward(floatX* da, floatX* db, const floatX* dout, size_t n, cudaStream_t stream);

void classifier_forward_backward(floatX* logits, float* losses, float* entropy, const int* targets,
                                 const float* token_weights, int N, int V, int Vp,
                                 bool write_grad, cudaStream_t stream);
// *total (device) += the weighted sum of the losses (classifier.h); one block, fixed order.
void loss_sum(double* total, const float* losses, const float* token_weights, const int* targets,
              int N, cudaStream_t stream);

void value_head_forward(float* values, const floatX* h, const floatX* w, const floatX* b, int N,
                        int C, cudaStream_t stream);
void value_head_backward(floatX* dh, float* dw, float* db, const float* dvalues,
                         const floatX* h, const floatX* w, int N, int C, cudaStream_t stream);

// kernels/sample.cu (contract in sample.h).
void sample_tokens(int* ids, float* logprobs, const floatX* logits, const double* uniforms, int N,
                   int n_draw, int V, int Vp, float temperature, int top_k, float top_p,
                   cudaStream_t stream);

// kernels/adamw.cu (contract in adamw.h and ops.h): params are the fp32 master weights; when
// params_compute is not null it receives the updated weights in floatX, rounded stochastically
// from a hash of (seed, element index) in the bf16 builds, copied in the fp32 builds.
// One launch over every tensor of the host list (passed to the kernel by value).
void adamw_update(float* params, const float* grads, float* m, float* v, floatX* params_compute,
                  const AdamWTensor* tensors, int num_tensors, AdamWStep step,
                  const double* grad_sumsq, cudaStream_t stream);

}  // namespace chamber::CHAMBER_GPU_NS

#if defined(CHAMBER_BF16)
// The fp32 twin's settings that the bf16 build shares (cuda_common.h says why).
namespace chamber::CHAMBER_FP32_NS {
void set_attention_preference(AttentionKernels preferred);
AttentionKernels attention_preference();
#if defined(__CUDACC__)
void set_tf32_matmuls(bool enabled);
bool tf32_matmuls();
long gemm_fallbacks();
void count_gemm_fallback();
#endif
}  // namespace chamber::CHAMBER_FP32_NS
#endif
