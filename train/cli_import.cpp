// `chamber import --format hf --in DIR --out CHECKPOINT [--overwrite]`: a GPT-2 in Hugging Face
// layout (model.safetensors, config.json, and tokenizer.json or vocab.json + merges.txt) becomes a
// Chamber checkpoint, the kind `chamber pretrain` writes, so `chamber rl --init`, `eval`, `sample`
// and `score` take it. The reverse of `chamber export --format hf` (train/cli_model.cpp): export
// then import gives back the same weights, model shape and tokenizer.
//
// Every input is untrusted. config.json is read field by field, and what Chamber's model cannot
// compute (another activation or LayerNorm epsilon, an inner MLP width other than 4C, cross
// attention, scaled attention variants) is refused naming the field and the file. Every tensor is
// checked for its name, dtype, shape (both shapes named on a mismatch) and finite values; tensors
// that are not part of a GPT-2 LM are refused. The tokenizer is renumbered into Chamber's order
// (data/tokenizer_import.h) and the embedding rows move with their tokens. Nothing is written
// until everything has been read and checked; the checkpoint is then written atomically.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <set>

#include <nlohmann/json.hpp>
#include <yaml-cpp/yaml.h>

#include "data/tokenizer_import.h"
#include "engine/checkpoint.h"
#include "engine/config.h"
#include "engine/safetensors.h"
#include "kernels/layernorm.h"
#include "util/util.h"
#include "train/cli.h"

