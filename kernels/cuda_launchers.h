// The launchers of every kernels/*.cu file, one per operation of the table in kernels/ops.h with
// the same arguments plus the stream they are issued on. The math and the accumulate/overwrite
// rules of each op are those of its C++ reference header (kernels/<op>.h). Included by both builds
// (see cuda_common.h), so each declaration exists in chamber::cuda_device and
// chamber::cuda_emulated.
#pragma once
#include "kernels/attention.h"
#include "kernels/cuda_common.h"

namespace chamber::CHAMBER_GPU_NS {

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
// The output D (m x n, never transposed), laid out as a GemmInput is.
struct GemmOutput {
  floatX* ptr;
  int ld;
  long long batch_stride;
};
// The sizes: op(A) is m x k, op(B) is k x n, and there are `batch` such products.
struct GemmShape {
  int m, n, k;
  int batch = 1;
};
void gemm(const GemmInput& A, const GemmInput& B, const GemmOutput& D, GemmShape shape,
          float alpha, float beta, const floatX* bias, cudaStream_t stream);
// D = GELU(pre_gelu), pre_gelu = op(A) @ op(B) [+ bias]: one product (batch 1, alpha 1, beta 0;
// batch strides not read) whose epilogue applies the bias and GELU and also writes the GELU input
// (backward reads it) to pre_gelu, which has D's layout. Falls back to gemm then gelu_forward where
// the epilogue is unavailable.
void gemm_gelu(const GemmInput& A, const GemmInput& B, const GemmOutput& D, floatX* pre_gelu,
               GemmShape shape, const floatX* bias, cudaStream_t stream);
// D = (op(A) @ op(B)) * GELU'(pre_gelu): one product (batch 1, alpha 1, beta 0) whose epilogue
// multiplies by the GELU derivative at pre_gelu (the forward's pre-activation, D's layout), the
// gradient through the GELU before a Linear. Falls back to gemm then gelu_backward in place where
// the epilogue is unavailable.
void gemm_dgelu(const GemmInput& A, const GemmInput& B, const GemmOutput& D,
                const floatX* pre_gelu, GemmShape shape, cudaStream_t stream);
// Whether gemm multiplies on TF32 tensor cores (the default) or in strict fp32 (about half the
// speed; CHAMBER_TF32=0 in the environment sets this at start). The GPU build only.
void set_tf32_matmuls(bool enabled);
bool tf32_matmuls();
// How many products so far took a fallback instead of cuBLASLt (GPU build only).
long gemm_fallbacks();
// The same product by a simple kernel (one thread per element of D): what gemm falls back to when
// cuBLASLt has no algorithm for a shape or alignment.
void gemm_simple(const GemmInput& A, const GemmInput& B, const GemmOutput& D, GemmShape shape,
                 float alpha, float beta, const floatX* bias, cudaStream_t stream);

// ---- kernels/reduce.cu ----
// out[c] += sum_i x[i,c] * (row_scale ? row_scale[i] : 1) for x (N,C); deterministic (fixed order).
void column_sums_accumulate(floatX* out, const floatX* x, const floatX* row_scale, int N, int C,
                            cudaStream_t stream);
// sum of squares in double, returned to the host (synchronises the stream).
double sum_squares(const floatX* g, size_t n, cudaStream_t stream);

void encoder_forward(floatX* out, const int* tokens, const floatX* wte, const floatX* wpe, int B,
                     int T, int C, cudaStream_t stream);
void encoder_backward(floatX* dwte, floatX* dwpe, const floatX* dout, const int* tokens, int B,
                      int T, int C, cudaStream_t stream);

void layernorm_forward(floatX* out, float* mean, float* rstd, const floatX* inp,
                       const floatX* weight, const floatX* bias, int N, int C, cudaStream_t stream);
void layernorm_backward(floatX* dinp, floatX* dweight, floatX* dbias, const floatX* dout,
                        const floatX* inp, const floatX* weight, const float* mean,
                        const float* rstd, int N, int C, cudaStream_t stream);

void matmul_forward(floatX* out, const floatX* inp, const floatX* weight, const floatX* bias,
                    int N, int C, int OC, cudaStream_t stream);
void matmul_backward(floatX* dinp, floatX* dweight, floatX* dbias, const floatX* dout,
                     const floatX* inp, const floatX* weight, int N, int C, int OC,
                     cudaStream_t stream);

void matmul_gelu_forward(floatX* out, floatX* pre_gelu, const floatX* inp, const floatX* weight,
                         const floatX* bias, int N, int C, int OC, cudaStream_t stream);
void matmul_gelu_backward(floatX* d_pre_gelu, floatX* dweight, floatX* dbias, const floatX* dout,
                          const floatX* inp, const floatX* pre_gelu, const floatX* weight, int N,
                          int C, int OC, cudaStream_t stream);

// kernels/attention.cu (contract in attention.h): lse (B,NH,T) float, dqkv overwritten. `kernels`
// picks the implementation:
//   kAuto              on the GPU: kMaterialized when its scratch fits (attention_materialized_fits,
//                      kernels/attention.h), else the flash kernels on tensor cores when the
//                      head size allows it (a multiple of 8, at most 64, rows 16-byte aligned),
//                      else the SIMT kernels; with strict fp32 products (CHAMBER_TF32=0) the
//                      flash kernels are replaced by the SIMT ones. Under the emulator: the flash
//                      kernels with exact fp32 products (as the emulated gemm), else SIMT.
//                      set_attention_preference (CHAMBER_ATTENTION=flash|materialized|simt in the
//                      environment) makes kAuto take that path wherever it can.
//   kMaterialized      cuBLASLt products over T x T scores in scratch (attention_materialized.cu).
//   kTensorCoresTf32   the flash kernels with TF32 inputs (the GPU's arithmetic, in both builds).
//   kTensorCoresFp32   the flash kernels with fp32 inputs; emulator only (an Error on the GPU).
//   kSimt              the fp32 SIMT flash kernels, any head size (attention_fallback.cu).
// The flash and SIMT backwards take B*NH*T floats of scratch_buffer. Tests name a path to check
// each one; naming a tensor-core path for a shape it cannot take is an Error.
enum class AttentionKernels { kAuto, kMaterialized, kTensorCoresTf32, kTensorCoresFp32, kSimt };
void attention_forward(floatX* out, float* lse, const floatX* qkv, int B, int T, int C, int NH,
                       cudaStream_t stream, AttentionKernels kernels = AttentionKernels::kAuto);
void attention_backward(floatX* dqkv, const floatX* dout, const floatX* qkv, const floatX* out,
                        const float* lse, int B, int T, int C, int NH, cudaStream_t stream,
                        AttentionKernels kernels = AttentionKernels::kAuto);
// What kAuto prefers (kAuto: the rule above); the launchers' choice for a shape, and the bytes of
// scratch_buffer that choice takes (for fitting a run into device memory up front).
void set_attention_preference(AttentionKernels preferred);
AttentionKernels attention_preference();
AttentionKernels attention_kernels_for(int B, int T, int C, int NH);
size_t attention_scratch_bytes(int B, int T, int C, int NH);
// kernels/attention_materialized.cu: the path behind kMaterialized (scratch: 2 x B*NH*T*T floats).
void attention_forward_materialized(floatX* out, float* lse, const floatX* qkv, int B, int T,
                                    int C, int NH, cudaStream_t stream);
void attention_backward_materialized(floatX* dqkv, const floatX* dout, const floatX* qkv,
                                     const float* lse, int B, int T, int C, int NH,
                                     cudaStream_t stream);
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

void value_head_forward(float* values, const floatX* h, const floatX* w, const floatX* b, int N,
                        int C, cudaStream_t stream);
void value_head_backward(floatX* dh, floatX* dw, floatX* db, const float* dvalues,
                         const floatX* h, const floatX* w, int N, int C, cudaStream_t stream);

// kernels/sample.cu (contract in sample.h).
void sample_tokens(int* ids, float* logprobs, const floatX* logits, const double* uniforms, int N,
                   int n_draw, int V, int Vp, float temperature, cudaStream_t stream);

void adamw_update(floatX* params, const floatX* grads, float* m, float* v, size_t n, float lr,
                  float beta1, float beta2, float eps, float weight_decay, float grad_scale, int t,
                  cudaStream_t stream);

}  // namespace chamber::CHAMBER_GPU_NS
