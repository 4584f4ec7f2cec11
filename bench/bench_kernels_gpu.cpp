// Google Benchmark for the CUDA backend (cuda_ops()): every kernel at GPT-2 124M training shapes
// (B=8, T=1024, C=768, NH=12, V=50257 padded to 50304; N = B*T = 8192 rows), then a whole
// training step (forward, classifier, backward, grad norm, AdamW) of the GPT-2 124M model of
// configs/gpt2-124m.yaml, reporting tokens/s and MFU: fp32 at B 8 per attention path and at B 16
// and 64, and bf16 mixed precision (cuda_bf16_ops()) at B 8, 16 and 64.
//
// Each kernel reports the bytes it must move at minimum (inputs read once, outputs written once,
// accumulated gradients twice) as GB/s, or its FLOP/s for the products, next to the device's
// measured peak: a large device-to-device copy for bandwidth, a large square TF32 matmul for
// compute (and a bf16 one, for the bf16 step's MFU). Timing is wall clock around a stream synchronisation per iteration (~10 us of launch
// and sync overhead, small next to these shapes); tensors are larger than L2 except the weights.
// Without a GPU (or without the CUDA build) it prints why and exits 0, so `make bench` still runs.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <vector>

#include "engine/model.h"
#include "util/bf16.h"
#include "util/util.h"
#include "kernels/adamw.h"
#include "kernels/ops.h"
#ifdef CHAMBER_HAVE_CUDA
#include "kernels/cuda_backend.h"
#endif

