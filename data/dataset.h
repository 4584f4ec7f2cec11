// Data specs: which sources make up a pretraining mixture, in what proportions, and the build step
// that turns a spec into tokenizer.json + token shards + manifest.json.
//
// YAML (unknown keys and values out of range are errors naming the key and its line):
//   seed: 1                      # shuffling, synthetic problems, val split
//   tokens: 3000000              # total budget; required iff some source has a `weight`
//   val_fraction: 0.02           # share of tokens (whole documents) held out as val_*.bin, > 0:
//                                #   pretraining evaluates on them
//   shard_tokens: 50000000       # max tokens per shard file
//   tokenizer: {vocab_size: 512, sample_bytes: 2000000}   # train one on a sample of the mix, or
//   tokenizer: {path: runs/base/tokenizer.json}           # reuse an existing one
//   sources:
//     - {kind: synthetic, style: tinygsm, split: train, ops: [1, 3], weight: 1}
//     - {kind: synthetic, style: omi1, split: train, count: 5000, repeat: 2}
//     - {kind: jsonl, importer: gsm8k, path: ../shared/data/gsm8k/train.jsonl, repeat: 1}
//     - {kind: jsonl, importer: text, field: content, path: notes.jsonl, weight: 0.5}
//     - {kind: text, path: notes.txt, weight: 1}    # documents separated by a blank line
//
// Proportions. A source with `repeat: r` (file sources, or synthetic with `count`) contributes
// every document r times (fractional r: the first fraction of a further pass); that is a fixed
// number of tokens R_i. Sources with `weight: w` share what is left of the budget,
// (tokens - sum R_i), in proportion to w; they cycle through their documents (or generate new
// problems) until their share is reached, so each realised share is off by at most one document.
// A source with neither gets repeat 1. Relative paths are relative to the working directory (the
// repository root for the `chamber` command and the tests).
//
// Every document is followed by <|endoftext|>; documents are shuffled (seed) before the split into
// train and val, so every window of a batch mixes sources.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <yaml-cpp/yaml.h>

namespace chamber {

// Limits on what a spec may ask for. The build holds the whole mixture in memory, so a budget
// beyond these would end in an allocation failure (or hours of generation) rather than a dataset.
inline constexpr int64_t kMaxDataTokens = 2'000'000'000;     // tokens, and the fixed sources' total
inline constexpr int64_t kMaxSourceCount = 10'000'000;       // a synthetic source's `count`
inline constexpr double kMaxRepeat = 1'000'000;              // passes over a source's documents
inline constexpr double kMaxWeight = 1e9;                    // weights are relative to each other
inline constexpr int64_t kMaxTokenizerSampleBytes = 1'000'000'000;

struct DataSource {
  std::string name;           // label in the manifest (default: style or importer, made unique)
  std::string kind;           // synthetic | jsonl | text
  // synthetic
  std::string style;          // tinygsm | tinygsm_short | omi1 | omi2 | omi2_steps | gsm8k | mathtext
  std::string split = "train";
  int min_ops = 0, max_ops = 0;  // 0 = the split's default range
  int64_t count = 0;          // fixed pool of problems (0 = generate as many as the weight needs)
  // jsonl / text
  std::string importer;       // jsonl: gsm8k | math | tinygsm | omi1 | omi2 | text
  std::string field = "text"; // jsonl with importer text
  std::string path;
  std::string separator = "\n\n";  // text files: between documents
  // proportion: exactly one is > 0 after parsing
  double weight = 0.0;
  double repeat = 0.0;
  int line = 0;               // YAML line, for messages
};

struct DataSpec {
  std::string name_for_errors;    // the config file, for messages
  std::vector<DataSource> sources;
  int64_t tokens = 0;
  double val_fraction = 0.02;
  int64_t shard_tokens = 50'000'000;
  uint64_t seed = 1;
  int vocab_size = 512;
  std::string tokenizer_path;     // non-empty: reuse this tokenizer.json
  int64_t tokenizer_sample_bytes = 2'000'000;
};

DataSpec data_spec_from_yaml(const YAML::Node& node, const std::string& name_for_errors);
DataSpec data_spec_load(const std::string& yaml_path);
nlohmann::json data_spec_to_json(const DataSpec& spec);   // canonical; its hash keys the cache

// Tokens of held-out documents kept per source (whole documents, so a little more), for measuring
// a model's fit to each source apart (RL's nll_<source>); none of them is in the training split.
inline constexpr int64_t kHeldoutTokensPerSource = 4096;

// Builds the dataset into out_dir: tokenizer.json, train_NNN.bin, val_NNN.bin, manifest.json, and
// heldout_NNN.bin per source, listed in the manifest's heldout_shards as
// {"source": name, "shard": file, "tokens": n, "documents": d} (a file source whose val documents
// are all in training too has none; manifests from before it have no heldout_shards key).
// Skips everything (and returns the existing manifest) when out_dir/manifest.json records the same
// spec hash (spec + input file contents + generator version) and its shards exist. Prints progress
// to stderr when verbose.
nlohmann::json dataset_build(const DataSpec& spec, const std::string& out_dir, bool verbose = true);

// Documents of one source in order, before any repetition or token budget (for `data sample` and
// tests). For an unbounded synthetic source, `limit` problems (the default if limit <= 0: 100).
std::vector<std::string> data_source_documents(const DataSource& src, uint64_t seed, int64_t limit = 0);

}  // namespace chamber
