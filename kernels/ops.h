// The operation table: the one model definition (engine/model.cpp) calls every op through it, and
// each backend fills it: the plain C++ reference (kernels/*.cpp, `reference_ops()`), the fast CPU
// path, the CUDA backend and the CUDA sources run under the host SIMT emulator. Pointers passed to
// an op live in the backend's memory (host memory for CPU backends, device memory for CUDA).
//
// Conventions shared by every op (each op file states its own math and shapes on top):
//   - The compute type: activations, their gradients, the weights that forward and backward
//     read and the KV cache are arrays of the table's compute type, Ops::compute_bytes wide:
//     float (4) on the CPU backends and in the fp32 CUDA tables, bf16 (2) in the bf16 CUDA tables
//     (mixed precision, kernels/cuda_common.h). They pass as `xfloat*`, which is void*: a float*
//     converts to it, and each backend reads it as its compute type. Everything else is float in
//     every table: parameter gradients, AdamW's master weights and moments, LayerNorm statistics,
//     log-sum-exps, losses, entropies, values and token weights; reductions accumulate in float.
//   - N = B*T rows; C channels; row-major, last index fastest.
//   - Linear weights are (OC, C) as in PyTorch: out = inp @ W^T + b.
//   - Gradients: an activation gradient with a single producer is OVERWRITTEN by it (the input
//     gradients of matmul_backward, matmul_gelu_backward, gelu_backward and attention_backward),
//     so the model needs no memset before it and the kernel never reads the old values (cuBLAS's
//     beta = 0). Every other gradient ACCUMULATES (+=): parameter gradients (micro-steps add up;
//     the caller zeroes them once per step) and the gradients of tensors read by two consumers
//     (the residual stream, which layernorm_backward and residual_backward add into; lnf, which
//     the LM head's matmul writes and value_head_backward adds to). Buffers called scratch are
//     overwritten.
//   - Pointers that may be null say so.
#pragma once
#include <cstddef>
#include <cstdint>