namespace {

using chamber::Ops;

constexpr int kB = 8, kT = 1024, kC = 768, kNH = 12, kV = 50257, kVp = 50304, kN = kB * kT;
constexpr double kF = sizeof(float);

double g_peak_bytes_per_s = 0, g_peak_flops = 0, g_peak_flops_bf16 = 0;
size_t g_used_at_start = 0;  // device memory in use before any benchmark (the CUDA context)

// Device memory in use now beyond g_used_at_start, in GiB.
double device_gib_in_use() {
#ifdef CHAMBER_HAVE_CUDA
  size_t free_bytes = 0, total_bytes = 0;
  chamber::cuda_memory_info(&free_bytes, &total_bytes);
  return (double)(total_bytes - free_bytes - g_used_at_start) / (double)(1ull << 30);
#else
  return 0.0;
#endif
}

const Ops& gpu() {
#ifdef CHAMBER_HAVE_CUDA
  return chamber::cuda_ops();
#else
  chamber::fail("no CUDA build");
#endif
}

const Ops& gpu_bf16() {  // the bf16 table (bf16 activations, cuda_common.h)
#ifdef CHAMBER_HAVE_CUDA
  return chamber::cuda_bf16_ops();
#else
  chamber::fail("no CUDA build");
#endif
}
// A device buffer filled with uniform [-1, 1) values (never zeros).
struct DeviceFloats {
  float* ptr;
  size_t n;
  DeviceFloats(size_t count, uint64_t seed, float lo = -1.0f, float hi = 1.0f) : n(count) {
    ptr = (float*)gpu().alloc(n * sizeof(float));
    chamber::Rng rng(seed);
    std::vector<float> host(n);
    for (float& x : host) x = lo + (hi - lo) * rng.uniform();
    gpu().from_host(ptr, host.data(), n * sizeof(float));
  }
  ~DeviceFloats() { gpu().free(ptr); }
  operator float*() const { return ptr; }
};
struct DeviceTokens {
  int* ptr;
  DeviceTokens(size_t n, int vocab, uint64_t seed) {
    ptr = (int*)gpu().alloc(n * sizeof(int));
    chamber::Rng rng(seed);
    std::vector<int> host(n);
    for (int& t : host) t = (int)rng.below((uint64_t)vocab);
    gpu().from_host(ptr, host.data(), n * sizeof(int));
  }
  ~DeviceTokens() { gpu().free(ptr); }
  operator int*() const { return ptr; }
};

template <typename Fn>
void run(benchmark::State& state, Fn&& fn, double bytes, double flops) {
  fn();  // warm-up: cuBLASLt heuristics, scratch growth, first-launch costs
  gpu().synchronize();
  for (auto _ : state) {
    fn();
    gpu().synchronize();
  }
  double iters = (double)state.iterations();
  if (bytes > 0) {
    state.counters["GB/s"] = benchmark::Counter(bytes * iters / 1e9, benchmark::Counter::kIsRate);
    state.counters["peak_GB/s"] = g_peak_bytes_per_s / 1e9;
  }
  if (flops > 0) {
    state.counters["TFLOP/s"] = benchmark::Counter(flops * iters / 1e12, benchmark::Counter::kIsRate);
    state.counters["peak_TFLOP/s"] = g_peak_flops / 1e12;
  }
}

void BM_encoder_forward(benchmark::State& state) {
  DeviceTokens tokens(kN, kV, 1);
  DeviceFloats wte((size_t)kVp * kC, 2), wpe((size_t)kT * kC, 3), out((size_t)kN * kC, 4);
  run(state, [&] { gpu().encoder_forward(out, tokens, wte, wpe, kB, kT, kC); }, kF * kN * kC * 3, 0);
}
void BM_encoder_backward(benchmark::State& state) {
  DeviceTokens tokens(kN, kV, 1);
  DeviceFloats dout((size_t)kN * kC, 2), dwte((size_t)kVp * kC, 3), dwpe((size_t)kT * kC, 4);
  run(state, [&] { gpu().encoder_backward(dwte, dwpe, dout, tokens, kB, kT, kC); },
      kF * kN * kC * 5, 0);
}
void BM_layernorm_forward(benchmark::State& state) {
  DeviceFloats inp((size_t)kN * kC, 1), out((size_t)kN * kC, 2), w(kC, 3), b(kC, 4);
  DeviceFloats mean(kN, 5), rstd(kN, 6);
  run(state, [&] { gpu().layernorm_forward(out, mean, rstd, inp, w, b, kN, kC); },
      kF * kN * kC * 2, 0);
}
void BM_layernorm_backward(benchmark::State& state) {
  DeviceFloats inp((size_t)kN * kC, 1), dout((size_t)kN * kC, 2), dinp((size_t)kN * kC, 3);
  DeviceFloats w(kC, 4), dw(kC, 5), db(kC, 6), mean(kN, 7), rstd(kN, 8, 0.5f, 2.0f);
  run(state, [&] { gpu().layernorm_backward(dinp, dw, db, dout, inp, w, mean, rstd, kN, kC); },
      kF * kN * kC * 4, 0);
}
// The four Linear layers of a block, by output width (Arg: 0 qkv, 1 attn proj, 2 fc, 3 fc proj).
void linear_shape(int which, int* C, int* OC) {
  const int shapes[4][2] = {{kC, 3 * kC}, {kC, kC}, {kC, 4 * kC}, {4 * kC, kC}};
  *C = shapes[which][0];
  *OC = shapes[which][1];
}
void BM_matmul_forward(benchmark::State& state) {
  int C, OC;
  linear_shape((int)state.range(0), &C, &OC);
  DeviceFloats inp((size_t)kN * C, 1), w((size_t)OC * C, 2), b(OC, 3), out((size_t)kN * OC, 4);
  run(state, [&] { gpu().matmul_forward(out, inp, w, b, kN, C, OC); }, 0, 2.0 * kN * C * OC);
}
// The fc layer with GELU in cuBLASLt's epilogue, against BM_matmul_forward/2 + BM_gelu_forward.
void BM_matmul_gelu_forward(benchmark::State& state) {
  const int C = kC, OC = 4 * kC;
  DeviceFloats inp((size_t)kN * C, 1), w((size_t)OC * C, 2), b(OC, 3), out((size_t)kN * OC, 4);
  DeviceFloats pre((size_t)kN * OC, 5);
  run(state, [&] { gpu().matmul_gelu_forward(out, pre, inp, w, b, kN, C, OC); }, 0,
      2.0 * kN * C * OC);
}
void BM_matmul_backward(benchmark::State& state) {
  int C, OC;
  linear_shape((int)state.range(0), &C, &OC);
  DeviceFloats inp((size_t)kN * C, 1), w((size_t)OC * C, 2), dout((size_t)kN * OC, 3);
  DeviceFloats dinp((size_t)kN * C, 4), dw((size_t)OC * C, 5), db(OC, 6);
  run(state, [&] { gpu().matmul_backward(dinp, dw, db, dout, inp, w, kN, C, OC); }, 0,
      4.0 * kN * C * OC);
}
void BM_matmul_peak_square(benchmark::State& state) {  // the compute peak the others are set against
  const int n = 8192;
  DeviceFloats a((size_t)n * n, 1), w((size_t)n * n, 2), out((size_t)n * n, 3);
  run(state, [&] { gpu().matmul_forward(out, a, w, nullptr, n, n, n); }, 0, 2.0 * n * n * n);
}
// Attention flops, counted over the causal lower triangle only, the work that is needed (the
// flash kernels skip the tiles above the diagonal): per head T(T+1)/2 (query, key) pairs, each an
// hs-long multiply-add in each product. Forward has two products (Q K^T and P V):
// 2 * 2 * B*NH * T(T+1)/2 * hs. Backward counts five (Q K^T again, dO V^T, dV, dQ, dK), 2.5 times
// the forward; the kernels run seven, since the dQ pass recomputes Q K^T and dO V^T, and the two
// recomputed ones are not counted.
double causal_attention_flops(int products) {
  return products * 2.0 * kB * kNH * (kT * (kT + 1.0) / 2) * (kC / kNH);
}
// Argument 0: the kernels the backend picks by itself ("auto"); 1: cuBLASLt over T x T scores
// ("materialized"); 2: the flash kernels on tensor cores ("flash").
const char* kAttentionKernels[] = {"auto", "materialized", "flash"};
struct AttentionKernelsFor {
  explicit AttentionKernelsFor(benchmark::State& state) {
#ifdef CHAMBER_HAVE_CUDA
    chamber::cuda_set_attention_kernels(kAttentionKernels[state.range(0)]);
#endif
    state.SetLabel(kAttentionKernels[state.range(0)]);
  }
  ~AttentionKernelsFor() {
#ifdef CHAMBER_HAVE_CUDA
    chamber::cuda_set_attention_kernels("auto");
#endif
  }
};
void BM_attention_forward(benchmark::State& state) {
  AttentionKernelsFor kernels(state);
  DeviceFloats qkv((size_t)kN * 3 * kC, 1), out((size_t)kN * kC, 2), lse((size_t)kB * kNH * kT, 3);
  run(state, [&] { gpu().attention_forward(out, lse, qkv, kB, kT, kC, kNH); }, 0,
      causal_attention_flops(2));
}
void BM_attention_backward(benchmark::State& state) {
  AttentionKernelsFor kernels(state);
  DeviceFloats qkv((size_t)kN * 3 * kC, 1), dout((size_t)kN * kC, 2), dqkv((size_t)kN * 3 * kC, 3);
  DeviceFloats out((size_t)kN * kC, 4), lse((size_t)kB * kNH * kT, 5);
  gpu().attention_forward(out, lse, qkv, kB, kT, kC, kNH);  // the out and lse backward reads
  run(state, [&] { gpu().attention_backward(dqkv, dout, qkv, out, lse, kB, kT, kC, kNH); }, 0,
      causal_attention_flops(5));
}
// The same two at bf16 storage (the bf16 table, cuda_bf16_ops()), against the bf16 matmul peak:
// "flash" is attention_bf16.cu's mma.sync kernels, "materialized" cuBLASLt over bf16 T x T scores.
struct DeviceBf16 {
  void* ptr;
  DeviceBf16(size_t n, uint64_t seed) {
    const Ops& bf16 = gpu_bf16();
    ptr = bf16.alloc(n * 2);
    chamber::Rng rng(seed);
    std::vector<uint16_t> host(n);
    for (uint16_t& x : host) x = chamber::float_to_bf16_bits(-1.0f + 2.0f * rng.uniform());
    bf16.from_host(ptr, host.data(), n * 2);
  }
  ~DeviceBf16() { gpu_bf16().free(ptr); }
  operator void*() const { return ptr; }
};
void BM_attention_forward_bf16(benchmark::State& state) {
  AttentionKernelsFor kernels(state);
  const Ops& bf16 = gpu_bf16();
  DeviceBf16 qkv((size_t)kN * 3 * kC, 1), out((size_t)kN * kC, 2);
  DeviceFloats lse((size_t)kB * kNH * kT, 3);
  run(state, [&] { bf16.attention_forward(out, lse, qkv, kB, kT, kC, kNH); }, 0,
      causal_attention_flops(2));
  state.counters["peak_TFLOP/s"] = g_peak_flops_bf16 / 1e12;
}
void BM_attention_backward_bf16(benchmark::State& state) {
  AttentionKernelsFor kernels(state);
  const Ops& bf16 = gpu_bf16();
  DeviceBf16 qkv((size_t)kN * 3 * kC, 1), dout((size_t)kN * kC, 2), dqkv((size_t)kN * 3 * kC, 3);
  DeviceBf16 out((size_t)kN * kC, 4);
  DeviceFloats lse((size_t)kB * kNH * kT, 5);
  bf16.attention_forward(out, lse, qkv, kB, kT, kC, kNH);  // the out and lse backward reads
  run(state, [&] { bf16.attention_backward(dqkv, dout, qkv, out, lse, kB, kT, kC, kNH); }, 0,
      causal_attention_flops(5));
  state.counters["peak_TFLOP/s"] = g_peak_flops_bf16 / 1e12;
}
void BM_gelu_forward(benchmark::State& state) {
  size_t n = (size_t)kN * 4 * kC;
  DeviceFloats inp(n, 1), out(n, 2);
  run(state, [&] { gpu().gelu_forward(out, inp, n); }, kF * n * 2, 0);
}
void BM_gelu_backward(benchmark::State& state) {
  size_t n = (size_t)kN * 4 * kC;
  DeviceFloats inp(n, 1), dout(n, 2), dinp(n, 3);
  run(state, [&] { gpu().gelu_backward(dinp, inp, dout, n); }, kF * n * 4, 0);
}
void BM_residual_forward(benchmark::State& state) {
  size_t n = (size_t)kN * kC;
  DeviceFloats a(n, 1), b(n, 2), out(n, 3);
  run(state, [&] { gpu().residual_forward(out, a, b, n); }, kF * n * 3, 0);
}
// The attention branch's add and ln2 in one kernel, against BM_residual_forward +
// BM_layernorm_forward.
void BM_residual_layernorm_forward(benchmark::State& state) {
  size_t n = (size_t)kN * kC;
  DeviceFloats a(n, 1), b(n, 2), residual(n, 3), out(n, 4), w(kC, 5), bias(kC, 6);
  DeviceFloats mean(kN, 7), rstd(kN, 8);
  run(state,
      [&] { gpu().residual_layernorm_forward(residual, out, mean, rstd, a, b, w, bias, kN, kC); },
      kF * n * 4, 0);
}
void BM_classifier(benchmark::State& state) {
  DeviceFloats logits((size_t)kN * kVp, 1, -4.0f, 4.0f), losses(kN, 2), entropy(kN, 3), w(kN, 4);
  DeviceTokens targets(kN, kV, 5);
  // Overwrites the logits with gradients each time; still finite, same amount of work.
  run(state, [&] { gpu().classifier_forward_backward(logits, losses, entropy, targets, w, kN, kV, kVp, true); },
      kF * kN * (double)kVp * 3, 0);
}
// One sampling step of a 512-row rollout batch over GPT-2's vocabulary. Arg 0 greedy, 1
// temperature (the row read ~3 times), 2 nucleus top_p 0.95 (two radix selects of 12 passes
// each, so ~26 reads; kernels/sample.cu), 3 top-k 50 and top_p 0.95 (~38 reads).
void BM_sample_tokens(benchmark::State& state) {
  const int rows = 512, mode = (int)state.range(0);
  const float temperature = mode == 0 ? 0.0f : 1.0f;
  const int top_k = mode == 3 ? 50 : 0;
  const float top_p = mode >= 2 ? 0.95f : 1.0f;
  const double reads = mode <= 1 ? 3 : mode == 2 ? 26 : 38;
  DeviceFloats logits((size_t)rows * kVp, 1, -4.0f, 4.0f), logprobs(rows, 2);
  std::vector<double> host_uniforms(rows, 0.5);
  double* uniforms = (double*)gpu().alloc(rows * sizeof(double));
  int* ids = (int*)gpu().alloc(rows * sizeof(int));
  gpu().from_host(uniforms, host_uniforms.data(), rows * sizeof(double));
  run(state, [&] {
        gpu().sample_tokens(ids, logprobs, logits, uniforms, rows, kV, kV, kVp, temperature, top_k,
                            top_p);
      },
      kF * rows * (double)kV * reads, 0);
  gpu().free(uniforms);
  gpu().free(ids);
}
void BM_adamw(benchmark::State& state) {
  size_t n = 124'000'000;
  DeviceFloats p(n, 1), g(n, 2), m(n, 3), v(n, 4, 0.0f, 1.0f);
  int t = 0;
  // fp32 table: no compute copy (params_compute null), so the seed is not read.
  chamber::AdamWTensor whole = chamber::adamw_whole_arrays(n);
  chamber::AdamWStep step{1e-4f, 1e-4f, 0.9f, 0.95f, 1e-8f, 0.1f, 1.0f, 0.0f, 0, 0u};
  run(state, [&] {
        step.t = ++t;
        gpu().adamw_update(p, g, m, v, nullptr, &whole, 1, step, nullptr);
      },
      kF * n * 7, 0);
}
void BM_sum_squares(benchmark::State& state) {
  size_t n = 124'000'000;
  DeviceFloats g(n, 1);
  double* sumsq = (double*)gpu().alloc(sizeof(double));
  run(state, [&] { gpu().sum_squares(sumsq, g, n); }, kF * n, 0);
  gpu().free(sumsq);
}

// A whole training step of GPT-2 124M at (B, 1024) on `ops` (the fp32 table, or the bf16 one:
// mixed precision), reporting tokens/s and two MFUs: against `peak_flops`, the matmul peak measured
// in this run for that precision, and by llm.c's formula, model FLOPs of 6 N + 6 L C T per token
// (N the parameters without the position table) against the H100's dense bf16 peak of 989 TFLOP/s,
// the figure the speed targets are stated in.
void train_step_gpt2_124m(benchmark::State& state, const Ops& ops, int B, double peak_flops,
                          bool graphs = true) {
  chamber::ModelConfig cfg;
  cfg.vocab_size = kV;
  cfg.n_layer = 12;
  cfg.n_head = kNH;
  cfg.n_embd = kC;
  cfg.context_length = kT;
  chamber::model_config_finalize(cfg);
  const int N = B * kT;
  chamber::GPT model;
  chamber::gpt_create(model, cfg, ops, B, kT, true, {}, chamber::kPretrainLogitRows);
  chamber::gpt_init_parameters(model, 1);
  chamber::Rng rng(2);
  std::vector<int> tokens(N), targets(N);
  for (int& t : tokens) t = (int)rng.below(kV);
  for (int& t : targets) t = (int)rng.below(kV);
  std::vector<float> weights(N, 1.0f / N);
  model.use_graphs = graphs;
  // The step as pretraining runs it (train/pretrain.cpp): the micro-step a CUDA graph from its
  // second run on, the norm and the clipping on the device, the step's scalars kept on the device
  // and read once per kStepsPerRead steps (configs/gpt2-124m.yaml logs every 10).
  constexpr int kStepsPerRead = 10;
  auto step = [&] {
    chamber::gpt_queue_train_step(model, tokens.data(), targets.data(), weights.data(), B, kT,
                                  {.lr = 6e-4f, .beta1 = 0.9f, .beta2 = 0.95f, .eps = 1e-8f,
                                   .weight_decay = 0.1f, .max_grad_norm = 1.0f});
    chamber::gpt_keep_step(model);
  };
  step();  // warm-up: op by op
  step();  // the capture
  chamber::gpt_read_kept_steps(model);
  double seconds = 0;
  for (auto _ : state) {
    double t0 = chamber::now_seconds();
    for (int k = 0; k < kStepsPerRead; k++) step();
    chamber::gpt_read_kept_steps(model);
    seconds += chamber::now_seconds() - t0;
  }
  // Model flops per token: 6 per parameter (forward 2, backward 4) plus the attention products,
  // 12 L T C (scores and weighted values, forward and backward) — the usual MFU convention,
  // recomputation and the masked half of attention not counted — against the measured peak; and
  // llm.c's count, 6 N + 6 L C T without the position table, against 989 TFLOP/s.
  double flops_per_token = 6.0 * (double)model.num_parameters + 12.0 * cfg.n_layer * kT * kC;
  double llmc_flops_per_token = 6.0 * ((double)model.num_parameters - (double)kT * kC) +
                                6.0 * cfg.n_layer * kC * (double)kT;
  double tokens_per_s = N * (double)kStepsPerRead * (double)state.iterations() / seconds;
  state.counters["tokens/s"] = tokens_per_s;
  state.counters["model_TFLOP/s"] = tokens_per_s * flops_per_token / 1e12;
  state.counters["peak_TFLOP/s"] = peak_flops / 1e12;
  state.counters["MFU_%"] = 100.0 * tokens_per_s * flops_per_token / peak_flops;
  state.counters["MFU_989_%"] = 100.0 * tokens_per_s * llmc_flops_per_token / 989e12;
  // The model's arenas, the scratch buffer and cuBLASLt's workspace as the step leaves them: an
  // upper bound of the step's peak, to set beside PyTorch's max_memory_allocated (the scratch
  // buffer keeps the largest size any earlier benchmark asked of it).
  state.counters["device_GiB"] = device_gib_in_use();
  chamber::gpt_destroy(model);
}

// fp32 storage and TF32 products at B 8 for each attention path (the argument).
void BM_train_step_gpt2_124m(benchmark::State& state) {
  AttentionKernelsFor kernels(state);
  train_step_gpt2_124m(state, gpu(), kB, g_peak_flops);
}
// fp32 at the target's batch sizes (the argument: B), the attention path the GPU picks.
void BM_train_step_gpt2_124m_fp32_batch(benchmark::State& state) {
  train_step_gpt2_124m(state, gpu(), (int)state.range(0), g_peak_flops);
}
// bf16 mixed precision (train.dtype: bf16) at B 8, 16 and 64 (the argument).
void BM_train_step_gpt2_124m_bf16_batch(benchmark::State& state) {
#ifdef CHAMBER_HAVE_CUDA
  train_step_gpt2_124m(state, chamber::cuda_bf16_ops(), (int)state.range(0), g_peak_flops_bf16);
#else
  state.SkipWithError("no CUDA build");
#endif
}

// bf16 at B 16 with each attention path (the argument: auto, materialized, flash): the flash
// kernels decide whether the step reaches the target (README's analytic profile).
void BM_train_step_gpt2_124m_bf16_attention(benchmark::State& state) {
  AttentionKernelsFor kernels(state);
#ifdef CHAMBER_HAVE_CUDA
  train_step_gpt2_124m(state, chamber::cuda_bf16_ops(), 16, g_peak_flops_bf16);
#else
  state.SkipWithError("no CUDA build");
#endif
}

// bf16 at B 16 with the micro-step op by op instead of one CUDA graph: what the graph saves.
void BM_train_step_gpt2_124m_bf16_no_graph(benchmark::State& state) {
#ifdef CHAMBER_HAVE_CUDA
  train_step_gpt2_124m(state, chamber::cuda_bf16_ops(), 16, g_peak_flops_bf16, false);
#else
  state.SkipWithError("no CUDA build");
#endif
}

// Measured peaks, before the benchmarks that quote them.
void measure_peaks() {
  size_t n = (size_t)1 << 28;  // 1 GiB each way
  float* a = (float*)gpu().alloc(n * sizeof(float));
  float* b = (float*)gpu().alloc(n * sizeof(float));
  gpu().copy(b, a, n * sizeof(float));
  gpu().synchronize();
  double t0 = chamber::now_seconds();
  for (int i = 0; i < 10; i++) gpu().copy(b, a, n * sizeof(float));
  gpu().synchronize();
  g_peak_bytes_per_s = 10 * 2.0 * n * sizeof(float) / (chamber::now_seconds() - t0);
  gpu().free(a);
  gpu().free(b);

  const int m = 8192;
  float* x = (float*)gpu().alloc((size_t)m * m * sizeof(float) * 3);
  gpu().matmul_forward(x + 2 * (size_t)m * m, x, x + (size_t)m * m, nullptr, m, m, m);
  gpu().synchronize();
  t0 = chamber::now_seconds();
  for (int i = 0; i < 10; i++)
    gpu().matmul_forward(x + 2 * (size_t)m * m, x, x + (size_t)m * m, nullptr, m, m, m);
  gpu().synchronize();
  g_peak_flops = 10 * 2.0 * m * m * (double)m / (chamber::now_seconds() - t0);
  gpu().free(x);
#ifdef CHAMBER_HAVE_CUDA
  // The same square product with bf16 operands (the bf16 table's cuBLASLt plan, fp32 accumulation).
  const Ops& bf16 = chamber::cuda_bf16_ops();
  char* y = (char*)bf16.alloc((size_t)m * m * 2 * 3);
  auto bf16_product = [&] {
    bf16.matmul_forward(y + 4 * (size_t)m * m, y, y + 2 * (size_t)m * m, nullptr, m, m, m);
  };
  bf16_product();
  bf16.synchronize();
  t0 = chamber::now_seconds();
  for (int i = 0; i < 10; i++) bf16_product();
  bf16.synchronize();
  g_peak_flops_bf16 = 10 * 2.0 * m * m * (double)m / (chamber::now_seconds() - t0);
  bf16.free(y);
#endif
}

}  // namespace

