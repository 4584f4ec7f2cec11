// The tiny pretrained checkpoints the RL tests start from (a few steps of a 1-layer model on the
// CPU reference backend), and quiet run options.
#pragma once
#include <string>

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include "data/mathworld.h"
#include "train/metrics.h"
#include "train/pretrain.h"
#include "train/rl.h"
#include "util/util.h"

namespace chamber::testing {

// Pretrains dir/pt for 4 steps on `data` (a data spec in YAML flow or block style, indented for
// the `data:` key) and returns its checkpoint.
inline std::string tiny_pretrained(const std::string& dir, const std::string& data, int context_length) {
  std::string yaml = "name: t\nmodel: {n_layer: 1, n_head: 2, n_embd: 16, context_length: " +
                     std::to_string(context_length) + "}\ndata:\n" + data + R"(
optim: {lr: 3.0e-3, min_lr: 3.0e-4, warmup_steps: 2}
train: {batch_size: 4, seq_len: 48, steps: 4, eval_interval: 0, log_interval: 100, device: cpu-ref}
)";
  PretrainOptions o;
  o.out_dir = dir + "/pt";
  o.quiet = true;
  return run_pretrain(parse_pretrain_config(YAML::Load(yaml), "t.yaml"), o);
}

// The usual one: TinyGSM-style documents of 60 math-world problems.
inline std::string tiny_tinygsm_checkpoint(const std::string& dir) {
  std::string text;
  for (const MathProblem& p : mathworld_generate("train", 60, 1, 1, 2))
    text += mathworld_document(p, "tinygsm") + "\n\n";
  write_file_atomic(dir + "/corpus.txt", text);
  return tiny_pretrained(dir,
                         "  seed: 3\n  val_fraction: 0.1\n  tokenizer: {vocab_size: 300}\n"
                         "  sources: [{kind: text, path: " + dir + "/corpus.txt}]",
                         160);
}

// A resumed run equals the uninterrupted one: the same metrics, line by line, and the same final
// weights (the runs' directories, 5 steps).
inline void expect_same_rl_runs(const std::string& full, const std::string& resumed) {
  auto a = metrics_read(full + "/metrics.jsonl"), b = metrics_read(resumed + "/metrics.jsonl");
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); i++)
    for (const char* key : {"step", "reward", "kl", "value_loss", "sft_loss", "eval_pass1", "response_length"})
      if (a[i].contains(key)) {
        EXPECT_EQ(a[i][key], b[i][key]) << key << " line " << i;
      }
  EXPECT_EQ(read_file(full + "/checkpoints/step_00000005/model.safetensors"),
            read_file(resumed + "/checkpoints/step_00000005/model.safetensors"));
}

inline RLOptions quiet_rl(const std::string& out, bool resume = false) {
  RLOptions o;
  o.out_dir = out;
  o.quiet = true;
  o.resume = resume;
  return o;
}

}  // namespace chamber::testing