namespace chamber {

// The compute type's pointer (see the conventions above): void, so that any float* converts.
using xfloat = void;

// One tensor of an AdamW call (adamw_update below): where its elements lie in each array.
struct AdamWTensor {
  size_t param_first;    // its first element in params and grads
  size_t moment_first;   // in m and v (they hold only this process's slice when sharded)
  size_t compute_first;  // in params_compute (the bf16 copy has its own layout)
  size_t count;          // elements
  bool decays;           // weight decay applies (2-D weights; not biases, norms, the value head)
  bool value_head;       // takes AdamWStep::value_head_lr instead of lr
  uint32_t seed_salt;    // mixed into the step's seed for the stochastic rounding
};
constexpr int kAdamWMaxTensors = 32;  // the model has at most 19; the GPU passes the list by value
// One AdamW step's settings (adamw_update below).
struct AdamWStep {
  float lr, value_head_lr;
  float beta1, beta2, eps;
  float weight_decay;    // for tensors that decay
  float grad_scale;      // multiplies every gradient first
  float max_grad_norm;   // > 0: clip to this global norm (read from grad_sumsq); 0: no clipping
  int t;                 // step, >= 1 (bias correction)
  uint32_t seed;         // this step's stochastic-rounding seed (bf16 tables)
};

// Every op of the table, named once. Each entry is X(name, phase, return type, (parameters)):
// the Ops member `ret (*name)(parameters)`, OpId::name, the name's string, and the phase the
// profiler sums it under (train/profile.cpp). From these lists come the table below, the
// profiler's timing wrappers, the analytic profile's shape-only backend (train/roofline.cpp), the
// CUDA backend's forwarding of each op to its launcher (kernels/cuda_backend.cu) and the test that
// runs every op on every backend (tests/kernels/all_backends_cases.h). Adding an op: its kernel
// files, its entry here, its case there.
//
// The runtime ops: memory, synchronisation and profiler ranges, which each backend writes itself.
#define CHAMBER_RUNTIME_OPS(X)                                                                    \
  /* ---- memory (the arenas are carved from one alloc per category) ---- */                      \
  /* zero-filled, 64-byte aligned; Error if it fails */                                           \
  X(alloc, memory, void*, (size_t bytes))                                                         \
  X(free, memory, void, (void* ptr))                                                              \
  X(zero, memory, void, (void* ptr, size_t bytes))                                                \
  /* within the backend */                                                                        \
  X(copy, memory, void, (void* dst, const void* src, size_t bytes))                               \
  X(to_host, memory, void, (void* host_dst, const void* src, size_t bytes))                       \
  X(from_host, memory, void, (void* dst, const void* host_src, size_t bytes))                     \
  X(synchronize, memory, void, ())                                                                \
  /* from the host without waiting: host_src must stay unchanged until the next synchronize or    \
     to_host (the training step's inputs, so uploading them never drains the device's queue; the \
     CUDA backend copies them at the call into pinned memory, kernels/upload_ring.h) */           \
  X(from_host_async, memory, void, (void* dst, const void* host_src, size_t bytes))               \
  /* ---- graphs: the ops issued between capture_begin and capture_end are recorded, not run, and \
          graph_launch replays them with the same arguments (a CUDA graph). Between the two, no   \
          op may wait for the device or allocate (to_host, from_host, synchronize, alloc fail).   \
          graph_launch returns false when the graph is stale (the backend's scratch memory moved  \
          since the capture): destroy it and capture again. Null in the CPU backends, which run   \
          ops at once (engine/model.cpp's gpt_train_micro_step then calls the ops directly). */   \
  X(capture_begin, graph, void, ())                                                               \
  X(capture_end, graph, void*, ())                                                                \
  X(graph_launch, graph, bool, (void* graph))                                                     \
  X(graph_destroy, graph, void, (void* graph))                                                    \
  /* ---- profiler ranges: name a phase or layer in Nsight's timeline (nvtxRangePush/Pop on the   \
          CUDA backend). Null in backends with no profiler to tell; call through NamedRange. */   \
  X(range_push, timeline, void, (const char* name))                                               \
  X(range_pop, timeline, void, ())

// The math: each op has its plain C++ reference `<name>_ref` in kernels/<op>.cpp (the fused
// matmul_gelu_forward, matmul_gelu_backward and residual_layernorm_forward excepted: their
// reference is the two ops they fuse) and its launcher of the same name in kernels/<op>.cu.
#define CHAMBER_KERNEL_OPS(X)                                                                     \
  /* ---- embedding: out[b,t,:] = wte[tokens[b,t],:] + wpe[t,:] ---- */                           \
  X(encoder_forward, forward, void,                                                               \
    (xfloat* out, const int* tokens, const xfloat* wte, const xfloat* wpe, int B, int T, int C))  \
  X(encoder_backward, backward, void,                                                             \
    (float* dwte, float* dwpe, const xfloat* dout, const int* tokens, int B, int T, int C))       \
                                                                                                  \
  /* ---- LayerNorm over the last dim; saves mean and rstd (N) for backward ---- */               \
  X(layernorm_forward, forward, void,                                                             \
    (xfloat* out, float* mean, float* rstd, const xfloat* inp, const xfloat* weight,              \
     const xfloat* bias, int N, int C))                                                           \
  X(layernorm_backward, backward, void,                                                           \
    (xfloat* dinp, float* dweight, float* dbias, const xfloat* dout, const xfloat* inp,           \
     const xfloat* weight, const float* mean, const float* rstd, int N, int C))                   \
                                                                                                  \
  /* ---- matmul with bias: out (N,OC) = inp (N,C) @ weight (OC,C)^T + bias (OC); bias may be     \
          null; in backward dinp is OVERWRITTEN, dweight and dbias accumulate, and each of the    \
          three may be null (not computed) ---- */                                                \
  X(matmul_forward, forward, void,                                                                \
    (xfloat* out, const xfloat* inp, const xfloat* weight, const xfloat* bias, int N, int C,      \
     int OC))                                                                                     \
  X(matmul_backward, backward, void,                                                              \
    (xfloat* dinp, float* dweight, float* dbias, const xfloat* dout, const xfloat* inp,           \
     const xfloat* weight, int N, int C, int OC))                                                 \
  /* ---- the MLP's first Linear and its GELU in one op (cuBLASLt's GELU epilogue on the GPU):    \
          pre_gelu (N,OC) = inp @ weight^T + bias, out = GELU(pre_gelu), both OVERWRITTEN         \
          (backward reads pre_gelu). Exactly matmul_forward then gelu_forward; null where a       \
          backend has no fused version (the model then calls those two). ---- */                  \
  X(matmul_gelu_forward, forward, void,                                                           \
    (xfloat* out, xfloat* pre_gelu, const xfloat* inp, const xfloat* weight, const xfloat* bias,  \
     int N, int C, int OC))                                                                       \
  /* ---- its backward partner, the MLP's projection backward through the GELU before it          \
          (cuBLASLt's DGELU epilogue on the GPU): inp (N,C) = GELU(pre_gelu) is the projection's  \
          input, d_pre_gelu (N,C) = (dout @ weight) * GELU'(pre_gelu) OVERWRITTEN, dweight +=     \
          dout^T @ inp and dbias += column sums of dout (dbias may be null). Exactly              \
          matmul_backward into d_pre_gelu, then gelu_backward in place; null where a backend has  \
          no fused version (the model then calls those two). ---- */                              \
  X(matmul_gelu_backward, backward, void,                                                         \
    (xfloat* d_pre_gelu, float* dweight, float* dbias, const xfloat* dout, const xfloat* inp,     \
     const xfloat* pre_gelu, const xfloat* weight, int N, int C, int OC))                         \
                                                                                                  \
  /* ---- causal multi-head self-attention (kernels/attention.h has the math).                    \
          qkv (B,T,3C): q, k, v each (B,T,C) split into NH heads of C/NH.                         \
          out (B,T,C) heads concatenated; lse (B,NH,T) the log-sum-exp of each query's scaled     \
          causal scores, log sum_{t2<=t} exp(s q_t . k_t2), both OVERWRITTEN and kept for         \
          backward, which recomputes the probabilities from q, k and lse (no T x T matrix is      \
          stored). Backward reads the forward's out and lse; dqkv is OVERWRITTEN. ---- */         \
  X(attention_forward, forward, void,                                                             \
    (xfloat* out, float* lse, const xfloat* qkv, int B, int T, int C, int NH))                    \
  X(attention_backward, backward, void,                                                           \
    (xfloat* dqkv, const xfloat* dout, const xfloat* qkv, const xfloat* out, const float* lse,    \
     int B, int T, int C, int NH))                                                                \
  /* ---- attention against a KV cache (sampling; kernels/attention_decode.h has the math).       \
          qkv (N,Tn,3C): Tn new tokens for each of N rows; row i is the sequence in cache slot    \
          slots[i] and its new tokens sit at positions pos[i]..pos[i]+Tn-1 (slots, pos:           \
          backend int arrays of N). k_cache, v_cache (S, NH, max_len, hs): the new k, v are       \
          WRITTEN there first, then each new token attends causally over its slot's positions     \
          0..its own. out (N,Tn,C) OVERWRITTEN, equal to attention_forward's rows for the same    \
          sequence. Null in a backend that lacks it: the sampler then fails with an Error         \
          naming the op. ---- */                                                                  \
  X(attention_decode, sampling, void,                                                             \
    (xfloat* out, xfloat* k_cache, xfloat* v_cache, const xfloat* qkv, const int* slots,          \
     const int* pos, int N, int Tn, int C, int NH, int max_len))                                  \
                                                                                                  \
  /* ---- GELU, tanh approximation, elementwise over n; backward OVERWRITES dinp, which may be    \
          dout itself (in place: each element is read before it is written) ---- */              \
  X(gelu_forward, forward, void, (xfloat* out, const xfloat* inp, size_t n))                      \
  X(gelu_backward, backward, void,                                                                \
    (xfloat* dinp, const xfloat* inp, const xfloat* dout, size_t n))                              \
                                                                                                  \
  /* ---- residual: out = a + b; backward da += dout, db += dout ---- */                          \
  X(residual_forward, forward, void,                                                              \
    (xfloat* out, const xfloat* a, const xfloat* b, size_t n))                                    \
  X(residual_backward, backward, void, (xfloat* da, xfloat* db, const xfloat* dout, size_t n))    \
  /* ---- a residual add and the LayerNorm that reads it, in one op (one pass over each row on     \
          the GPU): residual_out (N,C) = a + b, then ln_out (N,C), mean, rstd (N) = LayerNorm     \
          of residual_out as stored (in the compute type, so rounded to bf16 in a bf16 table),    \
          all OVERWRITTEN. Exactly residual_forward then layernorm_forward, bit for bit; null     \
          where a backend has no fused version (the model then calls those two). ---- */         \
  X(residual_layernorm_forward, forward, void,                                                    \
    (xfloat* residual_out, xfloat* ln_out, float* mean, float* rstd, const xfloat* a,             \
     const xfloat* b, const xfloat* weight, const xfloat* bias, int N, int C))                    \
                                                                                                  \
  /* ---- fused classifier over logits (N, Vp), the first V columns real, the rest padding.       \
          For each row i with targets[i] >= 0:                                                    \
            losses[i]  = -log softmax(logits[i])[targets[i]]            (the token's -logprob)    \
            entropy[i] = -sum_j p_ij log p_ij      (only if entropy != null)                      \
          and if write_grad, logits[i] is OVERWRITTEN with d(sum_i w_i * losses[i])/dlogits[i]    \
            = token_weights[i] * (softmax(logits[i]) - onehot(targets[i])), padding columns 0.    \
          Rows with targets[i] < 0 get loss 0, entropy 0 and zero gradient. token_weights may     \
          be null only when write_grad is false. Weights may be any sign (RL uses this). ---- */  \
  X(classifier_forward_backward, classifier, void,                                                \
    (xfloat* logits, float* losses, float* entropy, const int* targets,                           \
     const float* token_weights, int N, int V, int Vp, bool write_grad))                          \
  /* ---- the loss of a batch for the training step, without reading it back: *total (a backend   \
          double) += sum over rows i with targets[i] >= 0 of w_i * losses[i], w = token_weights   \
          (1 where null). The rows' sum is formed in double first (in row order on the CPU, in a  \
          fixed order on the GPU) and then added, so micro-steps add up as separate terms. */     \
  X(loss_sum, classifier, void,                                                                   \
    (double* total, const float* losses, const float* token_weights, const int* targets, int N))  \
                                                                                                  \
  /* ---- scalar value head: values[i] = h[i,:] . w + b[0] ---- */                                \
  X(value_head_forward, forward, void,                                                            \
    (float* values, const xfloat* h, const xfloat* w, const xfloat* b, int N, int C))             \
  X(value_head_backward, backward, void,                                                          \
    (xfloat* dh, float* dw, float* db, const float* dvalues, const xfloat* h, const xfloat* w,    \
     int N, int C))                                                                               \
                                                                                                  \
  /* ---- next-token draw for the sampler (kernels/sample.h has the math): for each row of        \
          logits (N, Vp), ids[i] = the draw over the first n_draw columns at uniforms[i]:         \
          greedy (temperature <= 0), else the tempered softmax restricted to the top_k highest    \
          logits (0 = off) and then to the nucleus top_p (1 = off), in sample_row_ref's order;    \
          logprobs[i] = its untempered log-probability over the first V. ids, logprobs (N)        \
          OVERWRITTEN; all backend arrays. Null where absent: the sampler then copies the         \
          logits to the host and draws there. */                                                  \
  X(sample_tokens, sampling, void,                                                                \
    (int* ids, float* logprobs, const xfloat* logits, const double* uniforms, int N, int n_draw,  \
     int V, int Vp, float temperature, int top_k, float top_p))                                   \
                                                                                                  \
  /* ---- optimizer ---- */                                                                       \
  /* *sumsq (a backend double) = sum of squares of g[0..n) in double, OVERWRITTEN: the global     \
     gradient norm's square, kept on the backend for adamw_update */                              \
  X(sum_squares, optimizer, void, (double* sumsq, const float* g, size_t n))                      \
  /* AdamW with decoupled weight decay over every tensor of `tensors` (a HOST array of            \
     num_tensors, at most kAdamWMaxTensors; one launch on the GPU), step t >= 1 (bias             \
     correction). Per element, with the tensor's rate lr (step.value_head_lr for the value head)  \
     and decay wd (step.weight_decay where the tensor decays, else 0):                            \
       g = scale*grads; m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2                                \
       params -= lr * ( (m/(1-b1^t)) / (sqrt(v/(1-b2^t)) + eps) + wd * params )                   \
     scale = step.grad_scale, times clip_grad_scale(sqrt(*grad_sumsq), step.max_grad_norm) when   \
     grad_sumsq (a backend double from sum_squares) is given: global-norm clipping without the    \
     norm visiting the host. A non-finite *grad_sumsq skips the whole update (nothing written),   \
     so a step that went wrong leaves the weights as they were. params are the fp32 master        \
     weights. params_compute, when not null, receives the updated weights in the compute type for \
     the next forward: a bf16 table rounds stochastically (the bits below bf16's 8-bit mantissa   \
     decide the rounding direction with matching probability, drawn from a hash of               \
     step.seed ^ tensor.seed_salt and the element's index in its tensor, so small updates are not \
     lost on average); a float table copies. Null in fp32 tables, whose forward reads params. */  \
  X(adamw_update, optimizer, void,                                                                \
    (float* params, const float* grads, float* m, float* v, xfloat* params_compute,               \
     const AdamWTensor* tensors, int num_tensors, AdamWStep step, const double* grad_sumsq))

#define CHAMBER_OPS(X) CHAMBER_RUNTIME_OPS(X) CHAMBER_KERNEL_OPS(X)

struct Ops {
  const char* name;
  size_t compute_bytes;  // the compute type's size: 4 (float) or 2 (bf16); see the conventions
#define CHAMBER_OP_MEMBER(name, phase, ret, params) ret(*name) params;
  CHAMBER_OPS(CHAMBER_OP_MEMBER)
#undef CHAMBER_OP_MEMBER
};

// One id per op, in the list's order: OpId::matmul_forward, ...
enum class OpId {
#define CHAMBER_OP_ID(name, ...) name,
  CHAMBER_OPS(CHAMBER_OP_ID)
#undef CHAMBER_OP_ID
};
#define CHAMBER_OP_ONE(...) +1
constexpr int kNumOps = 0 CHAMBER_OPS(CHAMBER_OP_ONE);
#undef CHAMBER_OP_ONE

// "matmul_forward"; the phase it belongs to: "memory", "timeline", "graph", "forward",
// "backward", "classifier", "sampling" or "optimizer".
inline const char* op_name(OpId op) {
  switch (op) {
#define CHAMBER_OP_NAME(name, ...) \
  case OpId::name:                 \
    return #name;
    CHAMBER_OPS(CHAMBER_OP_NAME)
#undef CHAMBER_OP_NAME
  }
  return "?";
}
inline const char* op_phase(OpId op) {
  switch (op) {
#define CHAMBER_OP_PHASE(name, phase, ...) \
  case OpId::name:                         \
    return #phase;
    CHAMBER_OPS(CHAMBER_OP_PHASE)
#undef CHAMBER_OP_PHASE
  }
  return "?";
}

// Whether the backend has the op: optional ops (the profiler ranges, the graph ops, the fused
// matmul + GELU forward and backward, the fused residual + LayerNorm forward, and those a backend
// has not written yet) are null in a table without them.
inline bool supports(const Ops& ops, OpId op) {
  switch (op) {
#define CHAMBER_OP_IS_SET(name, ...) \
  case OpId::name:                   \
    return ops.name != nullptr;
    CHAMBER_OPS(CHAMBER_OP_IS_SET)
#undef CHAMBER_OP_IS_SET
  }
  return false;
}

// Names a stretch of work (a phase, a layer) in the profiler's timeline for its lifetime; does
// nothing in a backend without range ops. The name is copied at once, so a stack buffer will do.
struct NamedRange {
  const Ops& ops;
  NamedRange(const Ops& o, const char* name) : ops(o) {
    if (supports(ops, OpId::range_push)) ops.range_push(name);
  }
  ~NamedRange() {
    if (supports(ops, OpId::range_pop)) ops.range_pop();
  }
  NamedRange(const NamedRange&) = delete;
  NamedRange& operator=(const NamedRange&) = delete;
};

// The plain C++ reference backend (kernels/*.cpp): readable loops, OpenMP over rows.
const Ops& reference_ops();

}  // namespace chamber