BENCHMARK(BM_encoder_forward)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_encoder_backward)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_layernorm_forward)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_layernorm_backward)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_matmul_forward)->DenseRange(0, 3)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_matmul_gelu_forward)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_matmul_backward)->DenseRange(0, 3)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_matmul_peak_square)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_attention_forward)->DenseRange(0, 2)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_attention_backward)->DenseRange(0, 2)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_attention_forward_bf16)->DenseRange(0, 2)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_attention_backward_bf16)->DenseRange(0, 2)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_gelu_forward)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_gelu_backward)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_residual_forward)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_residual_layernorm_forward)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_classifier)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_sample_tokens)->Arg(0)->Arg(1)->Arg(2)->Arg(3)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_adamw)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_sum_squares)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_train_step_gpt2_124m)->DenseRange(0, 2)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_train_step_gpt2_124m_fp32_batch)->Arg(16)->Arg(64)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_train_step_gpt2_124m_bf16_batch)->Arg(8)->Arg(16)->Arg(64)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_train_step_gpt2_124m_bf16_attention)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_train_step_gpt2_124m_bf16_no_graph)->Unit(benchmark::kMillisecond)->UseRealTime();

int main(int argc, char** argv) {
#ifdef CHAMBER_HAVE_CUDA
  if (!chamber::cuda_device_available()) {
    std::printf("bench_kernels_gpu: no usable CUDA GPU on this machine; nothing to measure\n");
    return 0;
  }
  std::printf("device: %s\n", chamber::cuda_device_description().c_str());
#else
  std::printf("bench_kernels_gpu: this build has no CUDA backend (nvcc not found); nothing to measure\n");
  return 0;
#endif
  try {
#ifdef CHAMBER_HAVE_CUDA
    size_t free_bytes = 0, total_bytes = 0;
    chamber::cuda_memory_info(&free_bytes, &total_bytes);  // after the context exists
    g_used_at_start = total_bytes - free_bytes;
#endif
    measure_peaks();
    std::printf("measured peaks: copy %.0f GB/s, TF32 matmul %.1f TFLOP/s, bf16 matmul %.1f TFLOP/s\n",
                g_peak_bytes_per_s / 1e9, g_peak_flops / 1e12, g_peak_flops_bf16 / 1e12);
    benchmark::Initialize(&argc, argv);
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
  } catch (const chamber::Error& e) {
    std::fprintf(stderr, "bench_kernels_gpu: %s\n", e.what());
    return 1;
  }
  return 0;
}
