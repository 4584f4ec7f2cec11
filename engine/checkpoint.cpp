#include "engine/checkpoint.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "engine/config.h"
#include "engine/safetensors.h"
#include "util/util.h"

namespace chamber {

std::string checkpoint_name(int64_t step) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "step_%08lld", (long long)step);
  return buf;
}

static std::vector<TensorToWrite> tensors_of(const GPT& model, const std::vector<float>& host,
                                             const std::string& prefix) {
  std::vector<TensorToWrite> out;
  for (const auto& slot : model.param_table)
    out.push_back({prefix + slot.name, slot.shape, host.data() + slot.offset / sizeof(float)});
  return out;
}

static std::vector<float> arena_to_host(const GPT& model, const Arena& arena) {
  std::vector<float> host(arena.bytes / sizeof(float));
  model.ops->to_host(host.data(), arena.base, arena.bytes);
  return host;
}

std::string checkpoint_save(const CheckpointWrite& w, const GPT& model) {
  make_dirs(w.root);
  std::string final_dir = path_join(w.root, w.name);
  std::string tmp_dir = path_join(w.root, "." + w.name + ".tmp");
  remove_all(tmp_dir);
  make_dirs(tmp_dir);

  std::vector<float> params = gpt_parameters_to_host(model);
  write_file_atomic(path_join(tmp_dir, "model.safetensors"),
                    safetensors_serialize(tensors_of(model, params, ""), {{"format", "chamber-gpt2"}}));
  if (w.with_optimizer && model.m_arena.base) {
    // The gathered state of a sharded optimizer is written as it is, not copied.
    std::vector<float> m_own, v_own;
    if (!w.adam_m_whole) m_own = arena_to_host(model, model.m_arena), v_own = arena_to_host(model, model.v_arena);
    const std::vector<float>& m = w.adam_m_whole ? *w.adam_m_whole : m_own;
    const std::vector<float>& v = w.adam_v_whole ? *w.adam_v_whole : v_own;
    if (m.size() * sizeof(float) != model.param_arena.bytes || v.size() != m.size())
      fail("checkpoint_save: AdamW state holds ", m.size(), " floats, the parameters ",
           model.param_arena.bytes / sizeof(float), " (a sharded optimizer needs its gathered state)");
    auto tensors = tensors_of(model, m, "m.");
    auto v_tensors = tensors_of(model, v, "v.");
    tensors.insert(tensors.end(), v_tensors.begin(), v_tensors.end());
    write_file_atomic(path_join(tmp_dir, "optimizer.safetensors"),
                      safetensors_serialize(tensors, {{"adam_step", std::to_string(model.adam_step)}}));
  }
  write_file_atomic(path_join(tmp_dir, "state.json"), w.state.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
  write_file_atomic(path_join(tmp_dir, "config.yaml"), w.config_yaml);
  if (!w.tokenizer_path.empty())
    write_file_atomic(path_join(tmp_dir, "tokenizer.json"), read_file(w.tokenizer_path));
  fsync_dir(tmp_dir);

  // Replace an existing checkpoint of the same name (a resumed run re-saving a step) safely:
  // move the old one aside first, so one complete copy exists at every moment.
  std::string old_dir = path_join(w.root, "." + w.name + ".old");
  remove_all(old_dir);
  if (dir_exists(final_dir) && std::rename(final_dir.c_str(), old_dir.c_str()) != 0)
    fail("cannot move old checkpoint ", final_dir, " aside");
  if (std::rename(tmp_dir.c_str(), final_dir.c_str()) != 0)
    fail("cannot rename ", tmp_dir, " to ", final_dir);
  fsync_dir(w.root);
  remove_all(old_dir);
  return final_dir;
}

std::vector<std::string> checkpoint_list(const std::string& root) {
  std::vector<std::string> dirs;
  if (!dir_exists(root)) return dirs;
  for (const auto& entry : std::filesystem::directory_iterator(root)) {
    std::string name = entry.path().filename().string();
    if (entry.is_directory() && name.rfind("step_", 0) == 0 &&
        file_exists(path_join(entry.path().string(), "model.safetensors")))
      dirs.push_back(entry.path().string());
  }
  std::sort(dirs.begin(), dirs.end());  // zero-padded step numbers sort in step order
  return dirs;
}

void checkpoint_prune(const std::string& root, int keep) {
  if (keep <= 0) return;
  auto dirs = checkpoint_list(root);
  for (size_t i = 0; i + keep < dirs.size(); i++) remove_all(dirs[i]);
}

std::string checkpoint_resolve(const std::string& path) {
  if (file_exists(path_join(path, "model.safetensors"))) return path;
  for (const std::string& root : {path_join(path, "checkpoints"), path}) {
    auto dirs = checkpoint_list(root);
    if (!dirs.empty()) return dirs.back();
  }
  fail("no checkpoint at '", path, "': expected a directory with model.safetensors, or a run "
       "directory whose checkpoints/ holds step_* checkpoints");
}

YAML::Node checkpoint_config(const std::string& dir) {
  std::string path = path_join(dir, "config.yaml");
  YAML::Node root = yaml_load_file(path);
  if (!root.IsMap() || !root["model"]) fail(path, ": missing the 'model' section (corrupted checkpoint?)");
  return root;
}

ModelConfig checkpoint_model_config(const std::string& dir) {
  YAML::Node root = checkpoint_config(dir);
  YamlMap top = yaml_root(root, path_join(dir, "config.yaml"));
  ModelConfig cfg = read_model_config(top.sub("model"));
  if (cfg.vocab_size <= 0) fail(path_join(dir, "config.yaml"), ": model.vocab_size must be resolved (> 0)");
  model_config_finalize(cfg);
  return cfg;
}

nlohmann::json checkpoint_state(const std::string& dir) {
  std::string path = path_join(dir, "state.json");
  auto j = nlohmann::json::parse(read_file(path), nullptr, false);
  if (j.is_discarded() || !j.is_object()) fail(path, ": not a valid JSON object (corrupted checkpoint?)");
  return j;
}

int64_t checkpoint_step_of(const std::string& dir) {
  std::string name = dir;
  while (name.size() > 1 && name.back() == '/') name.pop_back();
  name = name.substr(name.find_last_of('/') + 1);
  if (name.rfind("step_", 0) != 0 || name.size() == 5 || name[5] < '0' || name[5] > '9') return -1;
  int64_t step = -1;
  auto [end, err] = std::from_chars(name.data() + 5, name.data() + name.size(), step);
  if (err != std::errc() || end != name.data() + name.size()) return -1;
  return step;
}

int checkpoint_resume_step(const std::string& dir, const nlohmann::json& state, int max_step) {
  const std::string path = path_join(dir, "state.json");
  const int64_t dir_step = checkpoint_step_of(dir);
  const std::string fix = ". The file is damaged or belongs to another run: delete " + dir +
                          " to resume from the checkpoint before it, or start afresh with --overwrite "
                          "or a new --out.";
  if (!state.contains("step")) fail(path, ": the field 'step' is missing", fix);
  const nlohmann::json& j = state["step"];
  std::string text = j.dump();
  bool in_range = false;
  int64_t step = -1;
  if (j.is_number_unsigned()) {
    in_range = j.get<uint64_t>() <= (uint64_t)max_step;
    if (in_range) step = (int64_t)j.get<uint64_t>();
  } else if (j.is_number_integer()) {
    step = j.get<int64_t>();
    in_range = step >= 0 && step <= max_step;
  }
  if (!in_range)
    fail(path, ": step ", text, " is out of range: it must be a whole number from 0 to ", max_step,
         " (the configured train.steps)", fix);
  if (step != dir_step)
    fail(path, ": step ", text, " does not match the checkpoint's folder ", dir,
         dir_step < 0 ? " (not named step_<N>)" : " (step " + std::to_string(dir_step) + ")", fix);
  return (int)step;
}

// First value of a tensor that is not finite (or negative, when it must not be): an error naming
// the file and the tensor.
static void check_values(const std::string& path, const std::string& name, const float* x, size_t n,
                         bool non_negative) {
  for (size_t i = 0; i < n; i++) {
    if (std::isfinite(x[i]) && !(non_negative && x[i] < 0.0f)) continue;
    fail(path, ": tensor '", name, "' holds ",
         std::isfinite(x[i]) ? "a negative value" : "a non-finite value (NaN or Inf)", " at element ", i,
         ". The checkpoint is damaged or was saved by a run that diverged: use an earlier checkpoint "
         "(delete this one and --resume continues from the one before it).");
  }
}

static size_t numel(const std::vector<int64_t>& shape) {
  size_t n = 1;
  for (int64_t d : shape) n *= (size_t)d;
  return n;
}

void checkpoint_load_weights(const std::string& dir, GPT& model) {
  const std::string path = path_join(dir, "model.safetensors");
  SafetensorsFile f = safetensors_load(path);
  std::vector<float> host(model.param_arena.bytes / sizeof(float), 0.0f);
  for (const auto& slot : model.param_table) {
    float* x = host.data() + slot.offset / sizeof(float);
    f.read_f32(slot.name, slot.shape, x);
    check_values(path, slot.name, x, numel(slot.shape), false);
  }
  gpt_parameters_from_host(model, host);
}

// AdamW's step t: bias correction divides by 1 - beta^t, and each update adds one.
static constexpr int kMaxAdamStep = 1'000'000'000;

void checkpoint_load_optimizer(const std::string& dir, GPT& model) {
  std::string path = path_join(dir, "optimizer.safetensors");
  SafetensorsFile f = safetensors_load(path);
  // The file holds every tensor's m and v; a sharded optimizer keeps its slice of them.
  std::vector<float> m(model.param_arena.bytes / sizeof(float), 0.0f), v(m.size(), 0.0f);
  for (const auto& slot : model.param_table) {
    float* ms = m.data() + slot.offset / sizeof(float);
    float* vs = v.data() + slot.offset / sizeof(float);
    f.read_f32("m." + slot.name, slot.shape, ms);
    f.read_f32("v." + slot.name, slot.shape, vs);
    check_values(path, "m." + slot.name, ms, numel(slot.shape), false);
    check_values(path, "v." + slot.name, vs, numel(slot.shape), true);
  }
  auto it = f.metadata.find("adam_step");
  if (it == f.metadata.end()) fail(path, ": metadata adam_step is missing");
  const std::string& text = it->second;
  int64_t adam_step = -1;
  auto [end, err] = std::from_chars(text.data(), text.data() + text.size(), adam_step);
  if (err != std::errc() || end != text.data() + text.size() || text.empty() || adam_step < 0 ||
      adam_step > kMaxAdamStep)
    fail(path, ": metadata adam_step '", text.substr(0, 40), "' must be a whole number from 0 to ", kMaxAdamStep,
         " (the checkpoint is damaged: use an earlier one)");
  model.adam_step = (int)adam_step;
  model.ops->from_host(model.m_arena.base, m.data() + model.shard_first, model.m_arena.bytes);
  model.ops->from_host(model.v_arena.base, v.data() + model.shard_first, model.v_arena.bytes);
}

bool run_dir_holds_run(const std::string& run_dir) {
  std::string metrics = path_join(run_dir, "metrics.jsonl");
  return !checkpoint_list(path_join(run_dir, "checkpoints")).empty() ||
         !checkpoint_list(path_join(run_dir, "critic")).empty() ||
         (file_exists(metrics) && std::filesystem::file_size(metrics) > 0);
}

void prepare_run_dir(const std::string& run_dir, bool resume, bool overwrite) {
  if (resume || !run_dir_holds_run(run_dir)) return;
  if (!overwrite)
    fail(run_dir, " already holds a run (checkpoints or metrics.jsonl) and would be overwritten. "
         "Continue it with --resume, choose another directory with --out, or pass --overwrite to "
         "replace it.");
  remove_all(path_join(run_dir, "checkpoints"));
  remove_all(path_join(run_dir, "critic"));
  remove_all(path_join(run_dir, "metrics.jsonl"));
}

}  // namespace chamber
