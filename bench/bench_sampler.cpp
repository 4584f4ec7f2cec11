// Google Benchmark for the KV-cache sampler (engine/sampler.h) on the CPU: generated tokens per
// second for batch sizes 1..1024, with a random-init model at the tiny config's shapes (4 layers,
// 4 heads, width 128, context 128, vocabulary 1024). Prompts have 32..96 tokens (like math
// questions), every row generates exactly max_new_tokens (eot is not a stop here), so the numbers
// measure the engine, not when a random model happens to stop.
//   BM_sample/B           fast CPU backend (--device cpu), batched prompt prefill
//   BM_sample_no_prefill  the same, prompts fed one token per step (the prefill's benefit)
//   BM_sample_ref/B       the plain reference backend (--device cpu-ref)
//   BM_sample_cuda/B      the CUDA backend (only when a GPU is present), at the tiny shapes and
//   BM_sample_cuda_gpu_echo/B  at configs/echo/pretrain-gpu.yaml's largest model (8 layers, width
//                         512, context 512), the RL rollouts of the GPU study
//   BM_sample_checkpoint/B/bf16  like-for-like with bench/hf_generate.py, for the kit's `generate`
//                         stage: the weights of the checkpoint in CHAMBER_BENCH_CHECKPOINT (a run
//                         directory or checkpoint; registered only when it is set), prompts of 32
//                         random token ids, 256 new tokens for every row, temperature 0.7 over the
//                         whole vocabulary, fp32 (bf16 = 0) or bf16 (1, GPU only); on the GPU when
//                         there is one, else on the fast CPU backend
// Counters: tokens/s = generated tokens per second; prompt_tokens/s counts prompts read too.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "data/tokenizer.h"
#include "engine/checkpoint.h"
#include "engine/backend.h"
#include "engine/model.h"
#include "engine/sampler.h"
#ifdef CHAMBER_HAVE_CUDA
#include "kernels/cuda_backend.h"
#endif

