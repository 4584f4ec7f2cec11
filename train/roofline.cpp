#include "train/roofline.h"

#include <sys/mman.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <vector>

#include "util/util.h"
#include "kernels/attention.h"
#include "train/profile.h"

namespace chamber {

namespace {
constexpr double kMatmulEfficiency = 0.7, kMemoryEfficiency = 0.8;
}  // namespace

RooflineDevice roofline_device(const std::string& gpu, const std::string& dtype) {
  RooflineDevice d;
  double bandwidth = 0;
  if (gpu == "h100") d.name = "H100 SXM", bandwidth = 3.35e12;
  else if (gpu == "h200") d.name = "H200 SXM", bandwidth = 4.8e12;
  else fail("roofline: unknown GPU '", gpu, "': expected h100 or h200");
  d.bytes_per_s = bandwidth;
  if (dtype == "fp32") d.matmul_flops = 494.5e12, d.element_bytes = 4, d.name += ", fp32 (TF32 products)";
  else if (dtype == "bf16") d.matmul_flops = 989e12, d.element_bytes = 2, d.name += ", bf16";
  else fail("roofline: unknown dtype '", dtype, "': expected fp32 or bf16");
  return d;
}

static double compute_s(const OpCost& c, const RooflineDevice& d) {
  return c.flops / (kMatmulEfficiency * d.matmul_flops);
}
static double memory_s(const OpCost& c, const RooflineDevice& d) {
  return c.bytes / (kMemoryEfficiency * d.bytes_per_s);
}
static double launch_s(const OpCost& c, const RooflineDevice& d) {
  return d.graph ? 0.0 : c.launches * d.launch_s;
}

double predicted_seconds(const OpCost& c, const RooflineDevice& d) {
  return std::max(compute_s(c, d), memory_s(c, d)) + launch_s(c, d);
}

const char* bound_of(const OpCost& c, const RooflineDevice& d) {
  double compute = compute_s(c, d), memory = memory_s(c, d);
  if (launch_s(c, d) > std::max(compute, memory)) return "launch";
  return compute >= memory ? "compute" : "memory";
}

OpCost cost_encoder_forward(int B, int T, int C, double S) {
  double N = (double)B * T;
  return {0, N * C * S * 2 + (double)T * C * S + N * 4, 1};  // wte rows, out, wpe, tokens
}
OpCost cost_encoder_backward(int B, int T, int C, double S) {
  double N = (double)B * T;
  return {0, N * C * S * 3 + (double)T * C * S * 2 + N * 4, 2};  // dout, dwte rows +=, dwpe +=
}
OpCost cost_layernorm_forward(int N, int C, double S) {
  return {8.0 * N * C, (double)N * C * S * 2 + 2.0 * C * S + 2.0 * N * 4, 1};
}
OpCost cost_layernorm_backward(int N, int C, double S) {
  // dout and inp read, dinp accumulated, mean and rstd read, dweight and dbias accumulated: one
  // launch, as kernels/layernorm.cu issues it (the per-block partial sums of dweight and dbias
  // are added up by the last blocks to finish, in the same launch).
  return {12.0 * N * C, (double)N * C * S * 4 + 2.0 * N * 4 + 5.0 * C * S, 1};
}
OpCost cost_residual_layernorm_forward(int N, int C, double S) {
  // a, b, weight and bias read; residual_out and ln_out written, mean and rstd written; one
  // launch (the sum of a and b is LayerNorm's input, never read back from memory).
  return {9.0 * N * C, (double)N * C * S * 4 + 2.0 * C * S + 2.0 * N * 4, 1};
}
OpCost cost_matmul_forward(int N, int C, int OC, bool bias, double S) {
  return {2.0 * N * C * OC, ((double)N * C + (double)OC * C + (double)N * OC + (bias ? OC : 0)) * S, 1};
}
OpCost cost_matmul_gelu_forward(int N, int C, int OC, double S) {
  OpCost c = cost_matmul_forward(N, C, OC, true, S);
  c.bytes += (double)N * OC * S;  // the pre-activation, kept for backward
  return c;
}
OpCost cost_matmul_backward(int N, int C, int OC, bool dinp, bool dbias, double S) {
  // dweight += dout^T inp; dinp = dout weight (written, never read: one producer); dbias +=
  // column sums of dout, summed by dweight's product as dout passes through it (the BGRADB
  // epilogue, kernels/matmul.cu) into float scratch, then added: OC floats written, read, and
  // dbias read and written, in one small launch.
  OpCost c{2.0 * N * C * OC, ((double)N * OC + (double)N * C + 2.0 * OC * C) * S, 1};
  if (dinp) c += {2.0 * N * C * OC, ((double)N * OC + (double)OC * C + (double)N * C) * S, 1};
  if (dbias) c += {(double)N * OC, 4.0 * OC * sizeof(float), 1};
  return c;
}

OpCost cost_matmul_gelu_backward(int N, int C, int OC, bool dbias, double S) {
  OpCost c = cost_matmul_backward(N, C, OC, true, dbias, S);
  c.bytes += (double)N * C * S;  // the pre-activation, read by the DGELU epilogue
  return c;
}

static bool materialized(int B, int T, int NH, int hs, const RooflineDevice& d) {
  if (d.attention == "materialized") return true;
  if (d.attention == "flash") return false;
  return attention_auto_is_materialized(B, T, NH, hs, (size_t)d.element_bytes);  // as the GPU
}

OpCost cost_attention_forward(int B, int T, int C, int NH, const RooflineDevice& d) {
  const double S = d.element_bytes, hs = (double)C / NH, heads = (double)B * NH, N = (double)B * T;
  const double io = 3 * N * C * S + N * C * S + heads * T * 4;  // qkv in; out and lse out
  if (materialized(B, T, NH, C / NH, d)) {
    // Full T x T products (the masked half is computed too); the scores are written, read and
    // rewritten by the softmax, and read by the product with V.
    double scores = heads * T * (double)T * S;
    return {2 * 2 * heads * T * (double)T * hs, io + 4 * scores, 2 * B + 1};
  }
  double pairs = heads * T * (T + 1.0) / 2;  // the causal triangle only
  return {2 * 2 * pairs * hs, io, 1};
}

OpCost cost_attention_backward(int B, int T, int C, int NH, const RooflineDevice& d) {
  const double S = d.element_bytes, hs = (double)C / NH, heads = (double)B * NH, N = (double)B * T;
  // qkv and dout read, dqkv written (one producer: never read), lse read.
  const double io = 3 * N * C * S + N * C * S + 3 * N * C * S + heads * T * 4;
  if (materialized(B, T, NH, C / NH, d)) {
    // Five full products (scores recomputed, dP, dV, dQ, dK) and nine passes over T x T
    // (scores written; p rewritten; dP written; p read for dV; p and dP read and ds written by
    // the softmax backward; ds read for dQ and for dK).
    double scores = heads * T * (double)T * S;
    return {5 * 2 * heads * T * (double)T * hs, io + 9 * scores, 5 * B + 2};
  }
  // Seven products over the causal triangle, out read for D: the five of the gradient plus S
  // and dP again, since the dQ kernel recomputes them rather than adding dQ across key tiles
  // with atomics (kernels/attention.cu, attention_bf16.cu).
  double pairs = heads * T * (T + 1.0) / 2;
  return {7 * 2 * pairs * hs, io + N * C * S + heads * T * 4, 3};
}

OpCost cost_elementwise(size_t n, int tensors, double S) { return {0, (double)n * tensors * S, 1}; }
OpCost cost_classifier(int N, int Vp, double S) {
  // Logits read, their gradient written in place; per row a target, a weight and a loss.
  return {6.0 * N * Vp, 2.0 * N * Vp * S + 12.0 * N, 1};
}
OpCost cost_value_head(int N, int C, double S) { return {2.0 * N * C, (double)N * C * S + 8.0 * N, 1}; }
OpCost cost_sum_squares(size_t n) { return {2.0 * n, 4.0 * n, 2}; }
OpCost cost_loss_sum(int N) { return {2.0 * N, 12.0 * N, 1}; }  // loss, weight, target per row
OpCost cost_adamw(size_t n, double S) {
  // fp32 master weights, m and v read and written, the fp32 gradient read; in bf16 also the bf16
  // copy of the weights written for the next forward. One launch over every tensor.
  return {12.0 * n, (double)n * (7 * 4 + (S < 4 ? S : 0)), 1};
}
OpCost cost_memory(size_t bytes) { return {0, (double)bytes, 1}; }

double model_flops_per_token(long long params_without_wpe, int L, int C, int T) {
  return 6.0 * (double)params_without_wpe + 6.0 * L * C * (double)T;
}

namespace {
std::map<void*, size_t> g_mappings;

void* reserve(size_t bytes) {
  size_t size = bytes ? bytes : 64;
  void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                 -1, 0);
  if (p == MAP_FAILED) fail("bench_roofline: could not reserve ", human_bytes((double)size), " of address space");
  g_mappings[p] = size;
  return p;
}

// The backend that computes nothing: every op returns at once; reads back zeros. It has every op
// of the list, the fused fc + GELU too (as the GPU, whose shapes it stands for).
Ops make_shape_only_ops() {
  Ops ops{};
  ops.name = "shapes only";
  ops.compute_bytes = sizeof(float);
#define CHAMBER_DO_NOTHING(name, phase, ret, params) \
  ops.name = [](auto...) -> ret {                    \
    using Result = ret;                              \
    return Result();                                 \
  };
  CHAMBER_OPS(CHAMBER_DO_NOTHING)
#undef CHAMBER_DO_NOTHING
  // Memory is reserved address space, so that a model of any size "fits".
  ops.alloc = reserve;
  ops.free = [](void* p) {
    auto it = g_mappings.find(p);
    if (it != g_mappings.end()) munmap(p, it->second), g_mappings.erase(it);
  };
  ops.to_host = [](void* dst, const void*, size_t n) { std::memset(dst, 0, n); };
  // Graphs as the GPU has them: the engine captures its micro-steps (profiled_ops with
  // predict_graphs counts no launches inside a capture).
  static char a_graph;
  ops.capture_end = []() -> void* { return &a_graph; };
  ops.graph_launch = [](void*) { return true; };
  return ops;
}

}  // namespace

