// The cached forward for sampling; the contract is in model_decode.h. It runs gpt_forward's
// block_forward and lm_head_forward (engine/model.cpp) on the cache's scratch rows; only the
// attention step differs: it reads its keys and values from the cache.
#include "engine/model_decode.h"

#include <algorithm>
#include <vector>

#include "util/util.h"

namespace chamber {

static std::vector<TensorSlot> cache_table(const ModelConfig& cfg, int max_batch, int max_len,
                                           int rows, KVCache& c, size_t xb) {
  const int64_t L = cfg.n_layer, C = cfg.n_embd, NH = cfg.n_head, hs = C / NH;
  const int64_t R = rows, B = max_batch;
  std::vector<TensorSlot> t = {
      {"k_cache", {L, B, NH, max_len, hs}, (void**)&c.k, xb},
      {"v_cache", {L, B, NH, max_len, hs}, (void**)&c.v, xb},
      {"tokens", {R}, (void**)&c.tokens},
      {"slots", {B}, (void**)&c.slots},
      {"pos", {B}, (void**)&c.pos},
      {"x", {R, C}, (void**)&c.x, xb},
      {"x2", {R, C}, (void**)&c.x2, xb},
      {"ln", {R, C}, (void**)&c.ln, xb},
      {"ln_mean", {R}, (void**)&c.ln_mean},
      {"ln_rstd", {R}, (void**)&c.ln_rstd},
      {"qkv", {R, 3 * C}, (void**)&c.qkv, xb},
      {"atty", {R, C}, (void**)&c.atty, xb},
      {"proj", {R, C}, (void**)&c.proj, xb},
      {"fch", {R, 4 * C}, (void**)&c.fch, xb},
      {"fch_gelu", {R, 4 * C}, (void**)&c.fch_gelu, xb},
      {"logits", {B, cfg.padded_vocab}, (void**)&c.logits, xb},
      {"uniforms", {B}, (void**)&c.uniforms, sizeof(double)},
      {"sampled_ids", {B}, (void**)&c.sampled_ids},
      {"sampled_logprobs", {B}, (void**)&c.sampled_logprobs},
      {"pos_embed", {max_len, C}, (void**)&c.pos_embed, xb},
  };
  return t;
}

// Prefill chunks of up to this many tokens keep the scratch small while the matmuls stay large.
static int scratch_rows_for(int max_batch, int max_len) {
  return std::max(max_batch, std::min(max_batch * max_len, 4096));
}

size_t kv_cache_bytes(const ModelConfig& cfg, int max_batch, int max_len, size_t compute_bytes) {
  KVCache c;
  auto t = cache_table(cfg, max_batch, max_len, scratch_rows_for(max_batch, max_len), c,
                       compute_bytes);
  return arena_plan(t);
}

void kv_cache_create(KVCache& c, const GPT& model, int max_batch, int max_len) {
  const ModelConfig& cfg = model.cfg;
  if (!supports(*model.ops, OpId::attention_decode))
    fail("the '", model.ops->name, "' backend has no attention_decode op (kernels/ops.h), which the ",
         "KV-cache sampler needs; sample on --device cpu or cpu-ref, or add the op to that backend");
  if (max_batch <= 0) fail("sampler: max_batch must be > 0 (got ", max_batch, ")");
  if (max_len < 2 || max_len > cfg.context_length)
    fail("sampler: max_len ", max_len, " must be in 2..model.context_length (", cfg.context_length, ")");
  c.max_batch = max_batch;
  c.max_len = max_len;
  c.scratch_rows = scratch_rows_for(max_batch, max_len);
  auto table = cache_table(cfg, max_batch, max_len, c.scratch_rows, c, model.compute_bytes);
  size_t bytes = arena_plan(table);
  c.arena = arena_create(*model.ops, bytes, "KV cache");
  arena_point(c.arena, table);
}

void kv_cache_destroy(KVCache& c) {
  for (KVCache::DecodeGraph& g : c.graphs) gpt_release_captured(*c.arena.ops, g.work);
  c.graphs.clear();
  arena_destroy(c.arena);
}

void gpt_decode_inputs(GPT& m, KVCache& c, const int* host_tokens, const int* host_slots, int N,
                       int Tn, int pos0, int logit_rows) {
  const Ops& ops = *m.ops;
  const ModelConfig& cfg = m.cfg;
  const int C = cfg.n_embd, R = N * Tn;
  if (N <= 0 || N > c.max_batch || Tn <= 0 || R > c.scratch_rows || pos0 < 0 || pos0 + Tn > c.max_len)
    fail("gpt_decode_forward: (N=", N, ", Tn=", Tn, ", pos0=", pos0, ") exceeds the cache (",
         c.max_batch, " rows, ", c.max_len, " positions, ", c.scratch_rows, " tokens per call)");
  if (logit_rows > 0 && Tn != 1) fail("gpt_decode_forward: logits need Tn == 1");
  for (int i = 0; i < R; i++)
    if (host_tokens[i] < 0 || host_tokens[i] >= cfg.vocab_size)
      fail("token id ", host_tokens[i], " is outside the vocabulary (", cfg.vocab_size, ")");
  c.host_pos.assign(N, pos0);
  ops.from_host_async(c.tokens, host_tokens, (size_t)R * sizeof(int));
  ops.from_host_async(c.slots, host_slots, (size_t)N * sizeof(int));
  ops.from_host_async(c.pos, c.host_pos.data(), (size_t)N * sizeof(int));
  // All rows sit at the same positions: their rows of the position table, where the encoder of
  // gpt_decode_ops reads them whatever pos0 is.
  ops.copy(c.pos_embed, advance(m.weights.wpe, (size_t)pos0 * C, m.compute_bytes),
           (size_t)Tn * C * m.compute_bytes);
}

void gpt_decode_ops(GPT& m, KVCache& c, int N, int Tn, int logit_rows) {
  const Ops& ops = *m.ops;
  NamedRange phase(ops, "decode");
  const ModelConfig& cfg = m.cfg;
  const int C = cfg.n_embd, NH = cfg.n_head, L = cfg.n_layer;
  const size_t layer_cache = (size_t)c.max_batch * C * c.max_len;  // NH * max_len * hs per slot
  const ComputeWeights& w = m.weights;
  const size_t xb = m.compute_bytes;

  ops.encoder_forward(c.x, c.tokens, w.wte, c.pos_embed, N, Tn, C);
  // One set of scratch rows serves every layer: ln1 and ln2 share c.ln, and each block's output
  // overwrites its input in c.x. A block's last add writes the next block's ln1 in the same pass
  // (block_forward's `next`); after the last block, ln_f runs on the sampling rows only.
  BlockActivations act;
  act.residual = c.x;
  act.ln1 = act.ln2 = c.ln;
  act.ln1_mean = act.ln2_mean = c.ln_mean;
  act.ln1_rstd = act.ln2_rstd = c.ln_rstd;
  act.qkv = c.qkv;
  act.atty = c.atty;
  act.lse = nullptr;  // nothing runs backward through sampling
  act.residual2 = c.x2;
  act.fch = c.fch;
  act.fch_gelu = c.fch_gelu;
  act.proj_out = c.proj;
  act.residual3 = c.x;
  for (int l = 0; l < L; l++) {
    LayerKV kv{advance(c.k, l * layer_cache, xb), advance(c.v, l * layer_cache, xb), c.slots,
               c.pos, c.max_len};
    NextLayerNorm next_ln1{c.ln, c.ln_mean, c.ln_rstd, nullptr, nullptr};
    if (l + 1 < L) {
      LayerWeights above = layer_params(w, cfg, l + 1, xb);
      next_ln1.weight = above.ln1_w, next_ln1.bias = above.ln1_b;
    }
    block_forward(ops, layer_params(w, cfg, l, xb), act, &kv, N, Tn, C, NH, /*ln1_done=*/l > 0,
                  l + 1 < L ? &next_ln1 : nullptr);
  }
  // Only rows that sample this step need the LM head (the sampler puts them first).
  if (logit_rows > 0)
    lm_head_forward(ops, w, cfg, c.logits, c.ln, c.ln_mean, c.ln_rstd, c.x, logit_rows);
}

void gpt_decode_forward(GPT& m, KVCache& c, const int* host_tokens, const int* host_slots, int N,
                        int Tn, int pos0, int logit_rows) {
  gpt_decode_inputs(m, c, host_tokens, host_slots, N, Tn, pos0, logit_rows);
  gpt_decode_ops(m, c, N, Tn, logit_rows);
  // The uploads did not wait: the caller may change host_tokens and host_slots once we return.
  m.ops->synchronize();
}

}  // namespace chamber
