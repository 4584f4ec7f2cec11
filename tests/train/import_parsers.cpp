// `chamber import --format hf` on corrupt or mismatched inputs: every case is a chamber::Error
// naming the file and the field or tensor (both shapes for a wrong shape), and nothing is written.
// Also how --out and --overwrite behave. Runs under ASan+UBSan with the other parsers.
#include <gtest/gtest.h>

#include <filesystem>
#include <limits>

#include <nlohmann/json.hpp>

#include "engine/safetensors.h"
#include "tests/test_util.h"
#include "tests/train/hf_fixture.h"

namespace chamber {
namespace {

using json = nlohmann::json;
using testing::contains;
using testing::error_of;

// One valid export, made once, that each case copies and damages.
const std::string& good_hf_dir() {
  static std::string dir = [] {
    std::string d = testing::temp_dir("import-good");
    testing::hf_export(testing::make_hf_fixture_checkpoint(d, true), d + "/hf");
    return d + "/hf";
  }();
  return dir;
}

// A fresh copy of the good export in case_dir/hf.
std::string copy_of_good(const std::string& case_dir) {
  std::string hf = case_dir + "/hf";
  make_dirs(hf);
  for (const char* f : {"model.safetensors", "config.json", "tokenizer.json"})
    write_file_atomic(hf + "/" + f, read_file(good_hf_dir() + "/" + f));
  return hf;
}

// Imports case_dir/hf into case_dir/out/ckpt and returns the error; checks nothing was written.
std::string import_error(const std::string& case_dir) {
  std::string err = error_of([&] { testing::hf_import(case_dir + "/hf", case_dir + "/out/ckpt"); });
  EXPECT_FALSE(std::filesystem::exists(case_dir + "/out")) << "something was written for: " << err;
  return err;
}

std::string with_config(const std::string& name, const std::function<void(json&)>& edit) {
  std::string dir = testing::temp_dir(name);
  std::string hf = copy_of_good(dir);
  json cfg = json::parse(read_file(hf + "/config.json"));
  edit(cfg);
  write_file_atomic(hf + "/config.json", cfg.dump(2));
  return import_error(dir);
}

// Rewrites model.safetensors through edit(tensors): each has a name, shape and its data.
struct Tensor {
  std::string name;
  std::vector<int64_t> shape;
  std::vector<float> data;
};
std::string with_tensors_dir(const std::string& name, const std::function<void(std::vector<Tensor>&)>& edit) {
  std::string dir = testing::temp_dir(name);
  std::string hf = copy_of_good(dir);
  SafetensorsFile f = safetensors_load(hf + "/model.safetensors");
  std::vector<Tensor> tensors;
  for (const auto& [n, e] : f.entries) {
    Tensor t{n, e.shape, std::vector<float>((e.end - e.begin) / 4)};
    f.read_f32(n, e.shape, t.data.data());
    tensors.push_back(std::move(t));
  }
  edit(tensors);
  std::vector<TensorToWrite> out;
  for (const Tensor& t : tensors) out.push_back({t.name, t.shape, t.data.data()});
  write_file_atomic(hf + "/model.safetensors", safetensors_serialize(out, {{"format", "pt"}}));
  return dir;
}
std::string with_tensors(const std::string& name, const std::function<void(std::vector<Tensor>&)>& edit) {
  return import_error(with_tensors_dir(name, edit));
}

Tensor& find(std::vector<Tensor>& ts, const std::string& name) {
  for (Tensor& t : ts) if (t.name == name) return t;
  throw std::runtime_error("fixture has no tensor " + name);
}

void run_cli_with_format(const std::string& in, const std::string& out, const std::string& format) {
  testing::run_cli_with(register_import_commands, {"import", "--format", format, "--in", in, "--out", out});
}

TEST(ImportParsers, GoodExportImports) {
  std::string dir = testing::temp_dir("import-ok");
  copy_of_good(dir);
  EXPECT_EQ(error_of([&] { testing::hf_import(dir + "/hf", dir + "/out/ckpt"); }), "");
  EXPECT_TRUE(file_exists(dir + "/out/ckpt/model.safetensors"));
  // No temporary is left beside the checkpoint.
  int entries = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir + "/out")) {
    EXPECT_EQ(e.path().filename(), "ckpt");
    entries++;
  }
  EXPECT_EQ(entries, 1);
}

