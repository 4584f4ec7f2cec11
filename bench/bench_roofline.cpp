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
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "engine/model.h"
#include "engine/util.h"
#include "train/pretrain.h"
#include "train/profile.h"
#include "train/roofline.h"

using namespace chamber;

namespace {

int usage(const char* why) {
  std::fprintf(stderr,
               "bench_roofline: %s\nusage: bench_roofline [CONFIG] [--batch B] [--seq T] [--gpu h100|h200] "
               "[--dtype fp32|bf16] [--attention auto|materialized|flash] [--graph]\n",
               why);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::string config = "configs/gpt2-124m.yaml", gpu = "h100", dtype = "fp32", attention = "auto";
  int B = 0, T = 0;
  bool graph = false;
  for (int i = 1; i < argc; i++) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw Error(a + " needs a value");
      return argv[++i];
    };
    try {
      if (a == "--batch") B = std::stoi(value());
      else if (a == "--seq") T = std::stoi(value());
      else if (a == "--gpu") gpu = value();
      else if (a == "--dtype") dtype = value();
      else if (a == "--attention") attention = value();
      else if (a == "--graph") graph = true;
      else if (!a.empty() && a[0] != '-') config = a;
      else return usage(("unknown option " + a).c_str());
    } catch (const std::exception& e) {
      return usage(e.what());
    }
  }
  try {
    PretrainConfig cfg = load_pretrain_config(config, {});
    ModelConfig mc = cfg.model;
    if (mc.vocab_size == 0) mc.vocab_size = cfg.data["tokenizer"]["vocab_size"].as<int>(1024);
    model_config_finalize(mc);
    if (B <= 0) B = cfg.train.batch_size;
    if (T <= 0) T = cfg.train.seq_len;
    RooflineDevice device = roofline_device(gpu, dtype);
    device.graph = graph;
    if (attention != "auto" && attention != "materialized" && attention != "flash")
      return usage(("unknown attention path " + attention).c_str());
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
