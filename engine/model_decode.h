// The model's cached forward for sampling: the same blocks as gpt_forward (engine/model.cpp),
// run over a few NEW tokens per sequence, with each layer's keys and values kept in a KV cache so
// earlier positions are never recomputed. Every op goes through the Ops table with N = the rows
// of this call; attention against the cache is the attention_decode op (kernels/ops.h).
//
// Memory: the cache and every scratch tensor are one arena (one ops.alloc), planned up front:
//   k, v      (L, max_batch, NH, max_len, hs)   one slot per sequence of a generate call
//   scratch   (rows, ...) for rows = new tokens per call, at least max_batch (a decode step) and
//             up to a few thousand (prompt prefill is cut into chunks that fit)
//   logits    (max_batch, Vp)
#pragma once
#include <vector>

#include "engine/arena.h"
#include "engine/model.h"

namespace chamber {

struct KVCache {
  int max_batch = 0, max_len = 0;
  int scratch_rows = 0;          // most new tokens one call may carry (N * Tn)
  Arena arena;
  // xfloat*: the model's compute type (a bf16 cache in mixed precision), float*: float always.
  xfloat* k = nullptr;           // (L, max_batch, NH, max_len, hs)
  xfloat* v = nullptr;
  int* tokens = nullptr;         // (scratch_rows) new tokens of the call
  int* slots = nullptr;          // (max_batch) cache slot per row
  int* pos = nullptr;            // (max_batch) position of each row's first new token
  xfloat *x = nullptr, *x2 = nullptr;          // (scratch_rows, C) residual stream, ping-pong
  xfloat* ln = nullptr;                        // (scratch_rows, C)
  float *ln_mean = nullptr, *ln_rstd = nullptr;  // (scratch_rows)
  xfloat* qkv = nullptr;         // (scratch_rows, 3C)
  xfloat* atty = nullptr;        // (scratch_rows, C)
  xfloat* proj = nullptr;        // (scratch_rows, C)
  xfloat *fch = nullptr, *fch_gelu = nullptr;  // (scratch_rows, 4C)
  xfloat* logits = nullptr;      // (max_batch, Vp)
  double* uniforms = nullptr;    // (max_batch) one uniform per row for the sampling op
  int* sampled_ids = nullptr;    // (max_batch) its draws
  float* sampled_logprobs = nullptr;  // (max_batch) and their log-probabilities
  xfloat* pos_embed = nullptr;   // (max_len, C) the position table's rows of this call (from pos0)
  std::vector<int> host_pos;     // (max_batch) pos's host side, kept for an upload that does not wait
  // The sampler's decode steps as CUDA graphs (backends with graph ops; engine/sampler.cpp), one
  // per shape and sampling rule.
  struct DecodeGraph {
    int N, logit_rows, n_draw, top_k;
    float temperature, top_p;
    CapturedWork work;
  };
  std::vector<DecodeGraph> graphs;
};

// Plans and allocates the cache on the model's backend. Error when max_len exceeds the context,
// or when the backend has no attention_decode op (the message names the op and the backend).
void kv_cache_create(KVCache& cache, const GPT& model, int max_batch, int max_len);
void kv_cache_destroy(KVCache& cache);
// Bytes the cache arena will take, for "does it fit" checks.
size_t kv_cache_bytes(const ModelConfig& cfg, int max_batch, int max_len,
                      size_t compute_bytes = sizeof(float));

// Feeds Tn new tokens to each of N rows: row i is the sequence in cache slot host_slots[i], and
// all rows are at the same positions pos0 .. pos0+Tn-1 (the sampler steps its batch in lockstep).
// host_tokens is (N, Tn). N*Tn <= scratch_rows, pos0+Tn <= max_len. When logit_rows > 0 (only
// with Tn == 1) the logits of rows 0..logit_rows-1 are left in cache.logits (logit_rows, Vp).
void gpt_decode_forward(GPT& model, KVCache& cache, const int* host_tokens, const int* host_slots,
                        int N, int Tn, int pos0, int logit_rows);
// gpt_decode_forward in its two halves, for a caller that runs the second as a graph:
// gpt_decode_inputs checks and uploads the call's tokens, slots and positions without waiting
// (host_tokens and host_slots must stay unchanged until the next synchronisation) and copies the
// position table's rows pos0.. into cache.pos_embed; gpt_decode_ops is the device work alone,
// the same for every pos0, so one capture serves every step of a shape.
void gpt_decode_inputs(GPT& model, KVCache& cache, const int* host_tokens, const int* host_slots,
                       int N, int Tn, int pos0, int logit_rows);
void gpt_decode_ops(GPT& model, KVCache& cache, int N, int Tn, int logit_rows);

}  // namespace chamber