TEST(ImportParsers, ConfigThatChamberCannotRepresent) {
  struct Case {
    const char* name;
    std::function<void(json&)> edit;
    std::vector<std::string> expect;
  };
  const std::vector<Case> cases = {
      {"gelu", [](json& c) { c["activation_function"] = "gelu"; }, {"config.json", "'activation_function'", "\"gelu\""}},
      {"eps", [](json& c) { c["layer_norm_epsilon"] = 1e-6; }, {"config.json", "'layer_norm_epsilon'", "1e-05"}},
      {"eps-text", [](json& c) { c["layer_norm_epsilon"] = "small"; }, {"'layer_norm_epsilon'"}},
      {"no-layers", [](json& c) { c.erase("n_layer"); }, {"config.json", "'n_layer' is missing"}},
      {"layers-text", [](json& c) { c["n_layer"] = "2"; }, {"'n_layer' must be a whole number"}},
      {"layers-huge", [](json& c) { c["n_layer"] = 1e12; }, {"'n_layer'"}},
      {"layers-zero", [](json& c) { c["n_layer"] = 0; }, {"config.json: 'n_layer' is 0; Chamber's model allows 1 to 256"}},
      {"layers-negative", [](json& c) { c["n_layer"] = -1; }, {"'n_layer' is -1; Chamber's model allows 1 to 256"}},
      {"heads", [](json& c) { c["n_head"] = 3; }, {"'n_embd' (16) must be divisible by 'n_head' (3)"}},
      {"inner", [](json& c) { c["n_inner"] = 40; }, {"'n_inner' is 40", "64"}},
      {"ctx", [](json& c) { c["n_ctx"] = 16; }, {"'n_ctx' (16) differs from 'n_positions' (32)"}},
      {"no-positions", [](json& c) { c.erase("n_positions"); c.erase("n_ctx"); }, {"'n_positions' is missing"}},
      {"type", [](json& c) { c["model_type"] = "llama"; }, {"'model_type'", "llama"}},
      {"layer-scale", [](json& c) { c["scale_attn_by_inverse_layer_idx"] = true; }, {"'scale_attn_by_inverse_layer_idx'"}},
      {"unscaled", [](json& c) { c["scale_attn_weights"] = false; }, {"'scale_attn_weights'"}},
      {"cross", [](json& c) { c["add_cross_attention"] = true; }, {"'add_cross_attention'"}},
      {"more-layers", [](json& c) { c["n_layer"] = 3; },
       {"model.safetensors", "tensor 'transformer.h.2.ln_1.weight' is missing"}},
      {"wider", [](json& c) { c["n_embd"] = 32; },
       {"model.safetensors", "'transformer.wte.weight' has shape [", ", 16], the model expects [", ", 32]"}},
      {"small-vocab", [](json& c) { c["vocab_size"] = 100; }, {"the tokenizer has", "vocab_size is only 100"}},
      {"untied", [](json& c) { c["tie_word_embeddings"] = false; }, {"tensor 'lm_head.weight' is missing"}},
  };
  for (const Case& c : cases) {
    std::string err = with_config(std::string("import-config-") + c.name, c.edit);
    for (const std::string& part : c.expect) EXPECT_TRUE(contains(err, part)) << c.name << ": " << err;
  }
  std::string dir = testing::temp_dir("import-config-json");
  write_file_atomic(copy_of_good(dir) + "/config.json", "{\"n_layer\": 2,");
  std::string err = import_error(dir);
  EXPECT_TRUE(contains(err, "config.json: not valid JSON")) << err;
  dir = testing::temp_dir("import-config-missing");
  remove_all(copy_of_good(dir) + "/config.json");
  err = import_error(dir);
  EXPECT_TRUE(contains(err, "config.json")) << err;
}

