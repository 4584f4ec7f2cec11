// Parsing and canonical form of a data spec (format documented in dataset.h). Every key is checked
// against the known ones so a typo ("wieght") is an error naming the line, not a silent default.
#include <algorithm>
#include <set>

#include "data/dataset.h"
#include "data/importers.h"
#include "data/mathworld.h"
#include "util/util.h"
#include "util/yaml.h"

namespace chamber {

static std::string at(const std::string& file, const YAML::Node& node) { return yaml_where(file, node); }

static std::string written(const YAML::Node& node) { return node.IsScalar() ? node.Scalar() : "a list or map"; }

// An integer in [lo, hi]; the message gives the range and `note` (what the value means), also
// for a number the type cannot hold (1000000000000000000000) or one written with an exponent.
static int64_t get_integer(const YAML::Node& node, const std::string& file, const char* key, int64_t lo, int64_t hi,
                           const char* note = "") {
  auto bad = [&] {
    fail(at(file, node), ": '", key, "' must be an integer from ", lo, " to ", hi, *note ? " (" : "", note,
         *note ? ")" : "", ", got '", written(node), "'");
  };
  int64_t v = 0;
  try {
    if (!node.IsScalar()) bad();
    v = node.as<int64_t>();
  } catch (const YAML::Exception&) {
    bad();
  }
  if (v < lo || v > hi) bad();
  return v;
}

// A finite number in (lo, hi] (or [lo, hi] when lo_included), likewise.
static double get_number(const YAML::Node& node, const std::string& file, const char* key, double lo, bool lo_included,
                         double hi, bool hi_included, const char* note) {
  auto bad = [&] {
    fail(at(file, node), ": '", key, "' must be a number in ", lo_included ? "[" : "(", format_number(lo), ", ",
         format_number(hi), hi_included ? "]" : ")", " (", note, "), got '", written(node), "'");
  };
  double v = 0;
  try {
    if (!node.IsScalar()) bad();
    v = node.as<double>();
  } catch (const YAML::Exception&) {
    bad();
  }
  if (!(lo_included ? v >= lo : v > lo) || !(hi_included ? v <= hi : v < hi)) bad();   // NaN fails too
  return v;
}

static void check_keys(const YAML::Node& node, const std::string& file, const char* what,
                       std::initializer_list<const char*> known) {
  if (!node.IsMap()) fail(at(file, node), ": ", what, " must be a mapping");
  for (auto it = node.begin(); it != node.end(); ++it) {
    if (!it->first.IsScalar()) fail(at(file, it->first), ": ", what, " has a key that is not a plain name");
    std::string key = it->first.as<std::string>();
    bool ok = false;
    for (const char* k : known) ok |= key == k;
    if (!ok) {
      std::string list;
      for (const char* k : known) list += std::string(list.empty() ? "" : ", ") + k;
      fail(at(file, it->first), ": unknown key '", key, "' in ", what, " (known: ", list, ")");
    }
  }
}

template <typename T>
static T get(const YAML::Node& node, const std::string& file, const char* key, const char* type_name) {
  try {
    return node.as<T>();
  } catch (const YAML::Exception&) {
    fail(at(file, node), ": '", key, "' must be ", type_name);
  }
}

static DataSource parse_source(const YAML::Node& n, const std::string& file, size_t index) {
  DataSource s;
  s.line = n.Mark().line + 1;
  std::string what = "source " + std::to_string(index + 1);
  check_keys(n, file, what.c_str(),
             {"name", "kind", "style", "split", "ops", "count", "importer", "field", "path", "separator",
              "weight", "repeat"});
  if (!n["kind"]) fail(at(file, n), ": ", what, " needs 'kind' (synthetic, jsonl or text)");
  s.kind = get<std::string>(n["kind"], file, "kind", "a string");
  auto str = [&](const char* key, std::string& out) {
    if (n[key]) out = get<std::string>(n[key], file, key, "a string");
  };
  str("name", s.name);
  str("style", s.style);
  str("split", s.split);
  str("importer", s.importer);
  str("field", s.field);
  str("path", s.path);
  str("separator", s.separator);
  if (n["count"])
    s.count = get_integer(n["count"], file, "count", 0, kMaxSourceCount, "problems in the pool; 0 = as many as the weight needs");
  if (n["weight"])
    s.weight = get_number(n["weight"], file, "weight", 0, false, kMaxWeight, true, "relative to the other sources' weights");
  if (n["repeat"])
    s.repeat = get_number(n["repeat"], file, "repeat", 0, false, kMaxRepeat, true, "passes over the source's documents");
  if (n["ops"]) {
    const YAML::Node& ops = n["ops"];
    if (ops.IsSequence() && ops.size() == 2) {
      s.min_ops = get<int>(ops[0], file, "ops", "[min, max] integers");
      s.max_ops = get<int>(ops[1], file, "ops", "[min, max] integers");
    } else {
      s.min_ops = s.max_ops = get<int>(ops, file, "ops", "an integer or [min, max]");
    }
    if (s.min_ops < 1 || s.max_ops > 8 || s.min_ops > s.max_ops)
      fail(at(file, ops), ": 'ops' must lie within 1..8 with min <= max");
  }
  auto only_for = [&](const char* key, bool allowed) {
    if (n[key] && !allowed) fail(at(file, n[key]), ": '", key, "' does not apply to a ", s.kind, " source");
  };
  if (s.kind == "synthetic") {
    if (!math_style_known(s.style))
      fail(at(file, n), ": ", what, " needs 'style' (tinygsm, tinygsm_short, omi1, omi2, gsm8k or mathtext), got '",
           s.style, "'");
    if (!math_split_known(s.split))
      fail(at(file, n), ": ", what, ": unknown split '", s.split, "' (known: train, rl, test, easy, hard)");
    only_for("path", false);
    only_for("importer", false);
    if (s.repeat > 0 && s.count == 0) fail(at(file, n), ": ", what, ": 'repeat' needs 'count' for a synthetic source");
  } else if (s.kind == "jsonl" || s.kind == "text") {
    if (s.path.empty()) fail(at(file, n), ": ", what, " needs 'path'");
    only_for("style", false);
    only_for("ops", false);
    only_for("count", false);
    only_for("split", false);
    if (s.kind == "jsonl") {
      if (!importer_kind_known(s.importer))
        fail(at(file, n), ": ", what, " needs 'importer' (", importer_kinds_list(), "), got '", s.importer, "'");
      only_for("separator", false);
    } else {
      only_for("importer", false);
      only_for("field", false);
      if (s.separator.empty()) fail(at(file, n["separator"]), ": 'separator' must not be empty");
    }
  } else {
    fail(at(file, n["kind"]), ": unknown source kind '", s.kind, "' (known: synthetic, jsonl, text)");
  }
  if (n["weight"] && n["repeat"]) fail(at(file, n), ": ", what, " has both 'weight' and 'repeat'; give one");
  if (s.weight == 0 && s.repeat == 0) {
    if (s.kind == "synthetic" && s.count == 0)
      fail(at(file, n), ": ", what, " needs 'count' or 'weight' (a synthetic source is unbounded)");
    s.repeat = 1.0;
  }
  if (s.name.empty()) s.name = s.kind == "synthetic" ? s.style : (s.kind == "jsonl" ? s.importer : "text");
  return s;
}

DataSpec data_spec_from_yaml(const YAML::Node& node, const std::string& file) {
  DataSpec spec;
  spec.name_for_errors = file;
  check_keys(node, file, "data spec",
             {"seed", "tokens", "val_fraction", "shard_tokens", "tokenizer", "sources"});
  if (node["seed"]) spec.seed = get<uint64_t>(node["seed"], file, "seed", "a non-negative integer");
  if (node["tokens"]) spec.tokens = get_integer(node["tokens"], file, "tokens", 1, kMaxDataTokens, "the budget");
  if (node["val_fraction"])
    spec.val_fraction = get_number(node["val_fraction"], file, "val_fraction", 0, false, 0.5, false,
                                   "the share held out for validation, which pretraining evaluates on");
  if (node["shard_tokens"])
    spec.shard_tokens = get_integer(node["shard_tokens"], file, "shard_tokens", 1024, kMaxDataTokens, "tokens per shard file");
  if (node["tokenizer"]) {
    const YAML::Node& t = node["tokenizer"];
    check_keys(t, file, "tokenizer", {"vocab_size", "path", "sample_bytes"});
    if (t["vocab_size"]) spec.vocab_size = (int)get_integer(t["vocab_size"], file, "vocab_size", 257, 65536);
    if (t["path"]) spec.tokenizer_path = get<std::string>(t["path"], file, "path", "a string");
    if (t["sample_bytes"])
      spec.tokenizer_sample_bytes = get_integer(t["sample_bytes"], file, "sample_bytes", 1000, kMaxTokenizerSampleBytes,
                                                "bytes of text the tokenizer is trained on");
    if (t["path"] && t["vocab_size"])
      fail(at(file, t), ": tokenizer has both 'path' and 'vocab_size'; a reused tokenizer fixes its vocabulary");
  }
  const YAML::Node& sources = node["sources"];
  if (!sources || !sources.IsSequence() || sources.size() == 0)
    fail(file, ": a data spec needs a non-empty 'sources' list");
  for (size_t i = 0; i < sources.size(); i++) spec.sources.push_back(parse_source(sources[i], file, i));
  // Unique names: the manifest reports tokens by name.
  std::set<std::string> seen;
  for (auto& s : spec.sources) {
    std::string base = s.name;
    for (int k = 2; seen.count(s.name); k++) s.name = base + "_" + std::to_string(k);
    seen.insert(s.name);
  }
  bool any_weight = std::any_of(spec.sources.begin(), spec.sources.end(), [](auto& s) { return s.weight > 0; });
  if (any_weight && spec.tokens <= 0) fail(file, ": 'tokens' (the budget) is required when a source has a 'weight'");
  if (!any_weight && node["tokens"])
    fail(at(file, node["tokens"]), ": 'tokens' has no effect when no source has a 'weight' (every source is fixed by 'repeat'/'count')");
  return spec;
}

DataSpec data_spec_load(const std::string& path) {
  YAML::Node root = yaml_parse(read_file(path), path);
  // A data spec may stand alone or sit under `data:` in a larger config.
  if (root.IsMap() && root["data"] && !root["sources"]) return data_spec_from_yaml(root["data"], path);
  return data_spec_from_yaml(root, path);
}

nlohmann::json data_spec_to_json(const DataSpec& spec) {
  nlohmann::json j;
  j["seed"] = spec.seed;
  j["tokens"] = spec.tokens;
  j["val_fraction"] = spec.val_fraction;
  j["shard_tokens"] = spec.shard_tokens;
  j["tokenizer"] = spec.tokenizer_path.empty()
                       ? nlohmann::json{{"vocab_size", spec.vocab_size}, {"sample_bytes", spec.tokenizer_sample_bytes}}
                       : nlohmann::json{{"path", spec.tokenizer_path}};
  j["sources"] = nlohmann::json::array();
  for (const auto& s : spec.sources) {
    nlohmann::json o{{"name", s.name}, {"kind", s.kind}};
    if (s.kind == "synthetic") {
      o["style"] = s.style;
      o["split"] = s.split;
      if (s.min_ops) o["ops"] = {s.min_ops, s.max_ops};
      if (s.count) o["count"] = s.count;
    } else {
      o["path"] = s.path;
      if (s.kind == "jsonl") o["importer"] = s.importer;
      if (s.kind == "jsonl" && s.importer == "text") o["field"] = s.field;
      if (s.kind == "text") o["separator"] = s.separator;
    }
    if (s.weight > 0) o["weight"] = s.weight;
    else o["repeat"] = s.repeat;
    j["sources"].push_back(o);
  }
  return j;
}

}  // namespace chamber
