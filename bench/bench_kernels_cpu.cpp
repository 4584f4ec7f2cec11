// Google Benchmark for the plain C++ reference kernels (reference_ops()), forward and backward, at
// the shapes of the tiny config: B=8, T=128, C=256, NH=4, V=4096 (N = B*T = 1024 rows).
// Each benchmark reports the bytes it must move at minimum (every input read once, every output
// written once; read-modify-write gradients count twice) as bytes_per_second, and the matmul and
// attention ones also report FLOP/s. These are the baseline the fast CPU path and the CUDA backend
// are measured against; the reference favours clarity, so expect it to be far from peak.
#include <benchmark/benchmark.h>

#include <vector>

#include "util/util.h"
#include "kernels/adamw.h"
#include "kernels/ops.h"

namespace {

using chamber::Ops;
using chamber::reference_ops;

constexpr int kB = 8, kT = 128, kC = 256, kNH = 4, kV = 4096, kVp = 4096, kN = kB * kT;
constexpr double kF = sizeof(float);

// Uniform [-1, 1) values: benchmarks run on the same kind of data as the tests (never zeros, which
// some CPUs handle at a different speed than normal numbers).
std::vector<float> random_floats(size_t n, uint64_t seed) {
  chamber::Rng rng(seed);
  std::vector<float> v(n);
  for (float& x : v) x = 2.0f * rng.uniform() - 1.0f;
  return v;
}

void report(benchmark::State& state, double bytes, double flops = 0.0) {
  state.SetBytesProcessed((int64_t)(bytes * (double)state.iterations()));
  if (flops > 0)
    state.counters["FLOP/s"] =
        benchmark::Counter(flops * (double)state.iterations(), benchmark::Counter::kIsRate);
}

void BM_encoder_forward(benchmark::State& state) {
  const Ops& ops = reference_ops();
  chamber::Rng rng(1);
  std::vector<int> tokens(kN);
  for (int& t : tokens) t = (int)rng.below(kV);
  auto wte = random_floats((size_t)kV * kC, 2), wpe = random_floats((size_t)kT * kC, 3);
  std::vector<float> out((size_t)kN * kC);
  for (auto _ : state) ops.encoder_forward(out.data(), tokens.data(), wte.data(), wpe.data(), kB, kT, kC);
  report(state, kF * kN * kC * 3);
}

void BM_encoder_backward(benchmark::State& state) {
  const Ops& ops = reference_ops();
  chamber::Rng rng(1);
  std::vector<int> tokens(kN);
  for (int& t : tokens) t = (int)rng.below(kV);
  auto dout = random_floats((size_t)kN * kC, 2);
  std::vector<float> dwte((size_t)kV * kC), dwpe((size_t)kT * kC);
  for (auto _ : state) ops.encoder_backward(dwte.data(), dwpe.data(), dout.data(), tokens.data(), kB, kT, kC);
  report(state, kF * kN * kC * 5);  // dout read, two gradients read-modify-written per element
}

void BM_layernorm_forward(benchmark::State& state) {
  const Ops& ops = reference_ops();
  auto inp = random_floats((size_t)kN * kC, 1), w = random_floats(kC, 2), b = random_floats(kC, 3);
  std::vector<float> out((size_t)kN * kC), mean(kN), rstd(kN);
  for (auto _ : state)
    ops.layernorm_forward(out.data(), mean.data(), rstd.data(), inp.data(), w.data(), b.data(), kN, kC);
  report(state, kF * kN * kC * 2);
}

void BM_layernorm_backward(benchmark::State& state) {
  const Ops& ops = reference_ops();
  auto inp = random_floats((size_t)kN * kC, 1), w = random_floats(kC, 2), b = random_floats(kC, 3),
       dout = random_floats((size_t)kN * kC, 4);
  std::vector<float> out((size_t)kN * kC), mean(kN), rstd(kN), dinp((size_t)kN * kC), dw(kC), db(kC);
  ops.layernorm_forward(out.data(), mean.data(), rstd.data(), inp.data(), w.data(), b.data(), kN, kC);
  for (auto _ : state)
    ops.layernorm_backward(dinp.data(), dw.data(), db.data(), dout.data(), inp.data(), w.data(),
                           mean.data(), rstd.data(), kN, kC);
  report(state, kF * kN * kC * 4);  // inp, dout read; dinp read-modify-written
}

// Matmul at the model's shapes, selected by OC: 3C (qkv), C (attention projection), 4C (MLP up),
// V (the language-model head). C is the input width except for the MLP down projection (4C -> C),
// run as the second argument.
void BM_matmul_forward(benchmark::State& state) {
  const Ops& ops = reference_ops();
  int C = (int)state.range(0), OC = (int)state.range(1);
  auto inp = random_floats((size_t)kN * C, 1), w = random_floats((size_t)OC * C, 2), b = random_floats(OC, 3);
  std::vector<float> out((size_t)kN * OC);
  for (auto _ : state) ops.matmul_forward(out.data(), inp.data(), w.data(), b.data(), kN, C, OC);
  report(state, kF * ((double)kN * C + (double)OC * C + OC + (double)kN * OC), 2.0 * kN * C * OC);
}

void BM_matmul_backward(benchmark::State& state) {
  const Ops& ops = reference_ops();
  int C = (int)state.range(0), OC = (int)state.range(1);
  auto inp = random_floats((size_t)kN * C, 1), w = random_floats((size_t)OC * C, 2),
       dout = random_floats((size_t)kN * OC, 3);
  std::vector<float> dinp((size_t)kN * C), dw((size_t)OC * C), db(OC);
  for (auto _ : state)
    ops.matmul_backward(dinp.data(), dw.data(), db.data(), dout.data(), inp.data(), w.data(), kN, C, OC);
  double bytes = kF * ((double)kN * OC + 3.0 * kN * C + 3.0 * OC * C + 2.0 * OC);
  report(state, bytes, 4.0 * kN * C * OC);  // dinp and dweight are each a matmul
}

void BM_attention_forward(benchmark::State& state) {
  const Ops& ops = reference_ops();
  auto qkv = random_floats((size_t)kN * 3 * kC, 1);
  std::vector<float> out((size_t)kN * kC), lse((size_t)kB * kNH * kT);
  for (auto _ : state) ops.attention_forward(out.data(), lse.data(), qkv.data(), kB, kT, kC, kNH);
  // Causal: about T^2/2 (query, key) pairs per head, each a dot product and a weighted add of hs.
  double pairs = (double)kB * kNH * kT * (kT + 1) / 2;
  report(state, kF * ((double)kN * 3 * kC + (double)kN * kC + (double)kB * kNH * kT),
         pairs * 4.0 * (kC / kNH));
}

void BM_attention_backward(benchmark::State& state) {
  const Ops& ops = reference_ops();
  auto qkv = random_floats((size_t)kN * 3 * kC, 1), dout = random_floats((size_t)kN * kC, 2);
  std::vector<float> out((size_t)kN * kC), lse((size_t)kB * kNH * kT), dqkv((size_t)kN * 3 * kC);
  ops.attention_forward(out.data(), lse.data(), qkv.data(), kB, kT, kC, kNH);
  for (auto _ : state)
    ops.attention_backward(dqkv.data(), dout.data(), qkv.data(), out.data(), lse.data(), kB, kT, kC, kNH);
  // Five products per pair: the scores again (for the probabilities), dP, dV, dQ and dK.
  double pairs = (double)kB * kNH * kT * (kT + 1) / 2;
  report(state, kF * ((double)kN * 3 * kC * 3 + (double)kN * kC + (double)kB * kNH * kT),
         pairs * 10.0 * (kC / kNH));
}

void BM_gelu_forward(benchmark::State& state) {
  const Ops& ops = reference_ops();
  size_t n = (size_t)kN * 4 * kC;
  auto inp = random_floats(n, 1);
  std::vector<float> out(n);
  for (auto _ : state) ops.gelu_forward(out.data(), inp.data(), n);
  report(state, kF * n * 2);
}

void BM_gelu_backward(benchmark::State& state) {
  const Ops& ops = reference_ops();
  size_t n = (size_t)kN * 4 * kC;
  auto inp = random_floats(n, 1), dout = random_floats(n, 2);
  std::vector<float> dinp(n);
  for (auto _ : state) ops.gelu_backward(dinp.data(), inp.data(), dout.data(), n);
  report(state, kF * n * 4);
}

void BM_residual_forward(benchmark::State& state) {
  const Ops& ops = reference_ops();
  size_t n = (size_t)kN * kC;
  auto a = random_floats(n, 1), b = random_floats(n, 2);
  std::vector<float> out(n);
  for (auto _ : state) ops.residual_forward(out.data(), a.data(), b.data(), n);
  report(state, kF * n * 3);
}

void BM_residual_backward(benchmark::State& state) {
  const Ops& ops = reference_ops();
  size_t n = (size_t)kN * kC;
  auto dout = random_floats(n, 1);
  std::vector<float> da(n), db(n);
  for (auto _ : state) ops.residual_backward(da.data(), db.data(), dout.data(), n);
  report(state, kF * n * 5);
}

// Forward only (losses and entropy) and fused forward + gradient. With write_grad the logits are
// overwritten by the gradient, so later iterations run on gradients; the work does not depend on
// the values.
void BM_classifier(benchmark::State& state) {
  const Ops& ops = reference_ops();
  bool write_grad = state.range(0) != 0;
  auto logits = random_floats((size_t)kN * kVp, 1), weights = random_floats(kN, 2);
  chamber::Rng rng(3);
  std::vector<int> targets(kN);
  for (int& t : targets) t = (int)rng.below(kV);
  std::vector<float> losses(kN), entropy(kN);
  for (auto _ : state)
    ops.classifier_forward_backward(logits.data(), losses.data(), entropy.data(), targets.data(),
                                    weights.data(), kN, kV, kVp, write_grad);
  report(state, kF * (double)kN * kVp * (write_grad ? 2 : 1));
}

void BM_value_head_forward(benchmark::State& state) {
  const Ops& ops = reference_ops();
  auto h = random_floats((size_t)kN * kC, 1), w = random_floats(kC, 2), b = random_floats(1, 3);
  std::vector<float> values(kN);
  for (auto _ : state) ops.value_head_forward(values.data(), h.data(), w.data(), b.data(), kN, kC);
  report(state, kF * ((double)kN * kC + kC + kN), 2.0 * kN * kC);
}

void BM_value_head_backward(benchmark::State& state) {
  const Ops& ops = reference_ops();
  auto h = random_floats((size_t)kN * kC, 1), w = random_floats(kC, 2), dv = random_floats(kN, 3);
  std::vector<float> dh((size_t)kN * kC), dw(kC), db(1);
  for (auto _ : state)
    ops.value_head_backward(dh.data(), dw.data(), db.data(), dv.data(), h.data(), w.data(), kN, kC);
  report(state, kF * (3.0 * kN * kC + kN + 2.0 * kC), 4.0 * kN * kC);
}

// The optimizer over a parameter count near the tiny model's (about 3.3M with a 4096 vocabulary).
constexpr size_t kParams = (size_t)1 << 22;

void BM_sum_squares(benchmark::State& state) {
  const Ops& ops = reference_ops();
  auto g = random_floats(kParams, 1);
  double sumsq = 0.0;
  for (auto _ : state) ops.sum_squares(&sumsq, g.data(), kParams);
  benchmark::DoNotOptimize(sumsq);
  report(state, kF * kParams);
}

void BM_adamw_update(benchmark::State& state) {
  const Ops& ops = reference_ops();
  auto params = random_floats(kParams, 1), grads = random_floats(kParams, 2);
  std::vector<float> m(kParams), v(kParams);
  int t = 0;
  chamber::AdamWTensor whole = chamber::adamw_whole_arrays(kParams);
  chamber::AdamWStep step{3e-4f, 3e-4f, 0.9f, 0.95f, 1e-8f, 0.1f, 1.0f, 1.0f, 0, 0u};
  const double sumsq = 4.0;  // a norm of 2, clipped to 1
  for (auto _ : state) {
    step.t = ++t;
    ops.adamw_update(params.data(), grads.data(), m.data(), v.data(), nullptr, &whole, 1, step, &sumsq);
  }
  report(state, kF * kParams * 7);  // grads read; params, m, v read and written
}

BENCHMARK(BM_encoder_forward)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_encoder_backward)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_layernorm_forward)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_layernorm_backward)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_matmul_forward)
    ->ArgNames({"C", "OC"})
    ->Args({kC, 3 * kC})->Args({kC, kC})->Args({kC, 4 * kC})->Args({4 * kC, kC})->Args({kC, kVp})
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_matmul_backward)
    ->ArgNames({"C", "OC"})
    ->Args({kC, 3 * kC})->Args({kC, kC})->Args({kC, 4 * kC})->Args({4 * kC, kC})->Args({kC, kVp})
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_attention_forward)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_attention_backward)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_gelu_forward)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_gelu_backward)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_residual_forward)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_residual_backward)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_classifier)->ArgName("write_grad")->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_value_head_forward)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_value_head_backward)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_sum_squares)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_adamw_update)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
