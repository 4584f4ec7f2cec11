// Reading an experiment (see experiment.h): the top-level keys, `config: PATH` sections merged
// with their inline overrides, the sweep applied per run through yaml_set_path, and each
// run's configs parsed by their own strict readers (pretrain.h, rl.h, eval.h) up front.
#include "train/study/experiment.h"

#include <cstdio>
#include <optional>
#include <set>

#include <nlohmann/json.hpp>

#include "util/util.h"
#include "util/yaml.h"
#include "util/yaml_schema.h"

namespace chamber {

std::string ExperimentConfig::dir() const { return path_join(out, name); }

std::string hash_hex(const std::string& text) {
  uint64_t h = 14695981039346656037ull;
  for (unsigned char c : text) h = (h ^ c) * 1099511628211ull;
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", (unsigned long long)h);
  return buf;
}

// `over` merged into `base`: maps merge key by key, anything else replaces. The result shares its
// nodes with both (yaml_copy_map), which stay unchanged, and messages keep their file lines.
static YAML::Node merge_yaml(const YAML::Node& base, const YAML::Node& over) {
  YAML::Node out = yaml_copy_map(base);
  for (const auto& kv : over) {
    std::string key = kv.first.as<std::string>();
    if (out[key] && out[key].IsMap() && kv.second.IsMap()) out[key] = merge_yaml(out[key], kv.second);
    else out[key] = kv.second;
  }
  return out;
}

// A section written inline or as `config: PATH` plus overrides. `label` names it in errors.
static YAML::Node resolve_section(const YAML::Node& node, const std::string& file, const std::string& key,
                                  std::string& label) {
  label = file + " [" + key + "]";
  if (!node || node.IsNull()) return YAML::Node(YAML::NodeType::Map);
  if (!node.IsMap())
    fail(file, ":", node.Mark().line + 1, ": '", key, "' must be a map (inline settings, or config: PATH)");
  if (!node["config"]) return yaml_copy_map(node);
  const YAML::Node& path_node = node["config"];
  if (!path_node.IsScalar())
    fail(file, ":", path_node.Mark().line + 1, ": '", key, ".config' must be a path to a YAML file");
  std::string path = path_node.Scalar();
  if (!file_exists(path))
    fail(file, ":", path_node.Mark().line + 1, ": '", key, ".config': no file ", path,
         " (paths are relative to the working directory)");
  YAML::Node base = yaml_load_file(path);
  yaml_root(base, path);   // its top level must be a map
  YAML::Node over(YAML::NodeType::Map);
  for (const auto& kv : node)
    if (kv.first.as<std::string>() != "config") over[kv.first] = kv.second;
  label = path + " with overrides from " + file + " [" + key + "]";
  return merge_yaml(base, over);
}

static nlohmann::json eval_config_json(const EvalConfig& c) {
  return {{"sets", c.sets}, {"count", c.count}, {"greedy", c.greedy}, {"n_samples", c.n_samples},
          {"k", c.k}, {"temperature", c.temperature}, {"top_k", c.top_k}, {"top_p", c.top_p},
          {"max_new_tokens", c.max_new_tokens}, {"stop_strings", c.stop_strings},
          {"seed", c.seed}, {"problem_seed", c.problem_seed}};   // batch_size does not change results
}

// A sweep value set as the file wrote it keeps its line for messages. Only values that emit as
// their text did (scalars, flow-style lists and maps) are set that way, so the resolved configs,
// and with them the run hashes, do not depend on how a value was laid out.
static void apply_sweep_point(YAML::Node& root, const SweepPoint& point, const std::string& file) {
  for (size_t i = 0; i < point.assignments.size(); i++) {
    const std::string& a = point.assignments[i];
    bool as_written = i < point.written.size() &&
                      (point.written[i].IsScalar() || point.written[i].Style() == YAML::EmitterStyle::Flow);
    if (as_written) yaml_set_path(root, a.substr(0, a.find('=')), point.written[i], file + " sweep");
    else yaml_apply_override(root, a);
  }
}

// The seed keys of an experiment (see experiment.h): `seed` sets every seed of a run together,
// `pretrain_seed` and `rl_seed` one stage's each. A list makes the key a seed axis.
static const char* const kSeedKeys[] = {"seed", "pretrain_seed", "rl_seed"};

static bool is_seed_key(const std::string& key) {
  for (const char* k : kSeedKeys)
    if (key == k) return true;
  return false;
}

// One seed value: a non-negative integer (the data spec's seed is unsigned, the others int64).
static void check_seed_value(const YAML::Node& value, const std::string& file, const std::string& key) {
  bool ok = value.IsScalar();
  if (ok) {
    try {
      const std::string& text = value.Scalar();
      size_t used = 0;
      long long v = std::stoll(text, &used);
      ok = used == text.size() && v >= 0;
    } catch (const std::exception&) {
      ok = false;
    }
  }
  if (!ok)
    fail(yaml_where(file, value), ": '", key, "' must be a non-negative integer or a list of them, e.g. ", key,
         ": [1, 2, 3]; got '", yaml_flow_text(value), "'");
}

// A seed key's node: one integer (every run uses it), or a list of distinct integers, which becomes
// a seed axis (returned; nullopt for a single value).
static std::optional<SweepAxis> read_seed_key(const YAML::Node& node, const std::string& file, const std::string& key) {
  if (!node.IsSequence()) {
    check_seed_value(node, file, key);
    return std::nullopt;
  }
  if (node.size() == 0) fail(yaml_where(file, node), ": '", key, "' is an empty list; give at least one seed, e.g. ", key, ": [1, 2, 3]");
  SweepAxis axis;
  axis.key = key;
  for (const auto& v : node) {
    check_seed_value(v, file, key);
    std::string text = yaml_flow_text(v);
    for (const auto& seen : axis.values)
      if (std::stoll(seen) == std::stoll(text)) fail(yaml_where(file, v), ": '", key, "' lists the seed ", text, " twice");
    axis.values.push_back(text);
    axis.written.push_back(v);
  }
  return axis;
}

// The data spec's seed (shuffling, and with it the order pretraining reads the documents in). A
// spec named by path is read here so that its seed can be set like an inline one's.
static void set_data_seed(YAML::Node& pre, const YAML::Node& seed, const std::string& label) {
  const YAML::Node& data = static_cast<const YAML::Node&>(pre)["data"];
  if (!data || !(data.IsScalar() || data.IsMap())) return;   // parse_pretrain_config reports it
  if (data.IsScalar()) yaml_set_path(pre, "data", yaml_load_file(data.Scalar()), label);
  yaml_set_path(pre, "data.seed", seed, label);
}

// One run: the experiment root with the sweep point's assignments applied, then each section.
// `root` is the run's own copy (yaml_copy_map); every change below copies on write, so the
// experiment's nodes stay as the file wrote them.
static ExperimentRun resolve_run(const ExperimentConfig& exp, YAML::Node root, const SweepPoint& point) {
  ExperimentRun run;
  run.id = point.id;
  run.axes = point.axes;
  const std::string& file = exp.file;
  apply_sweep_point(root, point, file);
  std::string label;
  // This run's seeds (a seed axis has set its key to one value by now).
  // (Copies, not assignments: assigning to a YAML::Node would write into the node it refers to.)
  const YAML::Node& fixed = root;
  const YAML::Node seed = fixed["seed"];
  const YAML::Node pretrain_seed = seed ? seed : fixed["pretrain_seed"];
  const YAML::Node rl_seed = seed ? seed : fixed["rl_seed"];

  // ---- pretraining (required) ----
  if (!root["pretrain"]) fail(file, ": 'pretrain' is required (a pretraining config inline, or config: PATH)");
  YAML::Node pre = resolve_section(root["pretrain"], file, "pretrain", label);
  yaml_set_path(pre, "name", YAML::Node(exp.name), label);
  yaml_set_path(pre, "train.device", YAML::Node(exp.device), label);
  yaml_set_path(pre, "train.threads", YAML::Node(exp.threads), label);
  if (pretrain_seed) {   // parameter initialisation and data order
    yaml_set_path(pre, "train.seed", pretrain_seed, label);
    set_data_seed(pre, pretrain_seed, label);
  }
  run.pretrain = parse_pretrain_config(pre, label);
  // The cache key ignores where it runs (device, threads) and the run name.
  PretrainConfig keyed = run.pretrain;
  keyed.name.clear();
  keyed.train.device.clear();
  keyed.train.threads = 0;
  run.pretrain_hash = hash_hex(pretrain_config_yaml(keyed)).substr(0, 12);

  // ---- RL (optional) ----
  if (root["rl"] && !root["rl"].IsNull()) {
    YAML::Node rl = resolve_section(root["rl"], file, "rl", label);
    // A file's own init (for `chamber rl`) is replaced.
    yaml_set_path(rl, "init", YAML::Node("(the pretrained checkpoint)"), label);
    yaml_set_path(rl, "name", YAML::Node(exp.name + "/" + run.id), label);
    yaml_set_path(rl, "train.device", YAML::Node(exp.device), label);
    yaml_set_path(rl, "train.threads", YAML::Node(exp.threads), label);
    if (rl_seed) yaml_set_path(rl, "train.seed", rl_seed, label);
    run.rl = parse_rl_config(rl, label);
    run.has_rl = true;
    RLConfig keyed_rl = run.rl;
    keyed_rl.init.clear();
    keyed_rl.name.clear();
    keyed_rl.device.clear();
    keyed_rl.threads = 0;
    // Nor the instruments that only read the model (rl_probes.h): a stage run before they existed
    // stays done. Their lines are dropped from the resolved YAML, which is otherwise as before.
    const std::string resolved = rl_config_yaml(keyed_rl);
    std::string keyed_yaml;
    for (size_t at = 0, end; at < resolved.size(); at = end + 1) {
      end = resolved.find('\n', at);
      if (end == std::string::npos) end = resolved.size();
      if (resolved.compare(at, 8, "  probe_") != 0) keyed_yaml += resolved.substr(at, end - at) + "\n";
    }
    run.rl_hash = hash_hex(run.pretrain_hash + "\n" + keyed_yaml).substr(0, 12);
  }

  // ---- evaluation (optional) ----
  if (root["eval"] && !root["eval"].IsNull()) {
    YAML::Node ev = resolve_section(root["eval"], file, "eval", label);
    YamlMap own = yaml_root(ev, label);
    own.get("checkpoints", run.eval_checkpoints);
    own.get("base", run.eval_base);
    const std::string& which = run.eval_checkpoints;
    if (which != "all" && which != "final" && which != "none")
      own.bad("checkpoints", "must be all, final or none, got '" + which + "'");
    YAML::Node rest(YAML::NodeType::Map);
    for (const auto& kv : ev) {
      std::string k = kv.first.as<std::string>();
      if (k != "checkpoints" && k != "base") rest[kv.first] = kv.second;
    }
    // Sampling in evaluations follows `seed` only: with rl_seed alone the pretraining, and its
    // evaluation, are shared by every RL seed and must not be redone for each.
    if (seed) rest["seed"] = seed;
    YamlMap m = yaml_root(rest, label);
    m.path = "eval";
    run.eval = read_eval_config(m);
    run.has_eval = true;
    run.eval_hash = hash_hex(eval_config_json(run.eval).dump()).substr(0, 12);
  }
  return run;
}

ExperimentConfig parse_experiment(YAML::Node root, const std::string& file) {
  ExperimentConfig exp;
  exp.file = file;
  YamlMap top = yaml_root(root, file);
  top.get("name", exp.name);
  top.get("out", exp.out);
  top.get("device", exp.device);
  top.get("threads", exp.threads);
  std::vector<SweepAxis> seed_axes;   // seed keys written as lists
  std::set<std::string> seed_keys;     // seed keys written at all (top level or swept)
  for (const char* key : kSeedKeys) {
    if (!top.has(key)) continue;
    seed_keys.insert(key);
    if (auto axis = read_seed_key(top.raw(key), file, key)) seed_axes.push_back(*axis);
  }
  top.raw("pretrain");
  top.raw("rl");
  top.raw("eval");
  exp.grids = sweep_grids_from_yaml(top.raw("sweep"), file);
  // A seed list is one more axis of every grid, varying fastest, so a group's runs sit together.
  if (!seed_axes.empty() && exp.grids.empty()) exp.grids.push_back({});
  for (auto& grid : exp.grids) {
    for (const SweepAxis& axis : grid) {
      if (!is_seed_key(axis.key)) continue;
      // A single top-level seed is overridden by the sweep, as any key is; two lists would clash.
      for (const SweepAxis& listed : seed_axes)
        if (listed.key == axis.key)
          fail(file, ": '", axis.key, "' is listed at the top level and in 'sweep'; list its seeds in one place, "
               "e.g. ", axis.key, ": [1, 2, 3]");
      seed_keys.insert(axis.key);
    }
    grid.insert(grid.end(), seed_axes.begin(), seed_axes.end());
  }
  if (seed_keys.count("seed") && (seed_keys.count("pretrain_seed") || seed_keys.count("rl_seed")))
    fail(file, ": 'seed' sets the pretraining and RL seeds together; give either seed, or pretrain_seed and/or rl_seed");
  if (seed_keys.count("rl_seed") && !root["rl"])
    fail(file, ": 'rl_seed' is given but the experiment has no 'rl' section (pretrain_seed sets pretraining's seeds)");
  for (const auto& grid : exp.grids)
    for (const auto& axis : grid) {
      bool seen = false;
      for (const auto& a : exp.axes) seen |= a.key == axis.key;
      if (!seen) exp.axes.push_back(axis);
    }
  YamlMap rep = top.sub("report");
  rep.get("generations_per_style", exp.generations_per_style);
  rep.finish();
  top.finish();
  require_range(top, "threads", exp.threads, 0, 4096);
  require_range(rep, "generations_per_style", exp.generations_per_style, 0, 1000);
  if (exp.name.empty()) {
    std::string stem = file.substr(file.find_last_of('/') + 1);
    exp.name = stem.substr(0, stem.find('.'));
  }
  if (!is_plain_name(exp.name)) top.bad("name", "must be a plain directory name, got '" + exp.name + "'");
  for (const auto& axis : exp.axes) {
    std::string head = axis.key.substr(0, axis.key.find('.'));
    if (head != "pretrain" && head != "rl" && head != "eval" && !is_seed_key(axis.key))
      fail(file, ": sweep key '", axis.key, "' must start with pretrain., rl. or eval., or be seed, pretrain_seed or rl_seed");
    if ((head == "rl" && !root["rl"]) || (head == "eval" && !root["eval"]) || (axis.key == "rl_seed" && !root["rl"]))
      fail(file, ": sweep key '", axis.key, "' sweeps a section the experiment does not have");
    // A seed key overrides these; sweeping both would give runs that differ in name only.
    bool pretrain_seeded = seed_keys.count("seed") || seed_keys.count("pretrain_seed");
    bool rl_seeded = seed_keys.count("seed") || seed_keys.count("rl_seed");
    if ((pretrain_seeded && (axis.key == "pretrain.train.seed" || axis.key == "pretrain.data.seed")) ||
        (rl_seeded && axis.key == "rl.train.seed") || (seed_keys.count("seed") && axis.key == "eval.seed"))
      fail(file, ": sweep key '", axis.key, "' is also set by the experiment's seed key; sweep that instead, "
           "e.g. seed: [1, 2, 3]");
  }
  YAML::Emitter em;
  em << root;
  exp.resolved_yaml = std::string(em.c_str()) + "\n";
  for (const SweepPoint& point : sweep_expand_grids(exp.grids)) {
    exp.runs.push_back(resolve_run(exp, yaml_copy_map(root), point));
  }
  return exp;
}

ExperimentConfig load_experiment(const std::string& path, const std::vector<std::string>& overrides) {
  return parse_experiment(yaml_load_config(path, overrides), path);
}

}  // namespace chamber
