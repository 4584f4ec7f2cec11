// The fast CPU backend: the same operation table (kernels/ops.h) and the same math as the
// reference kernels (kernels/*.h state each op's contract; nothing here changes it), built for
// speed on a few cores. `--device cpu` selects it (engine/backend.cpp); `--device cpu-ref` keeps
// the readable reference, which tests/kernels/cpu_fast_test.cpp compares every op against.
//
// Where the time goes and what this backend does about it:
//   - matmuls (about 90% of the FLOPs) go to OpenBLAS cblas_sgemm, forward and both backward
//     products (cpu_fast_matmul.cpp). OpenBLAS is the OpenMP build, so its threads are the same
//     pool as our `omp parallel` loops and it runs single-threaded when called inside one.
//   - attention is per (batch, head) sgemm on blocks of query rows, restricted to the keys the
//     causal mask lets through; the masked half of the scores is never computed, and backward
//     recomputes a block's probabilities from the saved log-sum-exp (cpu_fast_attention.cpp).
//   - elementwise and row ops (LayerNorm, GELU, residual, softmax, the fused classifier, AdamW,
//     the gradient norm) are single passes, threaded over rows or fixed chunks and vectorised with
//     AVX2+FMA (cpu_fast_simd.h has the vector exp they share and its error bound).
//   - nothing allocates inside a training step: ops use only their arguments and the stack, except
//     attention's per-thread block buffer, allocated on the first call and reused after.
//
// Determinism: every loop uses a static OpenMP schedule over work items whose boundaries do not
// depend on the thread count, and no float is ever updated by two threads, so a fixed thread count
// gives bit-identical results run to run. Elementwise ops, LayerNorm, attention and the classifier
// are bit-identical for any thread count; OpenBLAS may split a matmul's output differently with a
// different thread count, so across thread counts results agree within float32 rounding.
#pragma once
#include <cstddef>

#include "kernels/ops.h"

namespace chamber {

// The table: the fast ops below, host memory functions with threaded zero/copy, and the reference
// for everything else: the cheap ops (encoder, value head) and, for now, attention_decode (the
// sampler's KV-cache attention). The reference decode reproduces attention_forward_ref's float
// arithmetic exactly; against attention_forward_fast it agrees within float32 rounding instead.
const Ops& cpu_fast_ops();

// The fast ops, each with the signature and contract of its Ops entry (and of its *_ref function;
// the fused residual + LayerNorm's is residual_forward_ref then layernorm_forward_ref).
void matmul_forward_fast(float* out, const float* inp, const float* weight, const float* bias,
                         int N, int C, int OC);
void matmul_backward_fast(float* dinp, float* dweight, float* dbias, const float* dout,
                          const float* inp, const float* weight, int N, int C, int OC);
void attention_forward_fast(float* out, float* lse, const float* qkv, int B, int T, int C, int NH);
void attention_backward_fast(float* dqkv, const float* dout, const float* qkv, const float* out,
                             const float* lse, int B, int T, int C, int NH);
void layernorm_forward_fast(float* out, float* mean, float* rstd, const float* inp,
                            const float* weight, const float* bias, int N, int C);
void layernorm_backward_fast(float* dinp, float* dweight, float* dbias, const float* dout,
                             const float* inp, const float* weight, const float* mean,
                             const float* rstd, int N, int C);
void gelu_forward_fast(float* out, const float* inp, size_t n);
void gelu_backward_fast(float* dinp, const float* inp, const float* dout, size_t n);
void residual_forward_fast(float* out, const float* a, const float* b, size_t n);
void residual_backward_fast(float* da, float* db, const float* dout, size_t n);
void residual_layernorm_forward_fast(float* residual_out, float* ln_out, float* mean, float* rstd,
                                     const float* a, const float* b, const float* weight,
                                     const float* bias, int N, int C);
void classifier_forward_backward_fast(float* logits, float* losses, float* entropy,
                                      const int* targets, const float* token_weights, int N, int V,
                                      int Vp, bool write_grad);
double sum_of_squares_fast(const float* g, size_t n);
void sum_squares_fast(double* sumsq, const float* g, size_t n);
void adamw_range_fast(float* params, const float* grads, float* m, float* v, float* params_compute,
                      size_t n, float lr, float beta1, float beta2, float eps, float weight_decay,
                      float grad_scale, int t);
void adamw_update_fast(float* params, const float* grads, float* m, float* v, float* params_compute,
                       const AdamWTensor* tensors, int num_tensors, AdamWStep step,
                       const double* grad_sumsq);

}  // namespace chamber