TEST(ImportParsers, TensorsMissingMisshapenOrForeign) {
  std::string err = with_tensors("import-t-missing", [](std::vector<Tensor>& ts) {
    std::erase_if(ts, [](const Tensor& t) { return t.name == "transformer.h.1.attn.c_proj.bias"; });
  });
  EXPECT_TRUE(contains(err, "model.safetensors: tensor 'transformer.h.1.attn.c_proj.bias' is missing")) << err;
  err = with_tensors("import-t-shape", [](std::vector<Tensor>& ts) {
    Tensor& t = find(ts, "transformer.wpe.weight");
    t.shape = {31, 16};
    t.data.resize(31 * 16);
  });
  EXPECT_TRUE(contains(err, "'transformer.wpe.weight' has shape [31, 16], the model expects [32, 16]")) << err;
  err = with_tensors("import-t-transposed", [](std::vector<Tensor>& ts) {
    find(ts, "transformer.h.0.mlp.c_fc.weight").shape = {64, 16};  // (out, in): not Conv1D's layout
  });
  EXPECT_TRUE(contains(err, "'transformer.h.0.mlp.c_fc.weight' has shape [64, 16], the model expects [16, 64]")) << err;
  err = with_tensors("import-t-extra", [](std::vector<Tensor>& ts) {
    ts.push_back({"transformer.h.0.attn.rotary.weight", {2}, {1.0f, 2.0f}});
  });
  EXPECT_TRUE(contains(err, "'transformer.h.0.attn.rotary.weight' is not part of a GPT-2")) << err;
  err = with_tensors("import-t-nan", [](std::vector<Tensor>& ts) {
    find(ts, "transformer.ln_f.bias").data[3] = std::numeric_limits<float>::quiet_NaN();
  });
  EXPECT_TRUE(contains(err, "'transformer.ln_f.bias' holds a non-finite value")) << err;
  err = with_tensors("import-t-head", [](std::vector<Tensor>& ts) {
    Tensor head = find(ts, "transformer.wte.weight");
    head.name = "lm_head.weight";
    head.data[5] += 1.0f;
    ts.push_back(head);
  });
  EXPECT_TRUE(contains(err, "'lm_head.weight' differs from 'transformer.wte.weight'")) << err;
  // A tied head stored as well, equal to the embedding, and the causal-mask buffers older
  // transformers saved, are accepted.
  std::string dir = with_tensors_dir("import-t-buffers", [](std::vector<Tensor>& ts) {
    Tensor head = find(ts, "transformer.wte.weight");
    head.name = "lm_head.weight";
    ts.push_back(head);
    ts.push_back({"transformer.h.0.attn.bias", {1, 1, 2, 2}, {1, 0, 1, 1}});
    ts.push_back({"transformer.h.1.attn.masked_bias", {}, {-1e4f}});
  });
  EXPECT_EQ(error_of([&] { testing::hf_import(dir + "/hf", dir + "/out/ckpt"); }), "");
  // Names without "transformer." (a GPT2Model's, as OpenAI's gpt2 on the Hub has them) too.
  dir = with_tensors_dir("import-t-bare", [](std::vector<Tensor>& ts) {
    for (Tensor& t : ts) t.name = t.name.substr(std::string("transformer.").size());
  });
  EXPECT_EQ(error_of([&] { testing::hf_import(dir + "/hf", dir + "/out/ckpt"); }), "");
  testing::hf_import(good_hf_dir(), dir + "/out/from_good");
  EXPECT_EQ(read_file(dir + "/out/ckpt/model.safetensors"), read_file(dir + "/out/from_good/model.safetensors"));
}

TEST(ImportParsers, CorruptSafetensors) {
  const std::string good = read_file(good_hf_dir() + "/model.safetensors");
  uint64_t header_len = 0;
  for (int i = 0; i < 8; i++) header_len |= (uint64_t)(unsigned char)good[i] << (8 * i);
  std::vector<std::string> bad = {"", good.substr(0, 7), good.substr(0, 8 + header_len / 2),
                                  good.substr(0, good.size() - 4)};
  std::string huge = good;
  huge[7] = (char)0x7f;  // header length far past the end
  bad.push_back(huge);
  std::string dtype = good;
  size_t at = dtype.find("\"F32\"");
  dtype.replace(at, 5, "\"I64\"");
  bad.push_back(dtype);
  for (size_t i = 0; i < bad.size(); i++) {
    std::string dir = testing::temp_dir("import-st-" + std::to_string(i));
    write_file_atomic(copy_of_good(dir) + "/model.safetensors", bad[i]);
    std::string err = import_error(dir);
    EXPECT_TRUE(contains(err, "model.safetensors")) << i << ": " << err;
  }
}

