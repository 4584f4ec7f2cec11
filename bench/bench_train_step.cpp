// A whole training step (forward, classifier, backward, grad norm, AdamW) of a config's model and
// batch shape, on random tokens, for each CPU backend; reports tokens/s.
//   build/bench_train_step [CONFIG=configs/tiny.yaml] [google benchmark flags]
#include <benchmark/benchmark.h>

#include <cstring>

#include "engine/backend.h"
#include "engine/model.h"
#include "util/util.h"
#include "kernels/adamw.h"
#include "train/pretrain.h"

using namespace chamber;

static PretrainConfig g_cfg;

static void BM_TrainStep(benchmark::State& state, std::string device) {
  const Ops& ops = select_backend(device);
  ModelConfig mc = g_cfg.model;
  if (mc.vocab_size == 0) mc.vocab_size = g_cfg.data["tokenizer"]["vocab_size"].as<int>(1024);
  model_config_finalize(mc);
  const int B = g_cfg.train.batch_size, T = g_cfg.train.seq_len, N = B * T;
  GPT model;
  gpt_create(model, mc, ops, B, T, true, {}, kPretrainLogitRows);
  gpt_init_parameters(model, 1);
  Rng rng(1);
  std::vector<int> tokens(N), targets(N);
  for (int i = 0; i < N; i++) tokens[i] = (int)rng.below(mc.vocab_size), targets[i] = (int)rng.below(mc.vocab_size);
  std::vector<float> weights(N, 1.0f / N);
  for (auto _ : state)  // the step as pretraining runs it (train/pretrain.cpp)
    gpt_train_step(model, tokens.data(), targets.data(), weights.data(), B, T,
                   {.lr = 1e-4f, .beta1 = 0.9f, .beta2 = 0.95f, .eps = 1e-8f, .weight_decay = 0.1f,
                    .max_grad_norm = 1.0f});
  state.counters["tokens_per_s"] = benchmark::Counter((double)N * state.iterations(), benchmark::Counter::kIsRate);
  state.SetLabel(std::string(ops.name) + " B=" + std::to_string(B) + " T=" + std::to_string(T));
  gpt_destroy(model);
}

int main(int argc, char** argv) {
  std::string config = "configs/tiny.yaml";
  if (argc > 1 && argv[1][0] != '-') {
    config = argv[1];
    for (int i = 1; i + 1 < argc; i++) argv[i] = argv[i + 1];
    argc--;
  }
  try {
    g_cfg = load_pretrain_config(config, {});
  } catch (const Error& e) {
    std::fprintf(stderr, "bench_train_step: %s\n", e.what());
    return 1;
  }
  set_cpu_threads(0);
  benchmark::RegisterBenchmark("train_step/cpu", BM_TrainStep, std::string("cpu"))->Unit(benchmark::kMillisecond)->MinTime(2.0)->UseRealTime();
  benchmark::RegisterBenchmark("train_step/cpu-ref", BM_TrainStep, std::string("cpu-ref"))->Unit(benchmark::kMillisecond)->MinTime(2.0)->UseRealTime();
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