const Ops& shape_only_ops() {
  static const Ops ops = make_shape_only_ops();
  return ops;
}

RooflineStep predict_step(const ModelConfig& cfg, int B, int T) {
  const Ops& ops = profiled_ops(shape_only_ops(), /*predict_graphs=*/true);
  GPT model;
  gpt_create(model, cfg, ops, B, T, true, {}, kPretrainLogitRows);
  const int N = B * T;
  std::vector<int> tokens(N, 0), targets(N, 0);
  std::vector<float> weights(N, 1.0f / N);
  // The pretraining step as train/pretrain.cpp runs it. A shape's first micro-step runs op by op
  // and its second is captured (gpt_train_micro_step): the steady step is the captured one.
  const AdamWSettings adamw{.lr = 1e-4f, .beta1 = 0.9f, .beta2 = 0.95f, .eps = 1e-8f,
                            .weight_decay = 0.1f, .max_grad_norm = 1.0f};
  gpt_train_step(model, tokens.data(), targets.data(), weights.data(), B, T, adamw);
  reset_profile();  // the steady step only, not the warm-up or the arenas' zeroing at creation
  gpt_train_step(model, tokens.data(), targets.data(), weights.data(), B, T, adamw);
  RooflineStep step;
  step.seconds = profile_predicted_seconds();
  step.cost = profile_total_cost();
  long long params = (long long)model.num_parameters - (long long)cfg.context_length * cfg.n_embd;
  step.model_flops_per_token = model_flops_per_token(params, cfg.n_layer, cfg.n_embd, T);
  gpt_destroy(model);
  return step;
}

}  // namespace chamber