TEST(ImportParsers, TokenizerMissingOrCorrupt) {
  std::string dir = testing::temp_dir("import-tok-none");
  remove_all(copy_of_good(dir) + "/tokenizer.json");
  EXPECT_TRUE(contains(import_error(dir), "no tokenizer: expected tokenizer.json, or vocab.json and merges.txt"));
  write_file_atomic(dir + "/hf/vocab.json", "{}");  // half of the pair is still none
  EXPECT_TRUE(contains(import_error(dir), "no tokenizer"));
  dir = testing::temp_dir("import-tok-json");
  write_file_atomic(copy_of_good(dir) + "/tokenizer.json", "{\"model\": ");
  EXPECT_TRUE(contains(import_error(dir), "tokenizer.json: not valid JSON"));
  dir = testing::temp_dir("import-tok-added");
  std::string hf = copy_of_good(dir);
  json tok = json::parse(read_file(hf + "/tokenizer.json"));
  tok["added_tokens"].push_back({{"id", 5000}, {"content", "<pad>"}});
  write_file_atomic(hf + "/tokenizer.json", tok.dump());
  std::string err = import_error(dir);
  EXPECT_TRUE(contains(err, "tokenizer.json: added token \"<pad>\" (id 5000)")) << err;
}

TEST(ImportParsers, OutAndOverwrite) {
  std::string dir = testing::temp_dir("import-out");
  std::string hf = copy_of_good(dir);
  EXPECT_TRUE(contains(error_of([&] { run_cli_with_format(hf, dir + "/x", "gguf"); }), "--format gguf"));
  // An existing checkpoint is kept unless --overwrite.
  testing::hf_import(hf, dir + "/ckpt");
  write_file_atomic(dir + "/ckpt/marker", "old");
  std::string err = error_of([&] { testing::hf_import(hf, dir + "/ckpt"); });
  EXPECT_TRUE(contains(err, "already exists; pass --overwrite")) << err;
  EXPECT_TRUE(file_exists(dir + "/ckpt/marker"));
  EXPECT_EQ(error_of([&] { testing::hf_import(hf, dir + "/ckpt/", true); }), "");
  EXPECT_FALSE(file_exists(dir + "/ckpt/marker"));  // replaced as a whole
  EXPECT_TRUE(file_exists(dir + "/ckpt/model.safetensors"));
  // A directory that is not a checkpoint is never replaced.
  make_dirs(dir + "/notes");
  write_file_atomic(dir + "/notes/keep.txt", "mine");
  err = error_of([&] { testing::hf_import(hf, dir + "/notes", true); });
  EXPECT_TRUE(contains(err, "is not a Chamber checkpoint")) << err;
  EXPECT_EQ(read_file(dir + "/notes/keep.txt"), "mine");
  write_file_atomic(dir + "/file", "x");
  EXPECT_TRUE(contains(error_of([&] { testing::hf_import(hf, dir + "/file", true); }), "is not a directory"));
  EXPECT_TRUE(contains(error_of([&] { testing::hf_import(hf, dir + "/..", true); }), "plain name"));
  EXPECT_TRUE(contains(error_of([&] { testing::hf_import(dir + "/nowhere", dir + "/y"); }), "no such directory"));
  // A failed --overwrite leaves the old checkpoint in place.
  write_file_atomic(hf + "/config.json", "[]");
  EXPECT_TRUE(contains(error_of([&] { testing::hf_import(hf, dir + "/ckpt", true); }), "config.json"));
  EXPECT_TRUE(file_exists(dir + "/ckpt/model.safetensors"));
}

}  // namespace
}  // namespace chamber
