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
bool g_capturing = false;  // between capture_begin and capture_end (shapes-only predictions)

// Summed per op (kernels/ops.h's OpId).
double g_seconds[kNumOps];
long g_calls[kNumOps];
OpCost g_cost[kNumOps];        // summed analytic costs (train/roofline.h)
double g_predicted[kNumOps];   // summed predicted seconds on g_device
RooflineDevice g_device = roofline_device("h100", "fp32");
double element_bytes() { return g_device.element_bytes; }  // per stored element

// Times one call of the inner op and adds its analytic cost.
template <typename F>
auto timed(OpId op, const OpCost& cost, F&& call) {
  const int id = (int)op;
  g_cost[id] += cost;
  // An op recorded into a graph is launched by the graph's one launch: no launch cost of its own.
  RooflineDevice device = g_device;
  if (g_capturing) device.graph = true;
  g_predicted[id] += predicted_seconds(cost, device);
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

// The analytic cost of one call of each timed op, from the op's own arguments (kernels/ops.h has
// their order). An op without a line here (alloc, free, the host copies, synchronize, the
// profiler ranges, the sampling ops) passes through untimed.
template <OpId op>
struct Op {};
OpCost op_cost(Op<OpId::zero>, auto, size_t bytes) { return cost_memory(bytes); }
OpCost op_cost(Op<OpId::copy>, auto, auto, size_t bytes) { return cost_memory(2 * bytes); }
OpCost op_cost(Op<OpId::encoder_forward>, auto, auto, auto, auto, int B, int T, int C) {
  return cost_encoder_forward(B, T, C, element_bytes());
}
OpCost op_cost(Op<OpId::encoder_backward>, auto, auto, auto, auto, int B, int T, int C) {
  return cost_encoder_backward(B, T, C, element_bytes());
}
OpCost op_cost(Op<OpId::layernorm_forward>, auto, auto, auto, auto, auto, auto, int N, int C) {
  return cost_layernorm_forward(N, C, element_bytes());
}
OpCost op_cost(Op<OpId::layernorm_backward>, auto, auto, auto, auto, auto, auto, auto, auto, int N,
               int C) {
  return cost_layernorm_backward(N, C, element_bytes());
}
OpCost op_cost(Op<OpId::matmul_forward>, auto, auto, auto, const xfloat* bias, int N, int C,
               int OC) {
  return cost_matmul_forward(N, C, OC, bias != nullptr, element_bytes());
}
OpCost op_cost(Op<OpId::matmul_gelu_forward>, auto, auto, auto, auto, auto, int N, int C, int OC) {
  return cost_matmul_gelu_forward(N, C, OC, element_bytes());
}
OpCost op_cost(Op<OpId::matmul_backward>, xfloat* dinp, auto, float* dbias, auto, auto, auto, int N,
               int C, int OC) {
  return cost_matmul_backward(N, C, OC, dinp != nullptr, dbias != nullptr, element_bytes());
}
OpCost op_cost(Op<OpId::matmul_gelu_backward>, auto, auto, float* dbias, auto, auto, auto, auto,
               int N, int C, int OC) {
  return cost_matmul_gelu_backward(N, C, OC, dbias != nullptr, element_bytes());
}
OpCost op_cost(Op<OpId::attention_forward>, auto, auto, auto, int B, int T, int C, int NH) {
  return cost_attention_forward(B, T, C, NH, g_device);
}
OpCost op_cost(Op<OpId::attention_backward>, auto, auto, auto, auto, auto, int B, int T, int C,
               int NH) {
  return cost_attention_backward(B, T, C, NH, g_device);
}
OpCost op_cost(Op<OpId::gelu_forward>, auto, auto, size_t n) {
  return cost_elementwise(n, 2, element_bytes());
}
OpCost op_cost(Op<OpId::gelu_backward>, auto, auto, auto, size_t n) {
  return cost_elementwise(n, 3, element_bytes());  // inp and dout read, dinp written
}
OpCost op_cost(Op<OpId::residual_forward>, auto, auto, auto, size_t n) {
  return cost_elementwise(n, 3, element_bytes());
}
OpCost op_cost(Op<OpId::residual_backward>, auto, auto, auto, size_t n) {
  return cost_elementwise(n, 5, element_bytes());
}
OpCost op_cost(Op<OpId::residual_layernorm_forward>, auto, auto, auto, auto, auto, auto, auto,
               auto, int N, int C) {
  return cost_residual_layernorm_forward(N, C, element_bytes());
}
OpCost op_cost(Op<OpId::classifier_forward_backward>, auto, auto, auto, auto, auto, int N, int V,
               int Vp, auto) {
  return cost_classifier(N, Vp, element_bytes());
}
OpCost op_cost(Op<OpId::value_head_forward>, auto, auto, auto, auto, int N, int C) {
  return cost_value_head(N, C, element_bytes());
}
OpCost op_cost(Op<OpId::value_head_backward>, auto, auto, auto, auto, auto, auto, int N, int C) {
  return cost_value_head(N, C, element_bytes());
}
OpCost op_cost(Op<OpId::loss_sum>, auto, auto, auto, auto, int N) { return cost_loss_sum(N); }
OpCost op_cost(Op<OpId::sum_squares>, auto, auto, size_t n) { return cost_sum_squares(n); }
OpCost op_cost(Op<OpId::adamw_update>, auto, auto, auto, auto, auto, const AdamWTensor* tensors,
               int num_tensors, auto...) {
  size_t n = 0;
  for (int k = 0; k < num_tensors; k++) n += tensors[k].count;
  return cost_adamw(n, element_bytes());
}

// Whether an op_cost above takes the parameters of op (whose function pointer type is Fn).
template <OpId op, typename Fn>
constexpr bool kHasCost = false;
template <OpId op, typename R, typename... A>
constexpr bool kHasCost<op, R (*)(A...)> = requires(A... args) { op_cost(Op<op>{}, args...); };

// Every op of a timed phase has a cost above, zero and copy too: a cost whose parameters do not
// match its op's would otherwise leave the op untimed without a word.
constexpr bool kTimedPhase_forward = true, kTimedPhase_backward = true,
               kTimedPhase_classifier = true, kTimedPhase_optimizer = true,
               kTimedPhase_memory = false, kTimedPhase_timeline = false, kTimedPhase_graph = false,
               kTimedPhase_sampling = false;
#define CHAMBER_CHECK_COST(name, phase, ...)                                       \
  static_assert(kHasCost<OpId::name, decltype(Ops::name)> || !kTimedPhase_##phase, \
                "no op_cost matches the parameters of " #name);
CHAMBER_OPS(CHAMBER_CHECK_COST)
#undef CHAMBER_CHECK_COST
static_assert(kHasCost<OpId::zero, decltype(Ops::zero)>);
static_assert(kHasCost<OpId::copy, decltype(Ops::copy)>);

// Points the profiled table's `member` at a wrapper that forwards its arguments unchanged to the
// inner backend, timing the call, when the op has a cost above and the inner backend has the op.
template <OpId op, auto member>
void time_op(Ops& profiled, const Ops& inner) {
  using Fn = std::remove_cvref_t<decltype(inner.*member)>;
  if constexpr (kHasCost<op, Fn>) {
    if (supports(inner, op))
      profiled.*member = [](auto... args) {
        return timed(op, op_cost(Op<op>{}, args...), [&] { return (g_inner->*member)(args...); });
      };
  }
}

}  // namespace

const Ops& profiled_ops(const Ops& inner, bool predict_graphs) {
  g_inner = &inner;
  g_profiled = inner;
  g_profiled.name = "profiled";
#define CHAMBER_TIME_OP(name, ...) time_op<OpId::name, &Ops::name>(g_profiled, inner);
  CHAMBER_OPS(CHAMBER_TIME_OP)
#undef CHAMBER_TIME_OP
  g_capturing = false;
  if (!predict_graphs) {
    // Timing an op needs it to run when called: no graphs, so the model goes op by op.
    g_profiled.capture_begin = nullptr;
    g_profiled.capture_end = nullptr;
    g_profiled.graph_launch = nullptr;
    g_profiled.graph_destroy = nullptr;
  } else if (supports(inner, OpId::capture_begin)) {
    // A backend that only records shapes: what is captured is predicted without launch costs.
    g_profiled.capture_begin = [] {
      g_capturing = true;
      g_inner->capture_begin();
    };
    g_profiled.capture_end = []() -> void* {
      g_capturing = false;
      return g_inner->capture_end();
    };
  }
  return g_profiled;
}

void reset_profile() {
  for (int i = 0; i < kNumOps; i++) g_seconds[i] = 0, g_calls[i] = 0, g_cost[i] = {}, g_predicted[i] = 0;
}

void set_profile_device(const RooflineDevice& device) { g_device = device; }

namespace {

// One line of the table: an op that was called, or all the memory ops together.
struct ProfileRow {
  std::string name;
  const char* phase;
  long calls = 0;
  double seconds = 0, predicted = 0;
  OpCost cost = {};
};

std::vector<ProfileRow> profile_rows() {
  std::vector<ProfileRow> rows;
  ProfileRow memory{"memory (zero/copy)", "memory"};
  for (int i = 0; i < kNumOps; i++) {
    if (!g_calls[i]) continue;
    const OpId op = (OpId)i;
    ProfileRow& row = std::string(op_phase(op)) == "memory"  // one line for zero and copy
                          ? memory
                          : rows.emplace_back(ProfileRow{op_name(op), op_phase(op)});
    row.calls += g_calls[i], row.seconds += g_seconds[i], row.predicted += g_predicted[i];
    row.cost += g_cost[i];
  }
  if (memory.calls) rows.push_back(memory);
  return rows;
}

}  // namespace

void print_profile(FILE* out) {
  double total = 0, predicted = 0;
  OpCost all;
  std::vector<ProfileRow> rows = profile_rows();
  for (const ProfileRow& r : rows) total += r.seconds, predicted += r.predicted, all += r.cost;
  // Without measured times (a backend that computes nothing, bench_roofline) the predicted ones
  // order the table and give the shares.
  const bool measured = total > 1e-3;  // a real step takes milliseconds; shapes alone take microseconds
  auto key = [measured](const ProfileRow& r) { return measured ? r.seconds : r.predicted; };
  const double key_total = measured ? total : predicted;
  std::sort(rows.begin(), rows.end(), [&](const ProfileRow& a, const ProfileRow& b) { return key(a) > key(b); });
  std::fprintf(out, "\nprofile (%s, summed over all steps), beside the analytic prediction for %s%s\n",
               g_inner ? g_inner->name : "?", g_device.name.c_str(),
               g_device.graph ? " in a CUDA graph" : "");
  std::fprintf(out, "%-28s %-10s %8s %10s %7s %10s %10s %10s %-8s\n", "op", "phase", "calls", "seconds",
               "share", "GFLOP", "GB", "predicted", "bound");
  for (const ProfileRow& r : rows)
    std::fprintf(out, "%-28s %-10s %8ld %10.4f %6.1f%% %10.1f %10.2f %10.4f %-8s\n", r.name.c_str(),
                 r.phase, r.calls, r.seconds, key_total > 0 ? 100.0 * key(r) / key_total : 0.0,
                 r.cost.flops * 1e-9, r.cost.bytes * 1e-9, r.predicted, bound_of(r.cost, g_device));
  std::fprintf(out, "%-28s %-10s %8s %10.4f %7s %10.1f %10.2f %10.4f\n", "total", "", "", total, "",
               all.flops * 1e-9, all.bytes * 1e-9, predicted);
  const char* phases[] = {"forward", "backward", "classifier", "optimizer", "memory"};
  for (const char* ph : phases) {
    double s = 0, p = 0;
    for (const ProfileRow& r : rows)
      if (std::string(r.phase) == ph) s += r.seconds, p += r.predicted;
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
