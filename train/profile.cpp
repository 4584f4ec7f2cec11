#include "train/profile.h"

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "util/util.h"
#include "train/roofline.h"

namespace chamber {

namespace {

const Ops* g_inner = nullptr;
Ops g_profiled;

enum OpId {
  kEncoderFwd, kEncoderBwd, kLayerNormFwd, kLayerNormBwd, kMatmulFwd, kMatmulBwd, kAttentionFwd,
  kAttentionBwd, kGeluFwd, kGeluBwd, kResidualFwd, kResidualBwd, kClassifier, kValueFwd, kValueBwd,
  kSumSquares, kAdamW, kMemory, kMatmulGeluFwd, kNumOps
};
const char* kOpNames[kNumOps] = {
    "encoder_forward", "encoder_backward", "layernorm_forward", "layernorm_backward",
    "matmul_forward", "matmul_backward", "attention_forward", "attention_backward",
    "gelu_forward", "gelu_backward", "residual_forward", "residual_backward",
    "classifier_forward_backward", "value_head_forward", "value_head_backward", "sum_squares",
    "adamw_update", "memory (zero/copy)", "matmul_gelu_forward"};
const char* kPhase[kNumOps] = {"forward", "backward", "forward", "backward", "forward", "backward",
                               "forward", "backward", "forward", "backward", "forward", "backward",
                               "classifier", "forward", "backward", "optimizer", "optimizer", "memory",
                               "forward"};
double g_seconds[kNumOps];
long g_calls[kNumOps];
OpCost g_cost[kNumOps];        // summed analytic costs (train/roofline.h)
double g_predicted[kNumOps];   // summed predicted seconds on g_device
RooflineDevice g_device = roofline_device("h100", "fp32");
double element_bytes() { return g_device.element_bytes; }  // per stored element

// Times one call of the inner op and adds its analytic cost.
template <typename F>
auto timed(OpId id, const OpCost& cost, F&& call) {
  g_cost[id] += cost;
  g_predicted[id] += predicted_seconds(cost, g_device);
  double t0 = now_seconds();
  if constexpr (std::is_void_v<decltype(call())>) {
    call();
    g_inner->synchronize();
    g_seconds[id] += now_seconds() - t0;
    g_calls[id]++;
  } else {
    auto r = call();
    g_inner->synchronize();
    g_seconds[id] += now_seconds() - t0;
    g_calls[id]++;
    return r;
  }
}

}  // namespace

// Each wrapper forwards its arguments unchanged to the inner backend.
const Ops& profiled_ops(const Ops& inner) {
  g_inner = &inner;
  g_profiled = inner;
  g_profiled.name = "profiled";
  g_profiled.zero = [](void* p, size_t n) { timed(kMemory, cost_memory(n), [&] { g_inner->zero(p, n); }); };
  g_profiled.copy = [](void* d, const void* s, size_t n) { timed(kMemory, cost_memory(2 * n), [&] { g_inner->copy(d, s, n); }); };
  g_profiled.encoder_forward = [](float* o, const int* t, const float* a, const float* b, int B, int T, int C) {
    timed(kEncoderFwd, cost_encoder_forward(B, T, C, element_bytes()), [&] { g_inner->encoder_forward(o, t, a, b, B, T, C); });
  };
  g_profiled.encoder_backward = [](float* a, float* b, const float* d, const int* t, int B, int T, int C) {
    timed(kEncoderBwd, cost_encoder_backward(B, T, C, element_bytes()), [&] { g_inner->encoder_backward(a, b, d, t, B, T, C); });
  };
  g_profiled.layernorm_forward = [](float* o, float* m, float* r, const float* i, const float* w,
                                    const float* b, int N, int C) {
    timed(kLayerNormFwd, cost_layernorm_forward(N, C, element_bytes()), [&] { g_inner->layernorm_forward(o, m, r, i, w, b, N, C); });
  };
  g_profiled.layernorm_backward = [](float* di, float* dw, float* db, const float* d, const float* i,
                                     const float* w, const float* m, const float* r, int N, int C) {
    timed(kLayerNormBwd, cost_layernorm_backward(N, C, element_bytes()), [&] { g_inner->layernorm_backward(di, dw, db, d, i, w, m, r, N, C); });
  };
  g_profiled.matmul_forward = [](float* o, const float* i, const float* w, const float* b, int N, int C, int OC) {
    timed(kMatmulFwd, cost_matmul_forward(N, C, OC, b != nullptr, element_bytes()), [&] { g_inner->matmul_forward(o, i, w, b, N, C, OC); });
  };
  if (inner.matmul_gelu_forward)  // optional: stays null where the backend has no fused version
    g_profiled.matmul_gelu_forward = [](float* o, float* pre, const float* i, const float* w,
                                        const float* b, int N, int C, int OC) {
      timed(kMatmulGeluFwd, cost_matmul_gelu_forward(N, C, OC, element_bytes()), [&] { g_inner->matmul_gelu_forward(o, pre, i, w, b, N, C, OC); });
    };
  g_profiled.matmul_backward = [](float* di, float* dw, float* db, const float* d, const float* i,
                                  const float* w, int N, int C, int OC) {
    timed(kMatmulBwd, cost_matmul_backward(N, C, OC, di != nullptr, db != nullptr, element_bytes()), [&] { g_inner->matmul_backward(di, dw, db, d, i, w, N, C, OC); });
  };
  g_profiled.attention_forward = [](float* o, float* lse, const float* q, int B, int T, int C, int NH) {
    timed(kAttentionFwd, cost_attention_forward(B, T, C, NH, g_device), [&] { g_inner->attention_forward(o, lse, q, B, T, C, NH); });
  };
  g_profiled.attention_backward = [](float* dq, const float* d, const float* q, const float* o,
                                     const float* lse, int B, int T, int C, int NH) {
    timed(kAttentionBwd, cost_attention_backward(B, T, C, NH, g_device), [&] { g_inner->attention_backward(dq, d, q, o, lse, B, T, C, NH); });
  };
  g_profiled.gelu_forward = [](float* o, const float* i, size_t n) { timed(kGeluFwd, cost_elementwise(n, 2, element_bytes()), [&] { g_inner->gelu_forward(o, i, n); }); };
  g_profiled.gelu_backward = [](float* di, const float* i, const float* d, size_t n) {
    timed(kGeluBwd, cost_elementwise(n, 4, element_bytes()), [&] { g_inner->gelu_backward(di, i, d, n); });
  };
  g_profiled.residual_forward = [](float* o, const float* a, const float* b, size_t n) {
    timed(kResidualFwd, cost_elementwise(n, 3, element_bytes()), [&] { g_inner->residual_forward(o, a, b, n); });
  };
  g_profiled.residual_backward = [](float* da, float* db, const float* d, size_t n) {
    timed(kResidualBwd, cost_elementwise(n, 5, element_bytes()), [&] { g_inner->residual_backward(da, db, d, n); });
  };
  g_profiled.classifier_forward_backward = [](float* l, float* lo, float* e, const int* t, const float* w,
                                              int N, int V, int Vp, bool g) {
    timed(kClassifier, cost_classifier(N, Vp, element_bytes()), [&] { g_inner->classifier_forward_backward(l, lo, e, t, w, N, V, Vp, g); });
  };
  g_profiled.value_head_forward = [](float* v, const float* h, const float* w, const float* b, int N, int C) {
    timed(kValueFwd, cost_value_head(N, C, element_bytes()), [&] { g_inner->value_head_forward(v, h, w, b, N, C); });
  };
  g_profiled.value_head_backward = [](float* dh, float* dw, float* db, const float* dv, const float* h,
                                      const float* w, int N, int C) {
    timed(kValueBwd, cost_value_head(N, C, element_bytes()), [&] { g_inner->value_head_backward(dh, dw, db, dv, h, w, N, C); });
  };
  g_profiled.sum_squares = [](const float* g, size_t n) { return timed(kSumSquares, cost_sum_squares(n), [&] { return g_inner->sum_squares(g, n); }); };
  g_profiled.adamw_update = [](float* p, const float* g, float* m, float* v, size_t n, float lr, float b1,
                               float b2, float eps, float wd, float gs, int t) {
    timed(kAdamW, cost_adamw(n, element_bytes()), [&] { g_inner->adamw_update(p, g, m, v, n, lr, b1, b2, eps, wd, gs, t); });
  };
  return g_profiled;
}

void reset_profile() {
  for (int i = 0; i < kNumOps; i++) g_seconds[i] = 0, g_calls[i] = 0, g_cost[i] = {}, g_predicted[i] = 0;
}

void set_profile_device(const RooflineDevice& device) { g_device = device; }

void print_profile(FILE* out) {
  double total = 0, predicted = 0;
  OpCost all;
  for (int i = 0; i < kNumOps; i++) total += g_seconds[i], predicted += g_predicted[i], all += g_cost[i];
  std::vector<int> order;
  for (int i = 0; i < kNumOps; i++) if (g_calls[i]) order.push_back(i);
  // Without measured times (a backend that computes nothing, bench_roofline) the predicted ones
  // order the table and give the shares.
  const bool measured = total > 1e-3;  // a real step takes milliseconds; shapes alone take microseconds
  const double* key = measured ? g_seconds : g_predicted;
  const double key_total = measured ? total : predicted;
  std::sort(order.begin(), order.end(), [key](int a, int b) { return key[a] > key[b]; });
  std::fprintf(out, "\nprofile (%s, summed over all steps), beside the analytic prediction for %s%s\n",
               g_inner ? g_inner->name : "?", g_device.name.c_str(),
               g_device.graph ? " in a CUDA graph" : "");
  std::fprintf(out, "%-28s %-10s %8s %10s %7s %10s %10s %10s %-8s\n", "op", "phase", "calls", "seconds",
               "share", "GFLOP", "GB", "predicted", "bound");
  for (int i : order)
    std::fprintf(out, "%-28s %-10s %8ld %10.4f %6.1f%% %10.1f %10.2f %10.4f %-8s\n", kOpNames[i],
                 kPhase[i], g_calls[i], g_seconds[i], key_total > 0 ? 100.0 * key[i] / key_total : 0.0,
                 g_cost[i].flops * 1e-9, g_cost[i].bytes * 1e-9, g_predicted[i],
                 bound_of(g_cost[i], g_device));
  std::fprintf(out, "%-28s %-10s %8s %10.4f %7s %10.1f %10.2f %10.4f\n", "total", "", "", total, "",
               all.flops * 1e-9, all.bytes * 1e-9, predicted);
  const char* phases[] = {"forward", "backward", "classifier", "optimizer", "memory"};
  for (const char* ph : phases) {
    double s = 0, p = 0;
    for (int i = 0; i < kNumOps; i++)
      if (std::string(kPhase[i]) == ph) s += g_seconds[i], p += g_predicted[i];
    std::fprintf(out, "  %-10s %8.3f s, predicted %.4f s (%.1f%%)\n", ph, s, p,
                 predicted > 0 ? 100.0 * p / predicted : 0.0);
  }
}

OpCost profile_total_cost() {
  OpCost all;
  for (int i = 0; i < kNumOps; i++) all += g_cost[i];
  return all;
}

double profile_predicted_seconds() {
  double predicted = 0;
  for (int i = 0; i < kNumOps; i++) predicted += g_predicted[i];
  return predicted;
}

}  // namespace chamber
