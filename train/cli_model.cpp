// Commands on a checkpoint:
//   chamber sample --checkpoint DIR --prompt TEXT [--max-new-tokens N --temperature T --top-k K
//                  --top-p P --seed S]   (KV-cache sampler, engine/sampler.h)
//   chamber score  --checkpoint DIR --text TEXT      -> {"token_ids": [...], "logprobs": [null, ...]}
//   chamber export --checkpoint DIR --format hf --out DIR   (Hugging Face GPT2LMHeadModel layout)
#include <CLI/CLI.hpp>

#include <cmath>
#include <cstdio>

#include <nlohmann/json.hpp>

#include "engine/backend.h"
#include "engine/safetensors.h"
#include "engine/sampler.h"
#include "util/util.h"
#include "train/cli.h"
#include "train/loaded_model.h"

namespace chamber {

// Log-probability of each token given those before it (entry 0 has no context: NaN).
static std::vector<double> score_tokens(GPT& model, const std::vector<int>& ids) {
  const int T = (int)ids.size();
  std::vector<double> logprobs(T, std::nan(""));
  if (T < 2) return logprobs;
  gpt_forward(model, ids.data(), 1, T);
  std::vector<int> targets(T, -1);
  for (int t = 0; t + 1 < T; t++) targets[t] = ids[t + 1];
  gpt_classifier(model, targets.data(), nullptr, false);
  std::vector<float> losses(T);
  gpt_copy_losses(model, losses.data());
  for (int t = 1; t < T; t++) logprobs[t] = -(double)losses[t - 1];
  return logprobs;
}

static void cmd_score(const std::string& ckpt, const std::string& text, const std::string& device) {
  LoadedModel lm;
  load_model(lm, ckpt, device, 1, 0);
  std::vector<int> ids = tokenizer_encode(lm.tokenizer, text);
  if ((int)ids.size() > lm.model.cfg.context_length)
    fail("--text is ", ids.size(), " tokens, longer than the model's context of ", lm.model.cfg.context_length);
  if (ids.empty()) fail("--text is empty");
  std::vector<double> lp = score_tokens(lm.model, ids);
  nlohmann::json out;
  out["token_ids"] = ids;
  out["logprobs"] = nlohmann::json::array();
  for (size_t i = 0; i < lp.size(); i++) {
    if (i == 0) out["logprobs"].push_back(nullptr);
    else out["logprobs"].push_back(lp[i]);
  }
  std::printf("%s\n", out.dump().c_str());
  gpt_destroy(lm.model);
}

static void cmd_sample(const std::string& ckpt, const std::string& prompt, int max_new, float temperature,
                       int top_k, float top_p, uint64_t seed, const std::string& device) {
  LoadedModel lm;
  load_model(lm, ckpt, device, 1, 1);  // the sampler has its own KV cache and scratch
  GPT& model = lm.model;
  const int context = model.cfg.context_length;
  // The prompt starts a new document, as in pretraining (after an end-of-text) and in evaluation.
  std::vector<int> ids = {lm.tokenizer.eot_id};
  for (int id : tokenizer_encode(lm.tokenizer, prompt)) ids.push_back(id);
  if ((int)ids.size() >= context) {
    std::fprintf(stderr, "note: the prompt has %zu tokens; keeping its last %d (context %d)\n",
                 ids.size(), context - 1, context);
    ids.erase(ids.begin(), ids.end() - (context - 1));
  }
  if ((int)ids.size() + max_new > context)
    std::fprintf(stderr, "note: prompt + completion is capped at the context of %d tokens\n", context);
  Sampler sampler;
  sampler_create(sampler, model, 1, std::min(context, (int)ids.size() + std::max(1, max_new)));
  SamplingParams params;
  params.temperature = temperature;
  params.top_k = top_k;
  params.top_p = top_p;
  params.max_new_tokens = max_new;
  Rng rng(seed);
  std::vector<Completion> out = sampler_generate(sampler, model, lm.tokenizer.token_bytes, lm.tokenizer.eot_id, {ids}, params, rng);
  std::printf("%s%s\n", prompt.c_str(), out[0].text.c_str());
  sampler_destroy(sampler);
  gpt_destroy(model);
}

// Hugging Face GPT-2: Conv1D weights are stored (in, out), the transpose of our (out, in).
static std::vector<float> transposed(const float* w, int64_t rows, int64_t cols) {
  std::vector<float> t((size_t)(rows * cols));
  for (int64_t r = 0; r < rows; r++)
    for (int64_t c = 0; c < cols; c++) t[(size_t)(c * rows + r)] = w[r * cols + c];
  return t;
}

static void cmd_export(const std::string& ckpt, const std::string& format, const std::string& out_dir) {
  if (format != "hf") fail("--format ", format, ": only 'hf' (Hugging Face GPT2LMHeadModel) is supported");
  LoadedModel lm;
  load_model(lm, ckpt, "cpu-ref", 1, 1);
  const ModelConfig& cfg = lm.model.cfg;
  const int64_t C = cfg.n_embd, V = cfg.vocab_size;
  std::vector<float> host = gpt_parameters_to_host(lm.model);
  auto at = [&](const std::string& name) -> const float* {
    for (const auto& s : lm.model.param_table) if (s.name == name) return host.data() + s.offset / 4;
    fail("internal: no parameter ", name);
  };
  std::vector<std::vector<float>> keep;   // owns transposed copies until serialised
  std::vector<TensorToWrite> tensors;
  auto add = [&](const std::string& name, std::vector<int64_t> shape, const float* data) {
    tensors.push_back({name, std::move(shape), data});
  };
  auto add_t = [&](const std::string& name, const float* w, int64_t out_f, int64_t in_f) {
    keep.push_back(transposed(w, out_f, in_f));
    add(name, {in_f, out_f}, keep.back().data());
  };
  keep.reserve(4 * cfg.n_layer + 1);
  add("transformer.wte.weight", {V, C}, at("wte"));   // drop the padded rows
  add("transformer.wpe.weight", {cfg.context_length, C}, at("wpe"));
  for (int l = 0; l < cfg.n_layer; l++) {
    std::string p = "transformer.h." + std::to_string(l) + ".";
    add(p + "ln_1.weight", {C}, at("h.ln1_w") + l * C);
    add(p + "ln_1.bias", {C}, at("h.ln1_b") + l * C);
    add_t(p + "attn.c_attn.weight", at("h.qkv_w") + l * 3 * C * C, 3 * C, C);
    add(p + "attn.c_attn.bias", {3 * C}, at("h.qkv_b") + l * 3 * C);
    add_t(p + "attn.c_proj.weight", at("h.attn_proj_w") + l * C * C, C, C);
    add(p + "attn.c_proj.bias", {C}, at("h.attn_proj_b") + l * C);
    add(p + "ln_2.weight", {C}, at("h.ln2_w") + l * C);
    add(p + "ln_2.bias", {C}, at("h.ln2_b") + l * C);
    add_t(p + "mlp.c_fc.weight", at("h.fc_w") + l * 4 * C * C, 4 * C, C);
    add(p + "mlp.c_fc.bias", {4 * C}, at("h.fc_b") + l * 4 * C);
    add_t(p + "mlp.c_proj.weight", at("h.fc_proj_w") + l * 4 * C * C, C, 4 * C);
    add(p + "mlp.c_proj.bias", {C}, at("h.fc_proj_b") + l * C);
  }
  add("transformer.ln_f.weight", {C}, at("lnf_w"));
  add("transformer.ln_f.bias", {C}, at("lnf_b"));
  if (!cfg.tied_embeddings) add("lm_head.weight", {V, C}, at("lm_head"));
  make_dirs(out_dir);
  write_file_atomic(path_join(out_dir, "model.safetensors"), safetensors_serialize(tensors, {{"format", "pt"}}));
  nlohmann::ordered_json config = {
      {"architectures", {"GPT2LMHeadModel"}}, {"model_type", "gpt2"},
      {"vocab_size", V}, {"n_positions", cfg.context_length}, {"n_ctx", cfg.context_length},
      {"n_embd", C}, {"n_layer", cfg.n_layer}, {"n_head", cfg.n_head}, {"n_inner", nullptr},
      {"activation_function", "gelu_new"}, {"layer_norm_epsilon", 1e-5},
      {"resid_pdrop", 0.0}, {"embd_pdrop", 0.0}, {"attn_pdrop", 0.0},
      {"initializer_range", 0.02}, {"scale_attn_weights", true}, {"use_cache", true},
      {"bos_token_id", lm.tokenizer.eot_id}, {"eos_token_id", lm.tokenizer.eot_id},
      {"tie_word_embeddings", cfg.tied_embeddings}, {"torch_dtype", "float32"}};
  write_file_atomic(path_join(out_dir, "config.json"), config.dump(2) + "\n");
  write_file_atomic(path_join(out_dir, "tokenizer.json"), read_file(path_join(lm.dir, "tokenizer.json")));
  std::fprintf(stderr, "exported %s to %s (Hugging Face GPT2LMHeadModel)\n", lm.dir.c_str(), out_dir.c_str());
  gpt_destroy(lm.model);
}

void register_model_commands(CLI::App& app) {
  struct Args {
    std::string checkpoint, prompt, text, format = "hf", out, device = "cpu";
    int max_new_tokens = 64;
    float temperature = 0.8f;
    int top_k = 0;
    float top_p = 1.0f;
    uint64_t seed = 1;
  };
  auto a = std::make_shared<Args>();
  CLI::App* sample = app.add_subcommand("sample", "Generate text from a checkpoint");
  sample->add_option("--checkpoint", a->checkpoint, "checkpoint or run directory")->required();
  sample->add_option("--prompt", a->prompt, "text to continue")->required();
  sample->add_option("--max-new-tokens", a->max_new_tokens, "tokens to generate (default 64)");
  sample->add_option("--temperature", a->temperature, "sampling temperature; 0 = greedy (default 0.8)");
  sample->add_option("--top-k", a->top_k, "sample among the k most likely tokens; 0 = off (default)");
  sample->add_option("--top-p", a->top_p, "nucleus sampling mass in (0, 1]; 1 = off (default)");
  sample->add_option("--seed", a->seed, "random seed (default 1)");
  sample->add_option("--device", a->device, "cpu | cpu-ref | cuda | simt | auto");
  sample->callback([a] {
    // NaN fails both comparisons; a negative temperature would silently mean greedy.
    if (!(a->temperature >= 0.0f && a->temperature <= 100.0f))
      fail("--temperature must be in [0, 100] (0 = greedy), got ", format_number(a->temperature));
    if (a->top_k < 0) fail("--top-k must be >= 0 (got ", a->top_k, ")");
    if (!(a->top_p > 0.0f && a->top_p <= 1.0f)) fail("--top-p must be in (0, 1] (got ", a->top_p, ")");
    cmd_sample(a->checkpoint, a->prompt, a->max_new_tokens, a->temperature, a->top_k, a->top_p, a->seed, a->device);
  });

  CLI::App* score = app.add_subcommand("score", "Print each token's log-probability given the tokens before it (JSON)");
  score->add_option("--checkpoint", a->checkpoint, "checkpoint or run directory")->required();
  score->add_option("--text", a->text, "text to score")->required();
  score->add_option("--device", a->device, "cpu | cpu-ref | cuda | simt | auto");
  score->callback([a] { cmd_score(a->checkpoint, a->text, a->device); });

  CLI::App* exp = app.add_subcommand("export", "Export a checkpoint (Hugging Face GPT-2 layout)");
  exp->add_option("--checkpoint", a->checkpoint, "checkpoint or run directory")->required();
  exp->add_option("--format", a->format, "hf (default)");
  exp->add_option("--out", a->out, "output directory")->required();
  exp->callback([a] { cmd_export(a->checkpoint, a->format, a->out); });
}

}  // namespace chamber