namespace chamber {

namespace {

using json = nlohmann::json;

// A config.json field, or null when absent or JSON null (then Hugging Face uses its default).
const json& field_or_null(const json& cfg, const char* key) {
  static const json null_value;
  auto it = cfg.find(key);
  return it == cfg.end() ? null_value : *it;
}

int int_field(const json& cfg, const std::string& path, const char* key, int lo, int hi) {
  const json& v = field_or_null(cfg, key);
  if (v.is_null()) fail(path, ": the field '", key, "' is missing");
  if (!v.is_number_integer()) fail(path, ": '", key, "' must be a whole number, not ", v.dump());
  const bool in_range = v.is_number_unsigned() ? v.get<uint64_t>() >= (uint64_t)lo && v.get<uint64_t>() <= (uint64_t)hi
                                               : v.get<int64_t>() >= lo && v.get<int64_t>() <= hi;
  if (!in_range)
    fail(path, ": '", key, "' is ", v.dump(), "; Chamber's model allows ", lo, " to ", hi);
  return v.get<int>();
}

// A boolean field that must have the value Chamber's model computes (absent: Hugging Face's default).
bool bool_field(const json& cfg, const std::string& path, const char* key, bool fallback) {
  const json& v = field_or_null(cfg, key);
  if (v.is_null()) return fallback;
  if (!v.is_boolean()) fail(path, ": '", key, "' must be true or false, not ", v.dump());
  return v.get<bool>();
}

void require_bool(const json& cfg, const std::string& path, const char* key, bool fallback, bool needed,
                  const char* why) {
  if (bool_field(cfg, path, key, fallback) != needed)
    fail(path, ": '", key, "' is ", needed ? "false" : "true", "; Chamber's model cannot represent it (", why, ")");
}

// config.json -> the model shape, refusing what Chamber's GPT-2 does not compute.
ModelConfig read_hf_config(const std::string& path) {
  json cfg;
  try {
    cfg = json::parse(read_file(path));
  } catch (const json::exception& e) {
    fail(path, ": not valid JSON (", e.what(), ")");
  }
  if (!cfg.is_object()) fail(path, ": the top level must be a JSON object");
  const json& type = field_or_null(cfg, "model_type");
  if (!type.is_null() && type != "gpt2")
    fail(path, ": 'model_type' is ", type.dump(), "; Chamber imports GPT-2 models (\"gpt2\")");
  const json& act = field_or_null(cfg, "activation_function");
  if (!act.is_null() && act != "gelu_new" && act != "gelu_pytorch_tanh")
    fail(path, ": 'activation_function' is ", act.dump(), "; Chamber's MLP computes the tanh approximation "
         "of GELU (\"gelu_new\") and cannot represent another activation");
  const json& eps = field_or_null(cfg, "layer_norm_epsilon");
  if (!eps.is_null() && (!eps.is_number() || eps.get<double>() != kLayerNormEps))
    fail(path, ": 'layer_norm_epsilon' is ", eps.dump(), "; Chamber's LayerNorm uses ", format_number(kLayerNormEps),
         " and cannot represent another epsilon");
  require_bool(cfg, path, "scale_attn_weights", true, true, "attention scores are always divided by sqrt(head size)");
  require_bool(cfg, path, "scale_attn_by_inverse_layer_idx", false, false, "no per-layer attention scaling");
  require_bool(cfg, path, "add_cross_attention", false, false, "a decoder-only model has no cross attention");

  ModelConfig c;
  // The same bounds as a Chamber config's model section (engine/config.cpp).
  c.n_layer = int_field(cfg, path, "n_layer", 1, 256);
  c.n_head = int_field(cfg, path, "n_head", 1, 256);
  c.n_embd = int_field(cfg, path, "n_embd", 1, 65536);
  c.vocab_size = int_field(cfg, path, "vocab_size", 1, 1 << 22);
  const bool has_positions = !field_or_null(cfg, "n_positions").is_null();
  const bool has_ctx = !field_or_null(cfg, "n_ctx").is_null();
  if (!has_positions && !has_ctx) fail(path, ": the field 'n_positions' is missing (nor is there 'n_ctx')");
  c.context_length = int_field(cfg, path, has_positions ? "n_positions" : "n_ctx", 2, 1 << 20);
  if (has_positions && has_ctx && int_field(cfg, path, "n_ctx", 2, 1 << 20) != c.context_length)
    fail(path, ": 'n_ctx' (", cfg["n_ctx"].dump(), ") differs from 'n_positions' (", cfg["n_positions"].dump(),
         "); Chamber's model has one context length");
  if (c.n_embd % c.n_head != 0)
    fail(path, ": 'n_embd' (", c.n_embd, ") must be divisible by 'n_head' (", c.n_head, ")");
  const json& inner = field_or_null(cfg, "n_inner");
  if (!inner.is_null() && inner != 4 * c.n_embd)
    fail(path, ": 'n_inner' is ", inner.dump(), "; Chamber's MLP is 4 * n_embd = ", 4 * c.n_embd, " wide");
  c.tied_embeddings = bool_field(cfg, path, "tie_word_embeddings", true);
  c.value_head = true;  // PPO's value head, zero like a fresh model's
  model_config_finalize(c);
  return c;
}

// Hugging Face GPT-2: Conv1D weights are stored (in, out), the transpose of our (out, in).
void transpose_into(float* dst, const float* src, int64_t in_f, int64_t out_f) {
  for (int64_t i = 0; i < in_f; i++)
    for (int64_t o = 0; o < out_f; o++) dst[o * in_f + i] = src[i * out_f + o];
}

// model.safetensors -> Chamber's parameters (host, in the order and layout of model's table).
// row_of[h]: the Chamber row of the source's embedding row h (the tokenizer renumbering).
std::vector<float> read_hf_weights(const std::string& path, const GPT& model, const std::vector<int>& row_of) {
  const ModelConfig& cfg = model.cfg;
  const int64_t C = cfg.n_embd, V = cfg.vocab_size, L = cfg.n_layer;
  SafetensorsFile f = safetensors_load(path);
  // Saved from GPT2LMHeadModel, names start "transformer."; from GPT2Model (as OpenAI's gpt2 on
  // the Hub), they do not.
  const std::string prefix = f.entries.count("transformer.wte.weight") || !f.entries.count("wte.weight") ? "transformer." : "";
  std::vector<float> host(model.param_arena.bytes / sizeof(float), 0.0f);
  auto slot = [&](const std::string& name) -> float* {
    for (const auto& s : model.param_table) if (s.name == name) return host.data() + s.offset / sizeof(float);
    fail("internal: no parameter ", name);
  };
  std::set<std::string> used;
  std::vector<float> buf;
  auto read = [&](const std::string& name, std::vector<int64_t> shape) -> const float* {
    size_t n = 1;
    for (int64_t d : shape) n *= (size_t)d;
    buf.resize(n);
    f.read_as_f32(name, shape, buf.data());
    for (size_t i = 0; i < n; i++)
      if (!std::isfinite(buf[i])) fail(path, ": tensor '", name, "' holds a non-finite value (NaN or Inf) at element ", i);
    used.insert(name);
    return buf.data();
  };
  auto copy = [&](const std::string& name, std::vector<int64_t> shape, float* dst) {
    const float* src = read(name, shape);
    std::copy(src, src + buf.size(), dst);
  };
  auto copy_t = [&](const std::string& name, int64_t in_f, int64_t out_f, float* dst) {
    transpose_into(dst, read(name, {in_f, out_f}), in_f, out_f);
  };
  auto embedding = [&](const std::string& name, float* dst) {  // rows move with their tokens
    const float* src = read(name, {V, C});
    for (int64_t h = 0; h < V; h++) std::copy(src + h * C, src + (h + 1) * C, dst + (int64_t)row_of[h] * C);
  };

  embedding(prefix + "wte.weight", slot("wte"));
  copy(prefix + "wpe.weight", {cfg.context_length, C}, slot("wpe"));
  for (int64_t l = 0; l < L; l++) {
    const std::string p = prefix + "h." + std::to_string(l) + ".";
    copy(p + "ln_1.weight", {C}, slot("h.ln1_w") + l * C);
    copy(p + "ln_1.bias", {C}, slot("h.ln1_b") + l * C);
    copy_t(p + "attn.c_attn.weight", C, 3 * C, slot("h.qkv_w") + l * 3 * C * C);
    copy(p + "attn.c_attn.bias", {3 * C}, slot("h.qkv_b") + l * 3 * C);
    copy_t(p + "attn.c_proj.weight", C, C, slot("h.attn_proj_w") + l * C * C);
    copy(p + "attn.c_proj.bias", {C}, slot("h.attn_proj_b") + l * C);
    copy(p + "ln_2.weight", {C}, slot("h.ln2_w") + l * C);
    copy(p + "ln_2.bias", {C}, slot("h.ln2_b") + l * C);
    copy_t(p + "mlp.c_fc.weight", C, 4 * C, slot("h.fc_w") + l * 4 * C * C);
    copy(p + "mlp.c_fc.bias", {4 * C}, slot("h.fc_b") + l * 4 * C);
    copy_t(p + "mlp.c_proj.weight", 4 * C, C, slot("h.fc_proj_w") + l * 4 * C * C);
    copy(p + "mlp.c_proj.bias", {C}, slot("h.fc_proj_b") + l * C);
  }
  copy(prefix + "ln_f.weight", {C}, slot("lnf_w"));
  copy(prefix + "ln_f.bias", {C}, slot("lnf_b"));
  if (!cfg.tied_embeddings) {
    embedding("lm_head.weight", slot("lm_head"));
  } else if (f.entries.count("lm_head.weight")) {
    // Some savers store the tied head as well; it must then be the embedding itself.
    const float* head = read("lm_head.weight", {V, C});
    const float* wte = slot("wte");
    for (int64_t h = 0; h < V; h++)
      if (std::memcmp(head + h * C, wte + (int64_t)row_of[h] * C, C * sizeof(float)) != 0)
        fail(path, ": tensor 'lm_head.weight' differs from '", prefix, "wte.weight' (row ", h, ") although the "
             "config ties them (tie_word_embeddings); set tie_word_embeddings to false to import both");
  }
  for (const auto& [name, entry] : f.entries) {
    if (used.count(name)) continue;
    // The causal-mask buffers older versions of transformers saved are not parameters.
    const bool mask_buffer = name.starts_with(prefix + "h.") &&
                             (name.ends_with(".attn.bias") || name.ends_with(".attn.masked_bias"));
    if (!mask_buffer)
      fail(path, ": tensor '", name, "' is not part of a GPT-2 language model with ", L, " layers; Chamber "
           "cannot represent it");
  }
  return host;
}

void cmd_import(const std::string& format, const std::string& in_dir, std::string out, bool overwrite) {
  if (format != "hf") fail("--format ", format, ": only 'hf' (Hugging Face GPT-2 layout) is supported");
  // ---- where the checkpoint goes: checked first, so a refusal costs nothing ----
  while (out.size() > 1 && out.back() == '/') out.pop_back();
  const std::string name = out.substr(out.find_last_of('/') + 1), root = dirname_of(out);
  if (!is_plain_name(name))
    fail("--out ", out, ": the checkpoint must be a directory with a plain name (not '.', '..' or hidden)");
  std::error_code ec;
  if (std::filesystem::exists(std::filesystem::symlink_status(out, ec))) {
    if (!dir_exists(out)) fail("--out ", out, " exists and is not a directory");
    if (!overwrite) fail("--out ", out, " already exists; pass --overwrite to replace it, or choose another --out");
    if (!file_exists(path_join(out, "model.safetensors")) && !std::filesystem::is_empty(out, ec))
      fail("--out ", out, " is not a Chamber checkpoint (it has no model.safetensors); not replacing it, "
           "even with --overwrite");
  }

  // ---- read and check everything ----
  if (!dir_exists(in_dir)) fail("--in ", in_dir, ": no such directory");
  ModelConfig cfg = read_hf_config(path_join(in_dir, "config.json"));
  ImportedTokenizer tok;
  const std::string tok_json = path_join(in_dir, "tokenizer.json");
  const std::string vocab = path_join(in_dir, "vocab.json"), merges = path_join(in_dir, "merges.txt");
  if (file_exists(tok_json))
    tok = tokenizer_import_hf_json(read_file(tok_json), tok_json);
  else if (file_exists(vocab) && file_exists(merges))
    tok = tokenizer_import_vocab_merges(read_file(vocab), vocab, read_file(merges), merges);
  else
    fail(in_dir, ": no tokenizer: expected tokenizer.json, or vocab.json and merges.txt");
  const int n_tokens = tok.tok.vocab_size();
  if (n_tokens > cfg.vocab_size)
    fail(in_dir, ": the tokenizer has ", n_tokens, " tokens but config.json's vocab_size is only ", cfg.vocab_size);
  std::vector<int> row_of(cfg.vocab_size);
  for (int h = 0; h < cfg.vocab_size; h++) row_of[h] = h < n_tokens ? tok.chamber_id[h] : h;  // rows past the tokenizer stay

  GPT model;
  gpt_create(model, cfg, reference_ops(), 1, 2, false);  // parameters only (a minimal activation arena)
  try {
    gpt_parameters_from_host(model, read_hf_weights(path_join(in_dir, "model.safetensors"), model, row_of));
  } catch (...) {
    gpt_destroy(model);
    throw;
  }

  // ---- write: the tokenizer beside the checkpoint for checkpoint_save to copy in, then the
  // checkpoint as a whole (temporary directory, fsync, rename; an old one at --out is replaced) ----
  YAML::Node config;
  config["model"] = model_config_yaml(cfg);
  config["imported_from"] = in_dir;
  YAML::Emitter emitted;
  emitted << config;
  const json state = {{"step", 0}, {"imported_from", in_dir}, {"format", "hf"}};
  const std::string tok_tmp = path_join(root, "." + name + ".tokenizer.json.tmp");
  try {
    make_dirs(root);
    tokenizer_save(tok.tok, tok_tmp);
    checkpoint_save({root, name, state, std::string(emitted.c_str()) + "\n", tok_tmp, false}, model);
  } catch (...) {
    remove_all(tok_tmp);
    gpt_destroy(model);
    throw;
  }
  remove_all(tok_tmp);
  gpt_destroy(model);
  for (const std::string& note : tok.notes) std::fprintf(stderr, "note: %s\n", note.c_str());
  std::fprintf(stderr, "imported %s (GPT-2: %d layers, %d heads, n_embd %d, context %d, %d tokens) to %s\n",
               in_dir.c_str(), cfg.n_layer, cfg.n_head, cfg.n_embd, cfg.context_length, cfg.vocab_size, out.c_str());
}

}  // namespace

void register_import_commands(CLI::App& app) {
  struct Args {
    std::string format = "hf", in, out;
    bool overwrite = false;
  };
  auto a = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand("import", "Import a Hugging Face GPT-2 as a Chamber checkpoint (for rl --init)");
  cmd->add_option("--format", a->format, "hf (default): model.safetensors, config.json, tokenizer.json or vocab.json + merges.txt");
  cmd->add_option("--in", a->in, "directory of the Hugging Face model")->required();
  cmd->add_option("--out", a->out, "checkpoint directory to write")->required();
  cmd->add_flag("--overwrite", a->overwrite, "replace the checkpoint already at --out");
  cmd->callback([a] { cmd_import(a->format, a->in, a->out, a->overwrite); });
}

}  // namespace chamber
