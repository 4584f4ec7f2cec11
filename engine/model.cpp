// GPT-2 forward and backward, written once against the operation table. Read gpt_forward and
// gpt_backward side by side: backward visits the same ops in reverse order. block_forward and
// lm_head_forward are the forward's pieces that the KV-cache sampler (model_decode.cpp) runs too.
#include "engine/model.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "util/bf16.h"
#include "util/util.h"

namespace chamber {

void model_config_finalize(ModelConfig& cfg) {
  if (cfg.vocab_size <= 0) fail("model.vocab_size must be > 0 (or come from the tokenizer)");
  if (cfg.n_layer <= 0 || cfg.n_head <= 0 || cfg.n_embd <= 0 || cfg.context_length <= 0)
    fail("model.n_layer, n_head, n_embd and context_length must all be > 0");
  if (cfg.n_embd % cfg.n_head != 0)
    fail("model.n_embd (", cfg.n_embd, ") must be divisible by model.n_head (", cfg.n_head, ")");
  cfg.padded_vocab = (cfg.vocab_size + 63) / 64 * 64;  // aligned rows for the LM head matmul
}

ModelConfig model_config_of(int vocab_size, int n_layer, int n_head, int n_embd, int context_length) {
  ModelConfig cfg;
  cfg.vocab_size = vocab_size;
  cfg.n_layer = n_layer;
  cfg.n_head = n_head;
  cfg.n_embd = n_embd;
  cfg.context_length = context_length;
  model_config_finalize(cfg);
  return cfg;
}

template <typename T>
std::vector<TensorSlot> parameter_table(const ModelConfig& cfg, ParameterSet<T>& p,
                                        size_t elem_bytes) {
  const int64_t L = cfg.n_layer, C = cfg.n_embd, Vp = cfg.padded_vocab, Tm = cfg.context_length;
  std::vector<TensorSlot> t = {
      {"wte", {Vp, C}, (void**)&p.wte},
      {"wpe", {Tm, C}, (void**)&p.wpe},
      {"h.ln1_w", {L, C}, (void**)&p.ln1_w},
      {"h.ln1_b", {L, C}, (void**)&p.ln1_b},
      {"h.qkv_w", {L, 3 * C, C}, (void**)&p.qkv_w},
      {"h.qkv_b", {L, 3 * C}, (void**)&p.qkv_b},
      {"h.attn_proj_w", {L, C, C}, (void**)&p.attn_proj_w},
      {"h.attn_proj_b", {L, C}, (void**)&p.attn_proj_b},
      {"h.ln2_w", {L, C}, (void**)&p.ln2_w},
      {"h.ln2_b", {L, C}, (void**)&p.ln2_b},
      {"h.fc_w", {L, 4 * C, C}, (void**)&p.fc_w},
      {"h.fc_b", {L, 4 * C}, (void**)&p.fc_b},
      {"h.fc_proj_w", {L, C, 4 * C}, (void**)&p.fc_proj_w},
      {"h.fc_proj_b", {L, C}, (void**)&p.fc_proj_b},
      {"lnf_w", {C}, (void**)&p.lnf_w},
      {"lnf_b", {C}, (void**)&p.lnf_b},
  };
  if (!cfg.tied_embeddings) t.push_back({"lm_head", {Vp, C}, (void**)&p.lm_head});
  else p.lm_head = nullptr;
  t.push_back({"value_w", {C}, (void**)&p.value_w});
  t.push_back({"value_b", {1}, (void**)&p.value_b});
  for (TensorSlot& slot : t) slot.elem_bytes = elem_bytes;
  return t;
}
template std::vector<TensorSlot> parameter_table(const ModelConfig&, ParameterSet<float>&, size_t);
template std::vector<TensorSlot> parameter_table(const ModelConfig&, ParameterSet<xfloat>&, size_t);

bool parameter_decays(const std::string& name) {
  return name == "wte" || name == "wpe" || name == "lm_head" || name == "h.qkv_w" ||
         name == "h.attn_proj_w" || name == "h.fc_w" || name == "h.fc_proj_w";
}

static std::vector<TensorSlot> activation_table(const ModelConfig& cfg, int B, int T,
                                                ActivationTensors& a, bool with_training,
                                                size_t compute_bytes, int64_t logit_rows) {
  const int64_t L = cfg.n_layer, C = cfg.n_embd, NH = cfg.n_head, Vp = cfg.padded_vocab;
  const int64_t BT = (int64_t)B * T;
  std::vector<TensorSlot> t = {
      {"tokens", {BT}, (void**)&a.tokens},
      {"targets", {BT}, (void**)&a.targets},
      {"token_weights", {BT}, (void**)&a.token_weights},
      {"encoded", {BT, C}, (void**)&a.encoded, compute_bytes},
      {"ln1", {L, BT, C}, (void**)&a.ln1, compute_bytes},
      {"ln1_mean", {L, BT}, (void**)&a.ln1_mean},
      {"ln1_rstd", {L, BT}, (void**)&a.ln1_rstd},
      {"qkv", {L, BT, 3 * C}, (void**)&a.qkv, compute_bytes},
      {"atty", {L, BT, C}, (void**)&a.atty, compute_bytes},
      {"lse", {L, B, NH, T}, (void**)&a.lse},
      {"residual2", {L, BT, C}, (void**)&a.residual2, compute_bytes},
      {"ln2", {L, BT, C}, (void**)&a.ln2, compute_bytes},
      {"ln2_mean", {L, BT}, (void**)&a.ln2_mean},
      {"ln2_rstd", {L, BT}, (void**)&a.ln2_rstd},
      {"fch", {L, BT, 4 * C}, (void**)&a.fch, compute_bytes},
      {"fch_gelu", {L, BT, 4 * C}, (void**)&a.fch_gelu, compute_bytes},
      {"residual3", {L, BT, C}, (void**)&a.residual3, compute_bytes},
      {"lnf", {BT, C}, (void**)&a.lnf, compute_bytes},
      {"lnf_mean", {BT}, (void**)&a.lnf_mean},
      {"lnf_rstd", {BT}, (void**)&a.lnf_rstd},
      {"logits", {logit_rows, Vp}, (void**)&a.logits, compute_bytes},
      {"losses", {BT}, (void**)&a.losses},
      {"entropy", {BT}, (void**)&a.entropy},
      {"values", {BT}, (void**)&a.values},
      {"proj_out", {BT, C}, (void**)&a.proj_out, compute_bytes},
  };
  if (with_training) {
    t.push_back({"d_residual", {BT, C}, (void**)&a.d_residual, compute_bytes});
    t.push_back({"d_ln", {BT, C}, (void**)&a.d_ln, compute_bytes});
    t.push_back({"d_qkv", {BT, 3 * C}, (void**)&a.d_qkv, compute_bytes});
    t.push_back({"d_atty", {BT, C}, (void**)&a.d_atty, compute_bytes});
    t.push_back({"d_fch", {BT, 4 * C}, (void**)&a.d_fch, compute_bytes});
  }
  t.push_back({"step_scalars", {2}, (void**)&a.loss_sum, sizeof(double)});  // grad_sumsq: [1]
  if (with_training)
    t.push_back({"kept_steps", {2 * kMaxUnreadSteps}, (void**)&a.kept_steps, sizeof(double)});
  return t;
}

// The floats of one rank's optimizer slice: the arena split into `world` equal parts, each a
// multiple of 16 floats (64 bytes) so every slice starts aligned.
static size_t shard_slice_floats(size_t arena_floats, int world) {
  size_t slice = (arena_floats + world - 1) / world;
  return (slice + 15) / 16 * 16;
}

// The rows of the logits buffer for a (max_B, max_T) arena and a requested cap (0: none).
static int logits_buffer_rows(int max_B, int max_T, int logit_rows) {
  const int all = max_B * max_T;
  return logit_rows > 0 && logit_rows < all ? logit_rows : all;
}

ArenaSizes gpt_arena_sizes(const ModelConfig& cfg_in, int max_B, int max_T, bool with_training,
                           OptimizerShard shard, size_t compute_bytes, int logit_rows) {
  ModelConfig cfg = cfg_in;
  ParameterTensors p{};
  ComputeWeights w{};
  ActivationTensors a{};
  auto pt = parameter_table(cfg, p);
  auto at = activation_table(cfg, max_B, max_T, a, with_training, compute_bytes,
                             logits_buffer_rows(max_B, max_T, logit_rows));
  auto wt = parameter_table(cfg, w, compute_bytes);
  size_t compute_weights = compute_bytes == sizeof(float) ? 0 : arena_plan(wt);
  size_t params = arena_plan(pt), adam = 2 * params;
  if (shard.world > 1) {
    size_t slice = shard_slice_floats(params / sizeof(float), shard.world);
    params = slice * shard.world * sizeof(float);
    adam = 2 * slice * sizeof(float);
  }
  return {params, with_training ? params : 0, with_training ? adam : 0, arena_plan(at),
          compute_weights};
}

void gpt_create(GPT& m, const ModelConfig& cfg, const Ops& ops, int max_B, int max_T,
                bool with_training, OptimizerShard shard, int logit_rows) {
  if (max_T > cfg.context_length)
    fail("sequence length ", max_T, " exceeds model.context_length ", cfg.context_length);
  m.cfg = cfg;
  m.ops = &ops;
  m.compute_bytes = ops.compute_bytes;
  m.acts.kept_steps = nullptr;  // set below for a training model
  m.unread_steps = 0;
  if (m.compute_bytes != sizeof(float) && m.compute_bytes != 2)
    fail("backend '", ops.name, "' has compute type of ", m.compute_bytes,
         " bytes; expected 4 (float) or 2 (bf16)");
  if (m.compute_bytes != sizeof(float) && shard.world > 1)
    fail("bf16 mixed precision with a sharded optimizer (data parallel) is not supported yet: ",
         "each rank would update only its slice of the bf16 weights. Use train.dtype: fp32 with ",
         "more than one rank.");
  m.max_B = max_B;
  m.max_T = max_T;
  m.logit_rows = logits_buffer_rows(max_B, max_T, logit_rows);
  m.param_table = parameter_table(cfg, m.params);
  size_t param_bytes = arena_plan(m.param_table);
  m.num_parameters = 0;
  for (const auto& s : m.param_table) m.num_parameters += s.numel();
  m.shard = shard;
  m.shard_first = 0;
  m.shard_floats = param_bytes / sizeof(float);
  if (shard.world > 1) {
    // Padding after the last tensor (zeros, never updated) makes `world` equal slices.
    m.shard_floats = shard_slice_floats(param_bytes / sizeof(float), shard.world);
    m.shard_first = (size_t)shard.rank * m.shard_floats;
    param_bytes = m.shard_floats * shard.world * sizeof(float);
  }

  m.param_arena = arena_create(ops, param_bytes, "parameters");
  arena_point(m.param_arena, m.param_table);
  // The weights forward and backward read: the master weights themselves in fp32, else their
  // copy in the compute type, laid out by the same table with narrower elements.
  m.compute_table = parameter_table(cfg, m.weights, m.compute_bytes);
  size_t compute_weight_bytes = arena_plan(m.compute_table);
  if (m.compute_bytes == sizeof(float)) {
    arena_point(m.param_arena, m.compute_table);
    m.compute_table.clear();
  } else {
    m.compute_arena = arena_create(ops, compute_weight_bytes, "bf16 weights");
    arena_point(m.compute_arena, m.compute_table);
  }
  if (with_training && shard.world > 1) {
    auto grad_table = parameter_table(cfg, m.grads);
    arena_plan(grad_table);
    m.grad_arena = arena_create(ops, param_bytes, "gradients");
    arena_point(m.grad_arena, grad_table);
    // m and v hold only this rank's slice, which cuts across tensors: no per-tensor views.
    m.m_arena = arena_create(ops, m.shard_floats * sizeof(float), "AdamW m (this rank's slice)");
    m.v_arena = arena_create(ops, m.shard_floats * sizeof(float), "AdamW v (this rank's slice)");
  } else if (with_training) {
    // Gradients and AdamW state reuse the parameter size table, pointed into their own arenas.
    auto grad_table = parameter_table(cfg, m.grads);
    auto m_table = parameter_table(cfg, m.adam_m);
    auto v_table = parameter_table(cfg, m.adam_v);
    arena_plan(grad_table);
    arena_plan(m_table);
    arena_plan(v_table);
    m.grad_arena = arena_create(ops, param_bytes, "gradients");
    m.m_arena = arena_create(ops, param_bytes, "AdamW m");
    m.v_arena = arena_create(ops, param_bytes, "AdamW v");
    arena_point(m.grad_arena, grad_table);
    arena_point(m.m_arena, m_table);
    arena_point(m.v_arena, v_table);
  }
  auto act_table = activation_table(cfg, max_B, max_T, m.acts, with_training, m.compute_bytes,
                                    m.logit_rows);
  size_t act_bytes = arena_plan(act_table);
  m.act_arena = arena_create(ops, act_bytes, "activations");
  arena_point(m.act_arena, act_table);
  m.acts.grad_sumsq = m.acts.loss_sum + 1;

  // AdamW's tensor list: each tensor's part of this process's slice (all of it unsharded), with
  // its place in the bf16 copy, its decay and its rate.
  m.adamw_tensors.clear();
  if (with_training) {
    const size_t slice_end = m.shard_first + m.shard_floats;
    for (size_t k = 0; k < m.param_table.size(); k++) {
      const TensorSlot& slot = m.param_table[k];
      const size_t tensor_first = slot.offset / sizeof(float);
      size_t first = std::max(tensor_first, m.shard_first);
      size_t end = std::min(tensor_first + slot.numel(), slice_end);
      if (first >= end) continue;
      AdamWTensor t{};
      t.param_first = first;
      t.moment_first = first - m.shard_first;
      // The bf16 copy is never sharded (refused above), so its tensor starts where ours does.
      t.compute_first = m.compute_table.empty()
                            ? 0
                            : m.compute_table[k].offset / m.compute_bytes + (first - tensor_first);
      t.count = end - first;
      t.decays = parameter_decays(slot.name);
      t.value_head = slot.name == "value_w" || slot.name == "value_b";
      // Stochastic rounding's seed differs per tensor (and per step, AdamWStep::seed), so no two
      // updates share their rounding noise.
      t.seed_salt = (uint32_t)(k * 0x85EBCA77u);
      m.adamw_tensors.push_back(t);
    }
  }
  const char* graphs_env = std::getenv("CHAMBER_GRAPHS");
  m.use_graphs = !(graphs_env && std::string(graphs_env) == "0");
  m.micro_step_graphs.clear();
}

void gpt_destroy(GPT& m) {
  for (GPT::MicroStepGraph& g : m.micro_step_graphs) gpt_release_captured(*m.ops, g.work);
  m.micro_step_graphs.clear();
  arena_destroy(m.param_arena);
  arena_destroy(m.grad_arena);
  arena_destroy(m.m_arena);
  arena_destroy(m.v_arena);
  arena_destroy(m.act_arena);
  arena_destroy(m.compute_arena);
}

void gpt_init_parameters(GPT& m, uint64_t seed) {
  Rng rng(seed);
  std::vector<float> host(m.param_arena.bytes / sizeof(float), 0.0f);
  const float residual_scale = 1.0f / std::sqrt(2.0f * (float)m.cfg.n_layer);
  for (const auto& slot : m.param_table) {
    float* w = host.data() + slot.offset / sizeof(float);
    size_t n = slot.numel();
    const std::string& name = slot.name;
    if (name == "h.ln1_w" || name == "h.ln2_w" || name == "lnf_w") {
      for (size_t i = 0; i < n; i++) w[i] = 1.0f;
    } else if (parameter_decays(name)) {
      float std = 0.02f;
      if (name == "h.attn_proj_w" || name == "h.fc_proj_w") std *= residual_scale;
      for (size_t i = 0; i < n; i++) w[i] = std * rng.normal();
    }  // biases and the value head start at zero
  }
  // Padded vocabulary rows never receive gradient; zero keeps them inert.
  for (const auto& slot : m.param_table) {
    if (slot.name != "wte" && slot.name != "lm_head") continue;
    float* table = host.data() + slot.offset / sizeof(float);
    std::fill(table + (size_t)m.cfg.vocab_size * m.cfg.n_embd, table + slot.numel(), 0.0f);
  }
  gpt_parameters_from_host(m, host);
}

std::vector<float> gpt_parameters_to_host(const GPT& m) {
  std::vector<float> host(m.param_arena.bytes / sizeof(float));
  m.ops->to_host(host.data(), m.param_arena.base, m.param_arena.bytes);
  return host;
}

void gpt_parameters_from_host(GPT& m, const std::vector<float>& host) {
  if (host.size() * sizeof(float) != m.param_arena.bytes)
    fail("parameter buffer size mismatch: ", host.size() * 4, " bytes vs ", m.param_arena.bytes);
  m.ops->from_host(m.param_arena.base, host.data(), m.param_arena.bytes);
  // The bf16 copy, rounded to nearest from the same host values, tensor by tensor.
  for (size_t i = 0; i < m.compute_table.size(); i++) {
    const TensorSlot& master = m.param_table[i];
    const TensorSlot& copy = m.compute_table[i];
    compute_from_host(*m.ops, *copy.ptr, host.data() + master.offset / sizeof(float), copy.numel());
  }
}

void compute_to_host(const Ops& ops, float* host, const xfloat* src, size_t n) {
  if (ops.compute_bytes == sizeof(float)) return ops.to_host(host, src, n * sizeof(float));
  std::vector<uint16_t> bits(n);
  ops.to_host(bits.data(), src, n * sizeof(uint16_t));
  for (size_t i = 0; i < n; i++) host[i] = bf16_bits_to_float(bits[i]);
}

void compute_from_host(const Ops& ops, xfloat* dst, const float* host, size_t n) {
  if (ops.compute_bytes == sizeof(float)) return ops.from_host(dst, host, n * sizeof(float));
  std::vector<uint16_t> bits(n);
  for (size_t i = 0; i < n; i++) bits[i] = float_to_bf16_bits(host[i]);
  ops.from_host(dst, bits.data(), n * sizeof(uint16_t));
}

// Layer l's slices of the stacked (L, ...) activations, for a forward or backward over (B, T).
// xb is the compute type's size (GPT::compute_bytes).
static BlockActivations layer_activations(const ActivationTensors& a, const ModelConfig& cfg,
                                          int l, int B, int T, size_t xb) {
  const int N = B * T;
  const size_t BTC = (size_t)N * cfg.n_embd;
  BlockActivations x;
  x.residual = l == 0 ? a.encoded : advance(a.residual3, (l - 1) * BTC, xb);
  x.ln1 = advance(a.ln1, l * BTC, xb);
  x.ln1_mean = a.ln1_mean + l * N;
  x.ln1_rstd = a.ln1_rstd + l * N;
  x.qkv = advance(a.qkv, l * 3 * BTC, xb);
  x.atty = advance(a.atty, l * BTC, xb);
  x.lse = a.lse + (size_t)l * B * cfg.n_head * T;
  x.residual2 = advance(a.residual2, l * BTC, xb);
  x.ln2 = advance(a.ln2, l * BTC, xb);
  x.ln2_mean = a.ln2_mean + l * N;
  x.ln2_rstd = a.ln2_rstd + l * N;
  x.fch = advance(a.fch, l * 4 * BTC, xb);
  x.fch_gelu = advance(a.fch_gelu, l * 4 * BTC, xb);
  x.proj_out = a.proj_out;  // shared by every layer: consumed by the add right after
  x.residual3 = advance(a.residual3, l * BTC, xb);
  return x;
}

void fc_gelu_forward(const Ops& ops, xfloat* fch_gelu, xfloat* fch, const xfloat* ln2,
                     const xfloat* fc_w, const xfloat* fc_b, int N, int C) {
  if (supports(ops, OpId::matmul_gelu_forward)) {
    ops.matmul_gelu_forward(fch_gelu, fch, ln2, fc_w, fc_b, N, C, 4 * C);
  } else {
    ops.matmul_forward(fch, ln2, fc_w, fc_b, N, C, 4 * C);
    ops.gelu_forward(fch_gelu, fch, (size_t)N * 4 * C);
  }
}

void gelu_fc_proj_backward(const Ops& ops, xfloat* d_fch, float* d_fc_proj_w, float* d_fc_proj_b,
                           const xfloat* d_out, const xfloat* fch_gelu, const xfloat* fch,
                           const xfloat* fc_proj_w, int N, int C) {
  if (supports(ops, OpId::matmul_gelu_backward)) {
    ops.matmul_gelu_backward(d_fch, d_fc_proj_w, d_fc_proj_b, d_out, fch_gelu, fch, fc_proj_w, N,
                             4 * C, C);
  } else {
    ops.matmul_backward(d_fch, d_fc_proj_w, d_fc_proj_b, d_out, fch_gelu, fc_proj_w, N, 4 * C, C);
    ops.gelu_backward(d_fch, fch, d_fch, (size_t)N * 4 * C);  // in place (kernels/ops.h)
  }
}

// residual_out = a + b, then ln_out = LayerNorm(residual_out) with its statistics: one fused op
// where the backend has one, else the two ops (the same bits either way, kernels/ops.h).
static void residual_layernorm_forward(const Ops& ops, xfloat* residual_out, xfloat* ln_out,
                                       float* mean, float* rstd, const xfloat* a, const xfloat* b,
                                       const xfloat* weight, const xfloat* bias, int N, int C) {
  if (supports(ops, OpId::residual_layernorm_forward)) {
    ops.residual_layernorm_forward(residual_out, ln_out, mean, rstd, a, b, weight, bias, N, C);
  } else {
    ops.residual_forward(residual_out, a, b, (size_t)N * C);
    ops.layernorm_forward(ln_out, mean, rstd, residual_out, weight, bias, N, C);
  }
}

void block_forward(const Ops& ops, const LayerWeights& w, const BlockActivations& a,
                   const LayerKV* kv, int B, int T, int C, int NH, bool ln1_done,
                   const NextLayerNorm* next) {
  const int N = B * T;
  if (!ln1_done)
    ops.layernorm_forward(a.ln1, a.ln1_mean, a.ln1_rstd, a.residual, w.ln1_w, w.ln1_b, N, C);
  ops.matmul_forward(a.qkv, a.ln1, w.qkv_w, w.qkv_b, N, C, 3 * C);
  if (kv)
    ops.attention_decode(a.atty, kv->k, kv->v, a.qkv, kv->slots, kv->pos, B, T, C, NH, kv->max_len);
  else
    ops.attention_forward(a.atty, a.lse, a.qkv, B, T, C, NH);
  ops.matmul_forward(a.proj_out, a.atty, w.attn_proj_w, w.attn_proj_b, N, C, C);
  residual_layernorm_forward(ops, a.residual2, a.ln2, a.ln2_mean, a.ln2_rstd, a.residual,
                             a.proj_out, w.ln2_w, w.ln2_b, N, C);
  fc_gelu_forward(ops, a.fch_gelu, a.fch, a.ln2, w.fc_w, w.fc_b, N, C);
  ops.matmul_forward(a.proj_out, a.fch_gelu, w.fc_proj_w, w.fc_proj_b, N, 4 * C, C);
  if (next)
    residual_layernorm_forward(ops, a.residual3, next->out, next->mean, next->rstd, a.residual2,
                               a.proj_out, next->weight, next->bias, N, C);
  else
    ops.residual_forward(a.residual3, a.residual2, a.proj_out, (size_t)N * C);
}

void lm_head_forward(const Ops& ops, const ComputeWeights& w, const ModelConfig& cfg,
                     xfloat* logits, xfloat* lnf, float* lnf_mean, float* lnf_rstd, const xfloat* x,
                     int N) {
  const int C = cfg.n_embd;
  ops.layernorm_forward(lnf, lnf_mean, lnf_rstd, x, w.lnf_w, w.lnf_b, N, C);
  lm_head_product(ops, w, cfg, logits, lnf, N);
}

void lm_head_product(const Ops& ops, const ComputeWeights& w, const ModelConfig& cfg,
                     xfloat* logits, const xfloat* lnf, int N) {
  const xfloat* lm_head = cfg.tied_embeddings ? w.wte : w.lm_head;
  ops.matmul_forward(logits, lnf, lm_head, nullptr, N, cfg.n_embd, cfg.padded_vocab);
}

// The profiler range of one block, "layer 3". The name is formatted only when a profiler listens:
// this runs for every layer of every forward and backward.
struct LayerRange {
  const Ops& ops;
  LayerRange(const Ops& o, int l) : ops(o) {
    if (!supports(ops, OpId::range_push)) return;
    char name[24];
    std::snprintf(name, sizeof(name), "layer %d", l);
    ops.range_push(name);
  }
  ~LayerRange() {
    if (supports(ops, OpId::range_pop)) ops.range_pop();
  }
};

// The batch shape a forward will use, checked against the arenas, and its tokens.
static void check_batch(const GPT& m, const int* tokens, int B, int T) {
  if (B > m.max_B || T > m.max_T)
    fail("batch (", B, ", ", T, ") exceeds the planned activations (", m.max_B, ", ", m.max_T, ")");
  for (int i = 0; i < B * T; i++)
    if (tokens[i] < 0 || tokens[i] >= m.cfg.vocab_size)
      fail("token id ", tokens[i], " at position ", i, " is outside the vocabulary (", m.cfg.vocab_size, ")");
}

// The forward's ops over the tokens already in acts.tokens (no host traffic: a graph can hold it).
// with_logits: the LM head's product into acts.logits too (else the forward stops at ln_f and
// the value head, and lm_head_chunks makes the logits).
static void forward_ops(GPT& m, int B, int T, bool with_logits) {
  const Ops& ops = *m.ops;
  NamedRange phase(ops, "forward");
  const ModelConfig& cfg = m.cfg;
  m.B = B;
  m.T = T;
  const int C = cfg.n_embd, NH = cfg.n_head, L = cfg.n_layer, N = B * T;
  const size_t xb = m.compute_bytes;
  ActivationTensors& a = m.acts;
  const ComputeWeights& w = m.weights;

  ops.encoder_forward(a.encoded, a.tokens, w.wte, w.wpe, B, T, C);
  // Each block's last residual add is fused with the LayerNorm that reads its output: the next
  // block's ln1, or ln_f after the last (one pass over the rows instead of two, the same bits).
  for (int l = 0; l < L; l++) {
    LayerRange layer(ops, l);
    const LayerKV* no_cache = nullptr;  // attention over whole sequences, keeping lse for backward
    NextLayerNorm next{a.lnf, a.lnf_mean, a.lnf_rstd, w.lnf_w, w.lnf_b};
    if (l + 1 < L) {
      BlockActivations above = layer_activations(a, cfg, l + 1, B, T, xb);
      LayerWeights above_w = layer_params(w, cfg, l + 1, xb);
      next = {above.ln1, above.ln1_mean, above.ln1_rstd, above_w.ln1_w, above_w.ln1_b};
    }
    block_forward(ops, layer_params(w, cfg, l, xb), layer_activations(a, cfg, l, B, T, xb),
                  no_cache, B, T, C, NH, /*ln1_done=*/l > 0, &next);
  }
  if (with_logits) lm_head_product(ops, w, cfg, a.logits, a.lnf, N);
  if (cfg.value_head) ops.value_head_forward(a.values, a.lnf, w.value_w, w.value_b, N, C);
}

void gpt_forward(GPT& m, const int* tokens, int B, int T) {
  check_batch(m, tokens, B, T);
  if (B * T > m.logit_rows)
    fail("gpt_forward: this model keeps logits for ", m.logit_rows, " rows, fewer than the batch's ",
         B * T, " (it computes them in chunks: use gpt_train_micro_step or gpt_eval_loss)");
  m.ops->from_host(m.acts.tokens, tokens, (size_t)B * T * sizeof(int));
  forward_ops(m, B, T, true);
}

// acts.loss_sum, read back: the classifier's and evaluation's loss in one small copy.
static double read_loss_sum(const GPT& m) {
  double loss = 0.0;
  m.ops->to_host(&loss, m.acts.loss_sum, sizeof(double));
  return loss;
}

// The LM head, the classifier and the loss sum over the N rows of acts.lnf, in chunks of
// m.logit_rows rows through the one logits buffer; with_grad: each chunk's logits gradient goes
// straight back through the LM head (d_ln's rows written, the head's weight gradient added), so
// no more than a chunk of logits ever exists. weights: backend token weights or null (weight 1).
static void lm_head_chunks(GPT& m, int N, const float* weights, bool with_grad) {
  const Ops& ops = *m.ops;
  NamedRange phase(ops, "classifier");
  const ModelConfig& cfg = m.cfg;
  const int C = cfg.n_embd, Vp = cfg.padded_vocab;
  const size_t xb = m.compute_bytes;
  ActivationTensors& a = m.acts;
  const xfloat* lm_head = cfg.tied_embeddings ? m.weights.wte : m.weights.lm_head;
  float* d_lm_head = cfg.tied_embeddings ? m.grads.wte : m.grads.lm_head;
  for (int r0 = 0; r0 < N; r0 += m.logit_rows) {
    const int rows = std::min(m.logit_rows, N - r0);
    const xfloat* lnf = advance(a.lnf, (size_t)r0 * C, xb);
    const float* w = weights ? weights + r0 : nullptr;
    ops.matmul_forward(a.logits, lnf, lm_head, nullptr, rows, C, Vp);
    ops.classifier_forward_backward(a.logits, a.losses + r0, a.entropy + r0, a.targets + r0, w,
                                    rows, cfg.vocab_size, Vp, with_grad);
    ops.loss_sum(a.loss_sum, a.losses + r0, w, a.targets + r0, rows);
    if (with_grad)
      ops.matmul_backward(advance(a.d_ln, (size_t)r0 * C, xb), d_lm_head, nullptr, a.logits, lnf,
                          lm_head, rows, C, Vp);
  }
}

double gpt_eval_loss(GPT& m, const int* tokens, const int* targets, int B, int T) {
  check_batch(m, tokens, B, T);
  const Ops& ops = *m.ops;
  const size_t N = (size_t)B * T;
  ops.from_host(m.acts.tokens, tokens, N * sizeof(int));
  ops.from_host(m.acts.targets, targets, N * sizeof(int));
  forward_ops(m, B, T, false);
  ops.zero(m.acts.loss_sum, sizeof(double));
  lm_head_chunks(m, B * T, nullptr, false);
  return read_loss_sum(m);
}

double gpt_classifier(GPT& m, const int* targets, const float* token_weights, bool with_grad) {
  const Ops& ops = *m.ops;
  NamedRange phase(ops, "classifier");
  const int N = m.B * m.T;
  if (with_grad && !token_weights) fail("gpt_classifier: token_weights are required with gradients");
  ActivationTensors& a = m.acts;
  ops.from_host(a.targets, targets, (size_t)N * sizeof(int));
  if (token_weights) ops.from_host(a.token_weights, token_weights, (size_t)N * sizeof(float));
  const float* weights = token_weights ? a.token_weights : nullptr;
  ops.classifier_forward_backward(a.logits, a.losses, a.entropy, a.targets, weights, N,
                                  m.cfg.vocab_size, m.cfg.padded_vocab, with_grad);
  ops.zero(a.loss_sum, sizeof(double));
  ops.loss_sum(a.loss_sum, a.losses, weights, a.targets, N);
  return read_loss_sum(m);
}

// The backward's ops (no host traffic: a graph can hold it); with_values: acts.values holds the
// value head's output gradient; lm_head_done: lm_head_chunks already wrote d_ln and the head's
// weight gradient.
static void backward_ops(GPT& m, bool with_values, bool lm_head_done) {
  const Ops& ops = *m.ops;
  NamedRange phase(ops, "backward");
  const ModelConfig& cfg = m.cfg;
  const int B = m.B, T = m.T, C = cfg.n_embd, NH = cfg.n_head, L = cfg.n_layer, N = B * T;
  const size_t BTC = (size_t)N * C, xb = m.compute_bytes;
  ActivationTensors& a = m.acts;
  const ComputeWeights& p = m.weights;
  const ParameterTensors& g = m.grads;
  if (!g.wte) fail("gpt_backward: the model was created without training buffers");

  // Activation gradients with one producer are written by it (kernels/ops.h), so none is zeroed
  // first. LM head and value head both read lnf: the LM head's matmul writes d_ln and the value
  // head adds to it.
  const xfloat* lm_head = cfg.tied_embeddings ? p.wte : p.lm_head;
  float* d_lm_head = cfg.tied_embeddings ? g.wte : g.lm_head;
  if (!lm_head_done)
    ops.matmul_backward(a.d_ln, d_lm_head, nullptr, a.logits, a.lnf, lm_head, N, C, cfg.padded_vocab);
  if (with_values && cfg.value_head) {
    ops.value_head_backward(a.d_ln, g.value_w, g.value_b, a.values, a.lnf, p.value_w, N, C);
  }
  // d_residual carries the gradient of the residual stream down through the layers. A residual
  // add passes its gradient through unchanged, so each branch's input gradient is simply added
  // into d_residual by the branch's LayerNorm backward, which accumulates: the one memset of
  // the backward pass.
  ops.zero(a.d_residual, BTC * xb);
  ops.layernorm_backward(a.d_residual, g.lnf_w, g.lnf_b, a.d_ln,
                         advance(a.residual3, (L - 1) * BTC, xb), p.lnf_w, a.lnf_mean, a.lnf_rstd,
                         N, C);
  for (int l = L - 1; l >= 0; l--) {
    LayerWeights w = layer_params(p, cfg, l, xb);
    LayerGrads dw = layer_params(g, cfg, l);
    BlockActivations act = layer_activations(a, cfg, l, B, T, xb);
    LayerRange layer(ops, l);

    // MLP branch: residual3 = residual2 + fc_proj(gelu(fc(ln2(residual2))))
    gelu_fc_proj_backward(ops, a.d_fch, dw.fc_proj_w, dw.fc_proj_b, a.d_residual, act.fch_gelu,
                          act.fch, w.fc_proj_w, N, C);
    ops.matmul_backward(a.d_ln, dw.fc_w, dw.fc_b, a.d_fch, act.ln2, w.fc_w, N, C, 4 * C);
    ops.layernorm_backward(a.d_residual, dw.ln2_w, dw.ln2_b, a.d_ln, act.residual2, w.ln2_w,
                           act.ln2_mean, act.ln2_rstd, N, C);

    // Attention branch: residual2 = residual + attn_proj(attention(qkv(ln1(residual))))
    ops.matmul_backward(a.d_atty, dw.attn_proj_w, dw.attn_proj_b, a.d_residual, act.atty,
                        w.attn_proj_w, N, C, C);
    ops.attention_backward(a.d_qkv, a.d_atty, act.qkv, act.atty, act.lse, B, T, C, NH);
    ops.matmul_backward(a.d_ln, dw.qkv_w, dw.qkv_b, a.d_qkv, act.ln1, w.qkv_w, N, C, 3 * C);
    ops.layernorm_backward(a.d_residual, dw.ln1_w, dw.ln1_b, a.d_ln, act.residual, w.ln1_w,
                           act.ln1_mean, act.ln1_rstd, N, C);
    if (m.on_layer_gradients) m.on_layer_gradients(l);   // layer l's weights get no more gradient
  }
  ops.encoder_backward(g.wte, g.wpe, a.d_residual, a.tokens, B, T, C);
}

void gpt_backward(GPT& m, const float* dvalues) {
  if (!m.grads.wte) fail("gpt_backward: the model was created without training buffers");
  const bool with_values = dvalues && m.cfg.value_head;
  if (with_values) m.ops->from_host(m.acts.values, dvalues, (size_t)m.B * m.T * sizeof(float));
  backward_ops(m, with_values, false);
}

// ---- the training step without host round trips ----

void gpt_step_begin(GPT& m) {
  gpt_zero_grad(m);
  m.ops->zero(m.acts.loss_sum, sizeof(double));
}

// One micro-step's device work: forward to ln_f, the LM head, classifier (with gradients), loss
// sum and the LM head's backward chunk by chunk, then the rest of backward.
static void micro_step_ops(GPT& m, int B, int T) {
  forward_ops(m, B, T, false);
  lm_head_chunks(m, B * T, m.acts.token_weights, true);
  backward_ops(m, false, true);
}

void gpt_train_micro_step(GPT& m, const int* tokens, const int* targets,
                          const float* token_weights, int B, int T) {
  if (!m.grads.wte) fail("gpt_train_micro_step: the model was created without training buffers");
  if (!targets || !token_weights) fail("gpt_train_micro_step: targets and token_weights are required");
  check_batch(m, tokens, B, T);
  const Ops& ops = *m.ops;
  ActivationTensors& a = m.acts;
  const size_t N = (size_t)B * T;
  ops.from_host_async(a.tokens, tokens, N * sizeof(int));
  ops.from_host_async(a.targets, targets, N * sizeof(int));
  ops.from_host_async(a.token_weights, token_weights, N * sizeof(float));
  // Op by op while data parallel's per-layer callback must run on the host in the middle of
  // backward; else one graph per batch shape (gpt_run_captured).
  if (m.on_layer_gradients) return micro_step_ops(m, B, T);
  auto it = std::find_if(m.micro_step_graphs.begin(), m.micro_step_graphs.end(),
                         [&](const GPT::MicroStepGraph& g) { return g.B == B && g.T == T; });
  if (it == m.micro_step_graphs.end()) it = m.micro_step_graphs.insert(it, {B, T, {}});
  gpt_run_captured(m, it->work, [&] { micro_step_ops(m, B, T); });
  m.B = B, m.T = T;  // a replay sets no host state
}

void gpt_run_captured(const GPT& m, CapturedWork& captured, const std::function<void()>& work) {
  const Ops& ops = *m.ops;
  if (!supports(ops, OpId::capture_begin) || !m.use_graphs) return work();
  if (captured.runs++ == 0) return work();
  if (captured.graph && ops.graph_launch(captured.graph)) return;
  gpt_release_captured(ops, captured);
  captured.graph = gpt_capture(m, work);
  if (!ops.graph_launch(captured.graph)) fail("a CUDA graph went stale as it was made");
}

void gpt_release_captured(const Ops& ops, CapturedWork& captured) {
  if (captured.graph) ops.graph_destroy(captured.graph);
  captured.graph = nullptr;
}

void* gpt_capture(const GPT& m, const std::function<void()>& work) {
  const Ops& ops = *m.ops;
  ops.capture_begin();
  try {
    work();
  } catch (...) {
    try {
      ops.graph_destroy(ops.capture_end());
    } catch (...) {  // an invalidated capture ends with an error of its own: the first one counts
    }
    throw;
  }
  return ops.capture_end();
}

StepScalars gpt_read_step(GPT& m) {
  double scalars[2];
  m.ops->to_host(scalars, m.acts.loss_sum, sizeof(scalars));
  return {scalars[0], std::sqrt(scalars[1])};
}

void gpt_keep_step(GPT& m) {
  if (!m.acts.kept_steps) fail("gpt_keep_step: the model was created without training buffers");
  if (m.unread_steps >= kMaxUnreadSteps)
    fail("gpt_keep_step: ", kMaxUnreadSteps,
         " steps are kept unread; call gpt_read_kept_steps first");
  m.ops->copy(m.acts.kept_steps + 2 * m.unread_steps, m.acts.loss_sum, 2 * sizeof(double));
  m.unread_steps++;
}

std::vector<StepScalars> gpt_read_kept_steps(GPT& m) {
  std::vector<double> scalars(2 * (size_t)m.unread_steps);
  if (m.unread_steps > 0)
    m.ops->to_host(scalars.data(), m.acts.kept_steps, scalars.size() * sizeof(double));
  std::vector<StepScalars> steps(m.unread_steps);
  for (int i = 0; i < m.unread_steps; i++)
    steps[i] = {scalars[2 * i], std::sqrt(scalars[2 * i + 1])};
  m.unread_steps = 0;
  return steps;
}

void gpt_queue_train_step(GPT& m, const int* tokens, const int* targets,
                          const float* token_weights, int B, int T, AdamWSettings settings) {
  gpt_step_begin(m);
  gpt_train_micro_step(m, tokens, targets, token_weights, B, T);
  gpt_compute_grad_norm(m);
  settings.clip_by_device_norm = true;
  gpt_adamw_step(m, settings);
}

StepScalars gpt_train_step(GPT& m, const int* tokens, const int* targets,
                           const float* token_weights, int B, int T, AdamWSettings settings) {
  gpt_queue_train_step(m, tokens, targets, token_weights, B, T, settings);
  return gpt_read_step(m);
}

void gpt_zero_grad(GPT& m) { m.ops->zero(m.grad_arena.base, m.grad_arena.bytes); }

void gpt_compute_grad_norm(GPT& m) {
  NamedRange phase(*m.ops, "grad_norm");
  // The arena is contiguous floats (padding between tensors is zero), so one reduction covers all.
  m.ops->sum_squares(m.acts.grad_sumsq, (const float*)m.grad_arena.base,
                     m.grad_arena.bytes / sizeof(float));
}

double gpt_grad_norm(GPT& m) {
  gpt_compute_grad_norm(m);
  double sumsq = 0.0;
  m.ops->to_host(&sumsq, m.acts.grad_sumsq, sizeof(double));
  return std::sqrt(sumsq);
}

void gpt_adamw_step(GPT& m, const AdamWSettings& s) {
  NamedRange phase(*m.ops, "optimizer");
  m.adam_step++;
  AdamWStep step{};
  step.lr = s.lr;
  step.value_head_lr = s.value_head_lr ? *s.value_head_lr : s.lr;
  step.beta1 = s.beta1, step.beta2 = s.beta2, step.eps = s.eps;
  step.weight_decay = s.weight_decay;
  step.grad_scale = s.grad_scale;
  step.max_grad_norm = s.clip_by_device_norm ? s.max_grad_norm : 0.0f;
  step.t = m.adam_step;
  step.seed = (uint32_t)(m.adam_step * 0x9E3779B1u);
  // The bf16 copy (null in fp32) is rewritten as the master weights are updated.
  xfloat* compute_copy = m.compute_table.empty() ? nullptr : m.compute_arena.base;
  m.ops->adamw_update((float*)m.param_arena.base, (const float*)m.grad_arena.base,
                      (float*)m.m_arena.base, (float*)m.v_arena.base, compute_copy,
                      m.adamw_tensors.data(), (int)m.adamw_tensors.size(), step,
                      s.clip_by_device_norm ? m.acts.grad_sumsq : nullptr);
}

void gpt_copy_losses(const GPT& m, float* host) {
  m.ops->to_host(host, m.acts.losses, (size_t)m.B * m.T * sizeof(float));
}
void gpt_copy_entropy(const GPT& m, float* host) {
  m.ops->to_host(host, m.acts.entropy, (size_t)m.B * m.T * sizeof(float));
}
void gpt_copy_values(const GPT& m, float* host) {
  m.ops->to_host(host, m.acts.values, (size_t)m.B * m.T * sizeof(float));
}
void gpt_copy_logits_row(const GPT& m, int b, int t, float* host) {
  size_t row = (size_t)b * m.T + t;
  compute_to_host(*m.ops, host, advance(m.acts.logits, row * m.cfg.padded_vocab, m.compute_bytes),
                  (size_t)m.cfg.vocab_size);
}

}  // namespace chamber
