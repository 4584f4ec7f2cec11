// The operation table: the one model definition (engine/model.cpp) calls every op through it, and
// each backend fills it: the plain C++ reference (kernels/*.cpp, `reference_ops()`), the fast CPU
// path, the CUDA backend and the CUDA sources run under the host SIMT emulator. Pointers passed to
// an op live in the backend's memory (host memory for CPU backends, device memory for CUDA).
//
// Conventions shared by every op (each op file states its own math and shapes on top):
//   - float32 storage; N = B*T rows; C channels; row-major, last index fastest.
//   - Linear weights are (OC, C) as in PyTorch: out = inp @ W^T + b.
//   - Every *_backward ACCUMULATES (+=) into every gradient it writes, parameter and activation
//     gradients alike, so gradient accumulation and residual branches need no extra adds. The
//     caller zeroes gradient buffers. Buffers called scratch are overwritten.
//   - Pointers that may be null say so.
#pragma once
#include <cstddef>
#include <cstdint>

namespace chamber {

struct Ops {
  const char* name;

  // ---- memory (the arenas are carved from one alloc per category) ----
  void* (*alloc)(size_t bytes);                  // zero-filled, 64-byte aligned; Error if it fails
  void (*free)(void* ptr);
  void (*zero)(void* ptr, size_t bytes);
  void (*copy)(void* dst, const void* src, size_t bytes);            // within the backend
  void (*to_host)(void* host_dst, const void* src, size_t bytes);
  void (*from_host)(void* dst, const void* host_src, size_t bytes);
  void (*synchronize)();

  // ---- profiler ranges: name a phase or layer in Nsight's timeline (nvtxRangePush/Pop on the
  //      CUDA backend). Null in backends with no profiler to tell; call through NamedRange. ----
  void (*range_push)(const char* name);
  void (*range_pop)();

  // ---- embedding: out[b,t,:] = wte[tokens[b,t],:] + wpe[t,:] ----
  void (*encoder_forward)(float* out, const int* tokens, const float* wte, const float* wpe,
                          int B, int T, int C);
  void (*encoder_backward)(float* dwte, float* dwpe, const float* dout, const int* tokens,
                           int B, int T, int C);

  // ---- LayerNorm over the last dim; saves mean and rstd (N) for backward ----
  void (*layernorm_forward)(float* out, float* mean, float* rstd, const float* inp,
                            const float* weight, const float* bias, int N, int C);
  void (*layernorm_backward)(float* dinp, float* dweight, float* dbias, const float* dout,
                             const float* inp, const float* weight, const float* mean,
                             const float* rstd, int N, int C);

  // ---- matmul with bias: out (N,OC) = inp (N,C) @ weight (OC,C)^T + bias (OC); bias may be null;
  //      in backward dinp, dweight and dbias may each be null (not computed) ----
  void (*matmul_forward)(float* out, const float* inp, const float* weight, const float* bias,
                         int N, int C, int OC);
  void (*matmul_backward)(float* dinp, float* dweight, float* dbias, const float* dout,
                          const float* inp, const float* weight, int N, int C, int OC);
  // ---- the MLP's first Linear and its GELU in one op (cuBLASLt's GELU epilogue on the GPU):
  //      pre_gelu (N,OC) = inp @ weight^T + bias, out = GELU(pre_gelu), both OVERWRITTEN (backward
  //      reads pre_gelu). Exactly matmul_forward then gelu_forward; null where a backend has no
  //      fused version (the model then calls those two). ----
  void (*matmul_gelu_forward)(float* out, float* pre_gelu, const float* inp, const float* weight,
                              const float* bias, int N, int C, int OC);

  // ---- causal multi-head self-attention (kernels/attention.h has the math).
  //      qkv (B,T,3C): q, k, v each (B,T,C) split into NH heads of C/NH.
  //      out (B,T,C) heads concatenated; lse (B,NH,T) the log-sum-exp of each query's scaled
  //      causal scores, log sum_{t2<=t} exp(s q_t . k_t2), both OVERWRITTEN and kept for backward,
  //      which recomputes the probabilities from q, k and lse (no T x T matrix is stored).
  //      Backward reads the forward's out and lse; dqkv accumulates. ----
  void (*attention_forward)(float* out, float* lse, const float* qkv, int B, int T, int C, int NH);
  void (*attention_backward)(float* dqkv, const float* dout, const float* qkv, const float* out,
                             const float* lse, int B, int T, int C, int NH);
  // ---- attention against a KV cache (sampling; kernels/attention_decode.h has the math).
  //      qkv (N,Tn,3C): Tn new tokens for each of N rows; row i is the sequence in cache slot
  //      slots[i] and its new tokens sit at positions pos[i]..pos[i]+Tn-1 (slots, pos: backend
  //      int arrays of N). k_cache, v_cache (S, NH, max_len, hs): the new k, v are WRITTEN there
  //      first, then each new token attends causally over its slot's positions 0..its own.
  //      out (N,Tn,C) OVERWRITTEN, equal to attention_forward's rows for the same sequence.
  //      Null in a backend that lacks it: the sampler then fails with an Error naming the op.
  void (*attention_decode)(float* out, float* k_cache, float* v_cache, const float* qkv,
                           const int* slots, const int* pos, int N, int Tn, int C, int NH,
                           int max_len);

