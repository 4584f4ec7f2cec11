// Fixtures for the `chamber import --format hf` tests: a small Chamber checkpoint with every
// parameter random, its Hugging Face export, and the import and export commands run in-process.
#pragma once
#include <CLI/CLI.hpp>

#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "data/tokenizer.h"
#include "engine/checkpoint.h"
#include "engine/config.h"
#include "tests/train/cli_harness.h"
#include "util/util.h"

namespace chamber::testing {

inline const char* kHfFixtureText =
    "The apples cost 123 dollars, and 45 more. Total: 168! She sold 48 clips in April. "
    "Then she sold half as many clips in May. How many clips did she sell altogether? ";

// Writes dir/ckpt: n_layer 2, n_head 2, n_embd 16, context 32, a tokenizer of up to 300 tokens.
// Every parameter is random except the value head and the padded vocabulary rows, which stay
// zero as training leaves them (an export carries neither).
inline std::string make_hf_fixture_checkpoint(const std::string& dir, bool tied) {
  std::vector<std::string> texts(4, kHfFixtureText);
  Tokenizer tok = tokenizer_train(texts, 300);
  tokenizer_save(tok, dir + "/fixture_tokenizer.json");
  ModelConfig cfg = model_config_of(tok.vocab_size(), 2, 2, 16, 32);
  cfg.tied_embeddings = tied;
  GPT m;
  gpt_create(m, cfg, reference_ops(), 1, 2, false);
  std::vector<float> host(m.param_arena.bytes / sizeof(float), 0.0f);
  Rng rng(tied ? 11 : 12);
  for (const auto& slot : m.param_table) {
    if (slot.name == "value_w" || slot.name == "value_b") continue;
    float* w = host.data() + slot.offset / sizeof(float);
    size_t rows = slot.name == "wte" || slot.name == "lm_head" ? (size_t)cfg.vocab_size * cfg.n_embd : slot.numel();
    for (size_t i = 0; i < rows; i++) w[i] = 0.3f * rng.normal();
  }
  gpt_parameters_from_host(m, host);
  YAML::Node root;
  root["model"] = model_config_yaml(cfg);
  YAML::Emitter e;
  e << root;
  std::string out = checkpoint_save({dir, "ckpt", {{"step", 0}}, e.c_str(), dir + "/fixture_tokenizer.json", false}, m);
  gpt_destroy(m);
  return out;
}

inline void hf_export(const std::string& checkpoint, const std::string& out) {
  run_cli_with(register_model_commands, {"export", "--checkpoint", checkpoint, "--format", "hf", "--out", out});
}

inline void hf_import(const std::string& in, const std::string& out, bool overwrite = false) {
  std::vector<std::string> args = {"import", "--format", "hf", "--in", in, "--out", out};
  if (overwrite) args.push_back("--overwrite");
  run_cli_with(register_import_commands, args);
}

}  // namespace chamber::testing
