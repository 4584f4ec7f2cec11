// The GPT-2 model: parameter layout, activations, forward, backward, value head, AdamW update.
// This is the one model definition: every op goes through the backend's operation table
// (kernels/ops.h), so the same code runs on the CPU reference, the fast CPU path, the CUDA
// backend and the CUDA kernels under the SIMT emulator.
//
// One block (pre-LayerNorm GPT-2), for residual stream x of shape (B, T, C):
//   x = x + attn_proj( attention( qkv( ln1(x) ) ) )
//   x = x + fc_proj( gelu( fc( ln2(x) ) ) )
// then logits = ln_f(x) @ wte^T (tied) or @ lm_head^T, and value = ln_f(x) . value_w + value_b.
#pragma once
#include <cstdint>
#include <optional>
#include <functional>
#include <string>
#include <type_traits>
#include <vector>

#include "engine/arena.h"
#include "kernels/ops.h"

namespace chamber {

struct ModelConfig {
  int vocab_size = 0;        // real vocabulary (tokenizer's); 0 = take it from the tokenizer
  int padded_vocab = 0;      // vocab rounded up to a multiple of 64 (derived)
  int n_layer = 4;
  int n_head = 4;
  int n_embd = 128;
  int context_length = 128;  // max sequence length (wpe rows)
  bool tied_embeddings = true;
  bool value_head = true;    // scalar value head for PPO; part of the layout either way
};
void model_config_finalize(ModelConfig& cfg);  // computes padded_vocab; Error on bad shapes
// A finalized config of the given shape (tied embeddings, value head): for tests and benchmarks.
ModelConfig model_config_of(int vocab_size, int n_layer, int n_head, int n_embd, int context_length);

// Every parameter, with its shape. L = n_layer, C = n_embd, Vp = padded_vocab, Tm = context.
// T is float for the fp32 master weights, their gradients and AdamW's moments, and xfloat (the
// backend's compute type, kernels/ops.h) for the weights forward and backward read: the master
// weights themselves when the compute type is float, their bf16 copy in bf16 (mixed precision).
template <typename T>
struct ParameterSet {
  T* wte;        // (Vp, C) token embedding, also the LM head when tied
  T* wpe;        // (Tm, C) position embedding
  T* ln1_w;      // (L, C)
  T* ln1_b;      // (L, C)
  T* qkv_w;      // (L, 3C, C)
  T* qkv_b;      // (L, 3C)
  T* attn_proj_w;// (L, C, C)
  T* attn_proj_b;// (L, C)
  T* ln2_w;      // (L, C)
  T* ln2_b;      // (L, C)
  T* fc_w;       // (L, 4C, C)
  T* fc_b;       // (L, 4C)
  T* fc_proj_w;  // (L, C, 4C)
  T* fc_proj_b;  // (L, C)
  T* lnf_w;      // (C)
  T* lnf_b;      // (C)
  T* lm_head;    // (Vp, C) only when untied, else null
  T* value_w;    // (C)
  T* value_b;    // (1)
};
using ParameterTensors = ParameterSet<float>;  // master weights, gradients, AdamW m and v
using ComputeWeights = ParameterSet<xfloat>;   // what forward and backward read

// p advanced by n elements of `bytes` each. Arrays of the compute type are xfloat* (void*), whose
// element size is the backend's (GPT::compute_bytes), so offsets into them go through here.
template <typename T>
T* advance(T* p, size_t n, size_t bytes) {
  using Byte = std::conditional_t<std::is_const_v<T>, const char, char>;
  return (T*)((Byte*)p + n * bytes);
}

// Activations for a batch of up to (B, T). Per-layer tensors are indexed with the actual (B, T)
// of the call, so a smaller batch or shorter sequence reuses the same arena. xfloat* tensors hold
// the backend's compute type (float, or bf16 in mixed precision); float* ones are float always.
struct ActivationTensors {
  int* tokens;          // (B, T) inputs
  int* targets;         // (B, T) next tokens, -1 = no loss at this position
  float* token_weights; // (B, T) weight of each position's loss (masking, normalisation, RL)
  xfloat* encoded;      // (B, T, C) embeddings = the residual stream entering layer 0
  xfloat* ln1;          // (L, B, T, C)
  float* ln1_mean;      // (L, B, T)
  float* ln1_rstd;      // (L, B, T)
  xfloat* qkv;          // (L, B, T, 3C)
  xfloat* atty;         // (L, B, T, C) attention output before projection
  float* lse;           // (L, B, NH, T) log-sum-exp of each attention row (backward recomputes p)
  xfloat* residual2;    // (L, B, T, C) stream after the attention branch
  xfloat* ln2;          // (L, B, T, C)
  float* ln2_mean;      // (L, B, T)
  float* ln2_rstd;      // (L, B, T)
  xfloat* fch;          // (L, B, T, 4C) fc output (pre-GELU)
  xfloat* fch_gelu;     // (L, B, T, 4C)
  xfloat* residual3;    // (L, B, T, C) stream after the MLP branch = the layer's output
  xfloat* lnf;          // (B, T, C)
  float* lnf_mean;      // (B, T)
  float* lnf_rstd;      // (B, T)
  xfloat* logits;       // (B, T, Vp); after the classifier with gradients: dlogits
  float* losses;        // (B, T) per-token -logprob of the target
  float* entropy;       // (B, T) per-token entropy of the predicted distribution
  float* values;        // (B, T) value head output; in backward: dvalues (input)
  xfloat* proj_out;     // (B, T, C) scratch: attention/MLP projection output before the add
  // gradients of activations, one layer at a time (backward walks the layers in reverse)
  xfloat* d_residual;   // (B, T, C) gradient of the residual stream
  xfloat* d_ln;         // (B, T, C) gradient of ln1/ln2/lnf output
  xfloat* d_qkv;        // (B, T, 3C)
  xfloat* d_atty;       // (B, T, C)
  xfloat* d_fch;        // (B, T, 4C) gradient of fch_gelu, then in place of fch (GELU backward)
  // The training step's two scalars, side by side so one copy reads both at the step's end:
  double* loss_sum;     // (1) a weighted loss summed on the backend (loss_sum op): the step's, or
                        // one gpt_classifier or gpt_eval_loss call's
  double* grad_sumsq;   // (1) the gradients' sum of squares (sum_squares op), read by AdamW
  // (2 * kMaxUnreadSteps, training models) the two scalars of each step gpt_keep_step kept,
  // waiting for gpt_read_kept_steps
  double* kept_steps;
};

// ZeRO stage 1 for data-parallel training: each of `world` ranks keeps AdamW's m and v for one
// contiguous slice of the parameter arena and updates only those parameters; the ranks then share
// the updated slices. The parameter and gradient arenas are padded to `world` equal slices so the
// collectives move equal counts. {0, 1}: one slice, the whole arena (no sharding).
struct OptimizerShard {
  int rank = 0;
  int world = 1;
};

// One piece of device work that runs as a CUDA graph where the backend has graph ops
// (gpt_run_captured): its first run goes op by op (scratch memory and cuBLASLt's plans settle),
// its second is captured, later runs replay the capture, and a capture gone stale (the backend's
// scratch moved since) is made again.
struct CapturedWork {
  int runs = 0;
  void* graph = nullptr;
};

struct GPT {
  ModelConfig cfg;
  const Ops* ops = nullptr;
  size_t compute_bytes = 4;     // ops->compute_bytes: 4 (float) or 2 (bf16 mixed precision)
  int max_B = 0, max_T = 0;     // activation arena capacity
  int logit_rows = 0;           // rows acts.logits holds: max_B * max_T, or fewer for a model whose
                                // training step and evaluation compute the logits in chunks
  ParameterTensors params{};    // fp32 master weights (what AdamW updates and checkpoints hold)
  ComputeWeights weights{};     // what forward and backward read: params, or their bf16 copy
  ParameterTensors grads{};
  ParameterTensors adam_m{};
  ParameterTensors adam_v{};
  ActivationTensors acts{};
  std::vector<TensorSlot> param_table;  // names, shapes and offsets (same layout for all four)
  std::vector<TensorSlot> compute_table;  // the bf16 copy's layout (empty when it is params)
  Arena param_arena, grad_arena, m_arena, v_arena, act_arena;
  Arena compute_arena;          // the bf16 copy of the weights (unallocated in fp32)
  size_t num_parameters = 0;
  int B = 0, T = 0;             // shape of the last forward
  int adam_step = 0;            // AdamW t (bias correction)
  // Called by gpt_backward as soon as layer l's parameter gradients are complete (l = L-1 .. 0),
  // while the layers below are still to come: data parallel starts reducing them there
  // (train/data_parallel.h). Empty: nothing is called.
  std::function<void(int layer)> on_layer_gradients;
  OptimizerShard shard;         // which slice of the parameters this process's AdamW updates
  size_t shard_first = 0;       // that slice, in floats of the parameter arena; m_arena and
  size_t shard_floats = 0;      // v_arena hold exactly it (the whole arena unsharded)
  std::vector<AdamWTensor> adamw_tensors;  // AdamW's one call: each tensor's part of the slice
  // gpt_train_micro_step's CUDA graphs, one per batch shape (backends with graph ops): one
  // launch for the whole micro-step once its shape has run twice.
  struct MicroStepGraph {
    int B = 0, T = 0;
    CapturedWork work;
  };
  std::vector<MicroStepGraph> micro_step_graphs;
  bool use_graphs = true;       // false: always op by op (CHAMBER_GRAPHS=0 sets it at creation)
  int unread_steps = 0;         // steps kept on the backend since the last gpt_read_kept_steps
};

// One layer's slice of the stacked (L, ...) parameter tensors: of the compute weights (LayerWeights)
// or of the gradients (LayerGrads).
template <typename T>
struct LayerSlices {
  T *ln1_w, *ln1_b, *qkv_w, *qkv_b, *attn_proj_w, *attn_proj_b, *ln2_w, *ln2_b, *fc_w, *fc_b,
      *fc_proj_w, *fc_proj_b;
};
using LayerWeights = LayerSlices<xfloat>;
using LayerGrads = LayerSlices<float>;
// Layer l of p, whose elements are `elem_bytes` wide.
template <typename T>
LayerSlices<T> layer_params(const ParameterSet<T>& p, const ModelConfig& cfg, int l,
                            size_t elem_bytes = sizeof(float)) {
  const size_t C = cfg.n_embd;
  auto at = [&](T* tensor, size_t per_layer) { return advance(tensor, l * per_layer, elem_bytes); };
  return {at(p.ln1_w, C),          at(p.ln1_b, C),         at(p.qkv_w, 3 * C * C),
          at(p.qkv_b, 3 * C),      at(p.attn_proj_w, C * C), at(p.attn_proj_b, C),
          at(p.ln2_w, C),          at(p.ln2_b, C),         at(p.fc_w, 4 * C * C),
          at(p.fc_b, 4 * C),       at(p.fc_proj_w, 4 * C * C), at(p.fc_proj_b, C)};
}

// One block's activations for N = B*T rows. gpt_forward points them at layer l's slices of
// ActivationTensors (kept for backward); the KV-cache sampler at its one set of scratch rows.
struct BlockActivations {
  const xfloat* residual; // (N, C) the residual stream entering the block
  xfloat* ln1;            // (N, C)
  float* ln1_mean;        // (N)
  float* ln1_rstd;        // (N)
  xfloat* qkv;            // (N, 3C)
  xfloat* atty;           // (N, C) attention output before projection
  float* lse;             // (B, NH, T) log-sum-exp of each attention row; null against a KV cache
  xfloat* residual2;      // (N, C) stream after the attention branch
  xfloat* ln2;            // (N, C) may be the ln1 buffers: ln1 is no longer read by then
  float* ln2_mean;        // (N)
  float* ln2_rstd;        // (N)
  xfloat* fch;            // (N, 4C) fc output (pre-GELU)
  xfloat* fch_gelu;       // (N, 4C)
  xfloat* proj_out;       // (N, C) scratch: attention/MLP projection output before the add
  xfloat* residual3;      // (N, C) the block's output; may be `residual`, last read before it
};

// One layer's slice of a KV cache (engine/model_decode.h), for a block whose new tokens attend to
// the earlier positions kept there instead of to whole sequences given in the call.
struct LayerKV {
  xfloat* k;          // (max_batch, NH, max_len, hs) the new keys are written here first
  xfloat* v;          // (max_batch, NH, max_len, hs)
  const int* slots;   // (B) cache slot of each row
  const int* pos;     // (B) position of each row's first new token
  int max_len;
};

// The LayerNorm that reads a block's output (the next block's ln1, or ln_f after the last), for
// block_forward to compute in one pass with the block's last residual add.
struct NextLayerNorm {
  xfloat* out;
  float* mean;
  float* rstd;
  const xfloat* weight;
  const xfloat* bias;
};

// One transformer block over B rows of T tokens each (see the top of this file):
//   residual2 = residual + attn_proj(attention(qkv(ln1(residual))))
//   residual3 = residual2 + fc_proj(gelu(fc(ln2(residual2))))
// Attention is the one step that differs between callers. kv == null: causal attention within
// each row's T tokens, saving lse for backward (training). kv given: attention_decode, the T new
// tokens attend to their cache slot's earlier positions and their own (sampling). ln1_done: a.ln1
// and its statistics were written by the block below (its `next`). next: residual3 and that
// LayerNorm of it in one op (residual_layernorm_forward); null: residual3 only.
void block_forward(const Ops& ops, const LayerWeights& w, const BlockActivations& a,
                   const LayerKV* kv, int B, int T, int C, int NH, bool ln1_done = false,
                   const NextLayerNorm* next = nullptr);

// The final LayerNorm and the LM head for N rows: lnf = ln_f(x), then logits (N, Vp) = lnf @ wte^T
// when the embeddings are tied, else lnf @ lm_head^T.
void lm_head_forward(const Ops& ops, const ComputeWeights& w, const ModelConfig& cfg,
                     xfloat* logits, xfloat* lnf, float* lnf_mean, float* lnf_rstd, const xfloat* x,
                     int N);
// Its product alone, from lnf already computed.
void lm_head_product(const Ops& ops, const ComputeWeights& w, const ModelConfig& cfg,
                     xfloat* logits, const xfloat* lnf, int N);

// The MLP's fc Linear and GELU for N rows: fch = ln2 @ fc_w^T + fc_b, fch_gelu = GELU(fch). One
// fused op where the backend has one (cuBLASLt's GELU epilogue), else the two ops.
void fc_gelu_forward(const Ops& ops, xfloat* fch_gelu, xfloat* fch, const xfloat* ln2,
                     const xfloat* fc_w, const xfloat* fc_b, int N, int C);
// Its backward with the fc_proj Linear after it, from d_out (N, C), the gradient of fc_proj's
// output: d_fch (N, 4C) = (d_out @ fc_proj_w) * GELU'(fch), and fc_proj's weight and bias
// gradients accumulated. One fused op where the backend has one (cuBLASLt's DGELU epilogue), else
// matmul_backward into d_fch and gelu_backward in place.
void gelu_fc_proj_backward(const Ops& ops, xfloat* d_fch, float* d_fc_proj_w, float* d_fc_proj_b,
                           const xfloat* d_out, const xfloat* fch_gelu, const xfloat* fch,
                           const xfloat* fc_proj_w, int N, int C);

// The parameter size table (names are the checkpoint names), filled with pointers into `p`, whose
// elements are `elem_bytes` wide (4 for the float sets, the compute type's size for the weights).
template <typename T>
std::vector<TensorSlot> parameter_table(const ModelConfig& cfg, ParameterSet<T>& p,
                                        size_t elem_bytes = sizeof(float));
// Whether AdamW weight decay applies to this parameter (2-D weights yes; biases, norms, value no).
bool parameter_decays(const std::string& name);

// Allocates every arena for batches of up to (max_B, max_T). with_training = false skips grads,
// AdamW state and backward buffers (evaluation and sampling only). The activations and the
// weights forward reads take ops.compute_bytes per element; with bf16 (2) the weights also get
// their bf16 copy, refreshed from the master weights on every load and by every AdamW step.
// logit_rows > 0 caps the logits buffer at that many rows (of Vp each): gpt_train_micro_step
// and gpt_eval_loss then run the LM head, the classifier and the LM head's backward over chunks
// of rows, while gpt_forward refuses batches of more rows (pretraining passes kPretrainLogitRows).
void gpt_create(GPT& model, const ModelConfig& cfg, const Ops& ops, int max_B, int max_T,
                bool with_training = true, OptimizerShard shard = {}, int logit_rows = 0);
// The logits rows pretraining keeps: (B*T, Vp) logits are the largest activation of a step at a
// large vocabulary (GPT-2 124M at B 16 x T 1024 in bf16: 1.65 GB, at B 64: 6.6 GB), and a chunk of
// 8192 rows (824 MB) keeps the LM head's products large. Batches of up to this many rows (every
// CPU config) are one chunk: the same ops as without chunks.
constexpr int kPretrainLogitRows = 8192;
void gpt_destroy(GPT& model);
// Bytes of each arena, for the start-of-run report and "does it fit" checks before allocating.
struct ArenaSizes {
  size_t params, grads, adam, acts;
  size_t compute_weights = 0;  // the bf16 copy of the weights (0 when the compute type is float)
  size_t total() const { return params + grads + adam + acts + compute_weights; }
};
ArenaSizes gpt_arena_sizes(const ModelConfig& cfg, int max_B, int max_T, bool with_training,
                           OptimizerShard shard = {}, size_t compute_bytes = sizeof(float),
                           int logit_rows = 0);

// GPT-2 initialisation from the seed: N(0, 0.02), residual projections scaled by 1/sqrt(2L),
// biases 0, LayerNorm weights 1, value head 0. Drawn on the host so every backend starts equal.
void gpt_init_parameters(GPT& model, uint64_t seed);
// Host copies of all parameters in table order (checkpoints, export) and back.
std::vector<float> gpt_parameters_to_host(const GPT& model);
void gpt_parameters_from_host(GPT& model, const std::vector<float>& host);

// Forward pass to logits (and values when the value head is on). tokens: host (B, T).
void gpt_forward(GPT& model, const int* tokens, int B, int T);
// The summed loss of a batch (sum of -logprob of targets[i] >= 0; host (B, T) arrays), with the
// logits in chunks of model.logit_rows rows: evaluation on a model that caps its logits.
double gpt_eval_loss(GPT& model, const int* tokens, const int* targets, int B, int T);
// Runs the fused classifier on the logits of the last forward. targets and token_weights are host
// (B, T) arrays (token_weights may be null when !with_grad). Returns sum_i w_i * loss_i (with
// w = 1 when token_weights is null, over positions with target >= 0). When with_grad, the logits
// buffer now holds dlogits for gpt_backward. Per-token losses/entropy stay in acts.
double gpt_classifier(GPT& model, const int* targets, const float* token_weights, bool with_grad);
// (gpt_classifier and gpt_eval_loss sum their loss in acts.loss_sum: not between gpt_step_begin
// and the step's gpt_read_step or gpt_keep_step.)
// Backward from the dlogits left by gpt_classifier(with_grad) and, if dvalues (host, B*T) is not
// null, from the value head. Accumulates into grads (call gpt_zero_grad between steps).
void gpt_backward(GPT& model, const float* dvalues = nullptr);
void gpt_zero_grad(GPT& model);
// Global L2 norm of all gradients: gpt_compute_grad_norm leaves its square on the backend
// (acts.grad_sumsq, where AdamW reads it) and reads nothing; gpt_grad_norm also reads it back.
void gpt_compute_grad_norm(GPT& model);
double gpt_grad_norm(GPT& model);

// ---- the training step without host round trips (pretraining) ----
// gpt_step_begin zeroes the gradients and the step's loss sum. gpt_train_micro_step runs one
// micro-batch: forward, the classifier with gradients (its weighted loss added to the backend's
// loss sum instead of being read back) and backward, all queued without waiting for the device;
// a backend with graph ops runs the whole micro-step as one captured CUDA graph from the second
// call of a shape on (GPT::micro_step_graphs). tokens, targets and token_weights are host (B, T)
// arrays uploaded without waiting, so they must stay unchanged until the step is read. Then
// gpt_compute_grad_norm, gpt_adamw_step with clip_by_device_norm, and gpt_read_step: the step's
// one synchronisation, reading the loss sum and the gradient norm together. Or, instead of
// gpt_read_step, gpt_keep_step, which waits for nothing: pretraining reads its steps only when
// it writes a log line (gpt_read_kept_steps), so the device never idles while the host reads.
void gpt_step_begin(GPT& model);
void gpt_train_micro_step(GPT& model, const int* tokens, const int* targets,
                          const float* token_weights, int B, int T);
struct StepScalars {
  double loss;       // the loss sum of the step's micro-batches
  double grad_norm;  // sqrt of the last gpt_compute_grad_norm
};
StepScalars gpt_read_step(GPT& model);
// gpt_keep_step copies the step's loss sum and gradient sum of squares into the next of
// kMaxUnreadSteps slots on the backend (a device copy, queued). gpt_read_kept_steps reads every
// kept step's scalars in one copy (the one wait), oldest first, and empties the slots. Keeping
// more than kMaxUnreadSteps is an error. Every kept step's host inputs must be unchanged until
// the read. A step whose gradient norm is not finite was not applied (gpt_adamw_step), so the
// weights are the last good ones however late the read finds it.
constexpr int kMaxUnreadSteps = 32;
void gpt_keep_step(GPT& model);
std::vector<StepScalars> gpt_read_kept_steps(GPT& model);
// Runs work() captured as a graph on model's backend and returns the graph (ops.h's capture
// ops); if work throws, the capture is ended and dropped before the error goes on, so the
// backend's stream is not left capturing.
void* gpt_capture(const GPT& model, const std::function<void()>& work);
// Runs work through `captured` (see CapturedWork); op by op where the backend has no graph ops
// or model.use_graphs is off. gpt_release_captured destroys its graph, if it has one.
void gpt_run_captured(const GPT& model, CapturedWork& captured, const std::function<void()>& work);
void gpt_release_captured(const Ops& ops, CapturedWork& captured);
// One AdamW step's settings, for pretraining and RL alike.
struct AdamWSettings {
  float lr;
  float beta1, beta2, eps;
  float weight_decay;        // applies to the 2-D weights only (parameter_decays)
  float grad_scale = 1.0f;   // multiplies every gradient first (clipping computed on the host)
  // value_w and value_b's own rate (RL's critic_lr); unset: lr like every other parameter
  std::optional<float> value_head_lr = std::nullopt;
  // Global-norm clipping from the sum of squares gpt_compute_grad_norm left on the backend, so
  // the norm never visits the host: gradients scaled by min(1, max_grad_norm / norm) (0: not
  // clipped) and, when the norm is not finite, no update at all (the weights stay as they were).
  bool clip_by_device_norm = false;
  float max_grad_norm = 0.0f;
};
// AdamW over every parameter in one op call (one launch on the GPU). Increments adam_step.
void gpt_adamw_step(GPT& model, const AdamWSettings& settings);
// The whole step for one micro-batch, as pretraining runs it without data parallel (benchmarks,
// the analytic profile): gpt_step_begin, gpt_train_micro_step, gpt_compute_grad_norm and
// gpt_adamw_step (clip_by_device_norm set), queued without a read (gpt_queue_train_step: then
// gpt_read_step or gpt_keep_step), or with gpt_read_step after it (gpt_train_step).
void gpt_queue_train_step(GPT& model, const int* tokens, const int* targets,
                          const float* token_weights, int B, int T, AdamWSettings settings);
StepScalars gpt_train_step(GPT& model, const int* tokens, const int* targets,
                           const float* token_weights, int B, int T, AdamWSettings settings);

// Copies per-token losses (-logprob), entropy and values of the last forward to the host.
void gpt_copy_losses(const GPT& model, float* host_losses);
void gpt_copy_entropy(const GPT& model, float* host_entropy);
void gpt_copy_values(const GPT& model, float* host_values);
// Copies the logits of row (b, t) (V entries) to the host (sampling).
void gpt_copy_logits_row(const GPT& model, int b, int t, float* host_logits);

// Copies n elements of the compute type between the backend and host floats, converting when the
// compute type is bf16 (to the host exactly; from the host rounding to nearest even).
void compute_to_host(const Ops& ops, float* host, const xfloat* src, size_t n);
void compute_from_host(const Ops& ops, xfloat* dst, const float* host, size_t n);

}  // namespace chamber