namespace {

using namespace chamber;

constexpr int kMaxNew = 16;

Tokenizer bench_tokenizer(int vocab) {
  Tokenizer tok;
  for (int i = 0; i < vocab - 1; i++) {
    std::string token = "t";
    token += std::to_string(i);
    token += ' ';
    tok.token_bytes.push_back(token);
  }
  tok.token_bytes.push_back("<|endoftext|>");
  tok.eot_id = vocab - 1;
  return tok;
}

// Times sampler_generate of `prompts` on `model` with a cache of max_len positions, every row to
// max_new tokens (eot is not a stop) at temperature 0.7: generated tokens per second, and prompt
// tokens read per second. `warm_up` runs one untimed generate first (cuBLAS plans, first
// launches), as hf_generate.py does.
void time_generation(benchmark::State& state, GPT& model,
                     const std::vector<std::vector<int>>& prompts, int max_len, int max_new,
                     bool prefill, bool warm_up) {
  const int B = (int)prompts.size();
  int64_t prompt_tokens = 0;
  for (const auto& p : prompts) prompt_tokens += (int64_t)p.size();
  Tokenizer tok = bench_tokenizer(model.cfg.vocab_size);  // the text is not looked at
  Sampler s;
  sampler_create(s, model, B, max_len);
  s.batched_prefill = prefill;
  SamplingParams params;
  params.temperature = 0.7f;
  params.max_new_tokens = max_new;
  params.stop_at_eot = false;
  Rng rng(1);
  if (warm_up) sampler_generate(s, model, tok.token_bytes, tok.eot_id, prompts, params, rng);
  for (auto _ : state) {
    auto out = sampler_generate(s, model, tok.token_bytes, tok.eot_id, prompts, params, rng);
    benchmark::DoNotOptimize(out.data());
  }
  double generated = (double)B * max_new * (double)state.iterations();
  state.counters["tokens/s"] = benchmark::Counter(generated, benchmark::Counter::kIsRate);
  state.counters["prompt_tokens/s"] = benchmark::Counter(
      (double)prompt_tokens * (double)state.iterations(), benchmark::Counter::kIsRate);
  sampler_destroy(s);
}

// B prompts of random ids below vocab - 1 (never eot), of length `length` or, with spread > 0,
// length + a uniform 0..spread.
std::vector<std::vector<int>> random_prompts(int B, int vocab, int length, int spread) {
  Rng prompt_rng(7);
  std::vector<std::vector<int>> prompts(B);
  for (auto& p : prompts) {
    p.resize(length + (spread > 0 ? prompt_rng.below(spread + 1) : 0));
    for (int& id : p) id = (int)prompt_rng.below(vocab - 1);
  }
  return prompts;
}

void run(benchmark::State& state, const std::string& device, bool prefill,
         ModelConfig cfg = model_config_of(1024, 4, 4, 128, 128)) {
  GPT model;
  gpt_create(model, cfg, select_backend(device), 1, 1, false);
  gpt_init_parameters(model, 1);
  time_generation(state, model, random_prompts((int)state.range(0), cfg.vocab_size, 32, 64),
                  96 + kMaxNew, kMaxNew, prefill, false);
  gpt_destroy(model);
}

void BM_sample(benchmark::State& state) { run(state, "cpu", true); }
void BM_sample_no_prefill(benchmark::State& state) { run(state, "cpu", false); }
void BM_sample_ref(benchmark::State& state) { run(state, "cpu-ref", true); }

void BM_sample_cuda(benchmark::State& state) { run(state, "cuda", true); }
void BM_sample_cuda_gpu_echo(benchmark::State& state) {
  run(state, "cuda", true, model_config_of(4096, 8, 8, 512, 512));
}

// What hf_generate.py measures, on the same checkpoint: see the header.
void BM_sample_checkpoint(benchmark::State& state) {
  const int B = (int)state.range(0), prompt_len = 32, new_tokens = 256;
  const bool bf16 = state.range(1) != 0;
  const std::string dir = checkpoint_resolve(std::getenv("CHAMBER_BENCH_CHECKPOINT"));
  const std::string device = resolve_device_name("auto");
  ModelConfig cfg = checkpoint_model_config(dir);
  if (cfg.context_length < prompt_len + new_tokens) {
    state.SkipWithError(("the checkpoint's context (" + std::to_string(cfg.context_length) +
                         ") is shorter than 32 + 256 positions").c_str());
    return;
  }
  GPT model;
  gpt_create(model, cfg, select_backend(device, bf16 ? "bf16" : "fp32"), 1, 1, false);
  checkpoint_load_weights(dir, model);
  time_generation(state, model, random_prompts(B, cfg.vocab_size, prompt_len, 0),
                  prompt_len + new_tokens, new_tokens, true, true);
  state.SetLabel(device + (bf16 ? " bf16" : " fp32"));
  gpt_destroy(model);
}

BENCHMARK(BM_sample)->Arg(1)->Arg(8)->Arg(64)->Arg(256)->Arg(1024)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_sample_no_prefill)->Arg(1)->Arg(64)->Arg(256)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_sample_ref)->Arg(1)->Arg(64)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

int main(int argc, char** argv) {
#ifdef CHAMBER_HAVE_CUDA
  if (cuda_device_available()) {
    BENCHMARK(BM_sample_cuda)->Arg(1)->Arg(64)->Arg(512)->Unit(benchmark::kMillisecond)->UseRealTime();
    BENCHMARK(BM_sample_cuda_gpu_echo)->Arg(64)->Arg(512)->Unit(benchmark::kMillisecond)->UseRealTime();
  }
#endif
  if (std::getenv("CHAMBER_BENCH_CHECKPOINT")) {
    auto* bench = benchmark::RegisterBenchmark("BM_sample_checkpoint", BM_sample_checkpoint)
                      ->Args({64, 0})
                      ->Args({256, 0});
    if (resolve_device_name("auto") == "cuda") bench->Args({64, 1})->Args({256, 1});
    bench->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(2);
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