  // ---- GELU, tanh approximation, elementwise over n ----
  void (*gelu_forward)(float* out, const float* inp, size_t n);
  void (*gelu_backward)(float* dinp, const float* inp, const float* dout, size_t n);

  // ---- residual: out = a + b; backward da += dout, db += dout ----
  void (*residual_forward)(float* out, const float* a, const float* b, size_t n);
  void (*residual_backward)(float* da, float* db, const float* dout, size_t n);

  // ---- fused classifier over logits (N, Vp), the first V columns real, the rest padding.
  //      For each row i with targets[i] >= 0:
  //        losses[i]  = -log softmax(logits[i])[targets[i]]            (the token's -logprob)
  //        entropy[i] = -sum_j p_ij log p_ij      (only if entropy != null)
  //      and if write_grad, logits[i] is OVERWRITTEN with d(sum_i w_i * losses[i])/dlogits[i]
  //        = token_weights[i] * (softmax(logits[i]) - onehot(targets[i])), padding columns 0.
  //      Rows with targets[i] < 0 get loss 0, entropy 0 and zero gradient. token_weights may be
  //      null only when write_grad is false. Weights may be any sign (RL uses this).
  void (*classifier_forward_backward)(float* logits, float* losses, float* entropy,
                                      const int* targets, const float* token_weights, int N,
                                      int V, int Vp, bool write_grad);

  // ---- scalar value head: values[i] = h[i,:] . w + b[0] ----
  void (*value_head_forward)(float* values, const float* h, const float* w, const float* b,
                             int N, int C);
  void (*value_head_backward)(float* dh, float* dw, float* db, const float* dvalues,
                              const float* h, const float* w, int N, int C);

  // ---- next-token draw for the sampler (kernels/sample.h has the math): for each row of logits
  //      (N, Vp), ids[i] = the greedy (temperature <= 0) or temperature draw over the first n_draw
  //      columns by inverse CDF at uniforms[i], logprobs[i] = its untempered log-probability
  //      over the first V. ids, logprobs (N) OVERWRITTEN; all backend arrays. Null where absent:
  //      the sampler then copies the logits to the host and draws there. ----
  void (*sample_tokens)(int* ids, float* logprobs, const float* logits, const double* uniforms,
                        int N, int n_draw, int V, int Vp, float temperature);

  // ---- optimizer ----
  // sum of squares of g[0..n) in double, returned to the host (the caller sums over tensors).
  double (*sum_squares)(const float* g, size_t n);
  // AdamW with decoupled weight decay, step t >= 1 (bias correction), gradient scaled by
  // grad_scale first (global-norm clipping folds in here):
  //   g = grad_scale*grads; m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2
  //   params -= lr * ( (m/(1-b1^t)) / (sqrt(v/(1-b2^t)) + eps) + weight_decay * params )
  void (*adamw_update)(float* params, const float* grads, float* m, float* v, size_t n, float lr,
                       float beta1, float beta2, float eps, float weight_decay, float grad_scale,
                       int t);
};

// Names a stretch of work (a phase, a layer) in the profiler's timeline for its lifetime; does
// nothing in a backend without range ops. The name is copied at once, so a stack buffer will do.
struct NamedRange {
  const Ops& ops;
  NamedRange(const Ops& o, const char* name) : ops(o) {
    if (ops.range_push) ops.range_push(name);
  }
  ~NamedRange() {
    if (ops.range_pop) ops.range_pop();
  }
  NamedRange(const NamedRange&) = delete;
  NamedRange& operator=(const NamedRange&) = delete;
};

// The plain C++ reference backend (kernels/*.cpp): readable loops, OpenMP over rows.
const Ops& reference_ops();

}  // namespace chamber
