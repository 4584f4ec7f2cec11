// The analytic profile of one training step without a GPU (train/roofline.h): runs a step of a
// config's model through the model code with a backend whose ops compute nothing, and prints
// each op's FLOPs, minimum bytes and predicted time on an H100 or H200, the predicted step time,
// tokens/s and MFU (llm.c's formula: 6 N + 6 L C T FLOPs per token against 989 TFLOP/s).
//
//   build/bench_roofline [CONFIG=configs/gpt2-124m.yaml] [--batch B] [--seq T] [--gpu h100|h200]
//                        [--dtype fp32|bf16] [--attention auto|materialized|flash] [--graph]
//
// The step runs over shape_only_ops() (train/roofline.h): nothing is computed and the arenas cost
// no memory, so this runs anywhere in a fraction of a second.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <string>

#include "engine/model.h"
#include "util/util.h"
#include "train/pretrain.h"
#include "train/profile.h"
#include "train/roofline.h"

using namespace chamber;

int main(int argc, char** argv) {
  std::string config = "configs/gpt2-124m.yaml", gpu = "h100", dtype = "fp32", attention = "auto";
  int B = 0, T = 0;
  bool graph = false;
  CLI::App app{"The analytic profile of one training step, without a GPU"};
  app.add_option("config", config, "pretraining config (default configs/gpt2-124m.yaml)");
  app.add_option("--batch", B, "sequences per step (default the config's train.batch_size)");
  app.add_option("--seq", T, "tokens per sequence (default the config's train.seq_len)");
  app.add_option("--gpu", gpu, "h100 | h200")->check(CLI::IsMember({"h100", "h200"}));
  app.add_option("--dtype", dtype, "fp32 (TF32 products, as the engine runs today) | bf16")
      ->check(CLI::IsMember({"fp32", "bf16"}));
  app.add_option("--attention", attention, "auto (the GPU's rule) | materialized | flash")
      ->check(CLI::IsMember({"auto", "materialized", "flash"}));
  app.add_flag("--graph", graph, "the optimizer in the CUDA graph too (the engine captures each micro-step; this drops the launch costs of the rest of the step)");
  CLI11_PARSE(app, argc, argv);
  try {
    PretrainConfig cfg = load_pretrain_config(config, {});
    ModelConfig mc = cfg.model;
    if (mc.vocab_size == 0) mc.vocab_size = cfg.data["tokenizer"]["vocab_size"].as<int>(1024);
    model_config_finalize(mc);
    if (B <= 0) B = cfg.train.batch_size;
    if (T <= 0) T = cfg.train.seq_len;
    RooflineDevice device = roofline_device(gpu, dtype);
    device.graph = graph;
    device.attention = attention;
    set_profile_device(device);

    RooflineStep step = predict_step(mc, B, T);
    const int N = B * T;
    std::printf("%s: %d layers, width %d, %d heads, vocabulary %d (padded %d); one step of B %d x T %d\n",
                config.c_str(), mc.n_layer, mc.n_embd, mc.n_head, mc.vocab_size, mc.padded_vocab, B, T);
    print_profile(stdout);
    double tokens_per_s = N / step.seconds;
    std::printf("\npredicted step %.2f ms on %s%s: %.0f tokens/s, MFU %.1f%% (%.3g model FLOP per token "
                "against %.0f TFLOP/s)\n",
                step.seconds * 1e3, device.name.c_str(), graph ? " in a CUDA graph" : "", tokens_per_s,
                100.0 * tokens_per_s * step.model_flops_per_token / kMfuPeakFlops,
                step.model_flops_per_token, kMfuPeakFlops * 1e-12);
  } catch (const Error& e) {
    std::fprintf(stderr, "bench_roofline: %s\n", e.what());
    return 1;
  }
  return 0;
}
