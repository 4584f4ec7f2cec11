// The small pretraining run the loop's tests share: a corpus of 200 short documents over a dozen
// words and a 2-layer model that learns it in a few dozen steps.
#pragma once
#include <string>

#include <yaml-cpp/yaml.h>

#include "train/pretrain.h"
#include "util/util.h"

namespace chamber::testing {

// Writes dir/corpus.txt and returns its path.
inline std::string write_small_corpus(const std::string& dir) {
  std::string text;
  Rng rng(4);
  const char* words[] = {"the", "cat", "sat", "on", "a", "mat", "and", "then", "ran", "to", "dog", "saw"};
  for (int doc = 0; doc < 200; doc++) {
    for (int w = 0; w < 30; w++) text += std::string(words[rng.below(12)]) + (w % 7 == 6 ? ". " : " ");
    text += std::to_string(doc) + "\n\n";
  }
  std::string path = dir + "/corpus.txt";
  write_file_atomic(path, text);
  return path;
}

// `loop`: the train section's keys besides batch_size, seq_len and steps.
inline PretrainConfig small_pretrain_config(const std::string& corpus, int steps, const std::string& loop) {
  std::string yaml = R"(
name: t
model: {n_layer: 2, n_head: 2, n_embd: 32, context_length: 32}
data:
  seed: 3
  val_fraction: 0.1
  tokenizer: {vocab_size: 300}
  sources: [{kind: text, path: )" + corpus + R"(}]
optim: {lr: 3.0e-3, min_lr: 3.0e-4, warmup_steps: 3}
train: {batch_size: 4, seq_len: 32, steps: )" + std::to_string(steps) + ", " + loop + R"(}
)";
  return parse_pretrain_config(YAML::Load(yaml), "test.yaml");
}

}  // namespace chamber::testing
