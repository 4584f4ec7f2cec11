// Parsing and canonical form of a data spec (format documented in dataset.h), with the strict
// reader every config uses (util/yaml_schema.h): a key that is not known ("wieght") is an error
// naming its line, not a silent default, and every number is range-checked.
#include <algorithm>
#include <set>

#include "data/dataset.h"
#include "data/importers.h"
#include "data/mathworld.h"
#include "util/util.h"
#include "util/yaml.h"
#include "util/yaml_schema.h"

namespace chamber {

static std::string at(const std::string& file, const YAML::Node& node) { return yaml_where(file, node); }

// Marks the keys a map may hold; finish() then names any other key, with its line.
static void allow_keys(YamlMap& m, std::initializer_list<const char*> known) {
  for (const char* k : known) m.used.insert(k);
}

static DataSource parse_source(const YAML::Node& n, const std::string& file, size_t index) {
  DataSource s;
  s.line = n.Mark().line + 1;
  std::string what = "source " + std::to_string(index + 1);
  YamlMap m = yaml_item_map(n, file, what);
  allow_keys(m, {"name", "kind", "style", "split", "ops", "count", "importer", "field", "path", "separator",
                 "weight", "repeat"});
  m.finish();
  if (!m.has("kind")) fail(at(file, n), ": ", what, " needs 'kind' (synthetic, jsonl or text)");
  m.get("kind", s.kind);
  m.get("name", s.name);
  m.get("style", s.style);
  m.get("split", s.split);
  m.get("importer", s.importer);
  m.get("field", s.field);
  m.get("path", s.path);
  m.get("separator", s.separator);
  if (m.has("count"))
    s.count = yaml_integer_in(m, "count", 0, kMaxSourceCount, "problems in the pool; 0 = as many as the weight needs");
  if (m.has("weight"))
    s.weight = yaml_number_in(m, "weight", 0, false, kMaxWeight, true, "relative to the other sources' weights");
  if (m.has("repeat"))
    s.repeat = yaml_number_in(m, "repeat", 0, false, kMaxRepeat, true, "passes over the source's documents");
  if (m.has("ops")) {
    const YAML::Node ops = m.raw("ops");
    auto whole = [&](const YAML::Node& v, const char* type_name) {
      try {
        return v.as<int>();
      } catch (const YAML::Exception&) {
        fail(at(file, v), ": 'ops' must be ", type_name);
      }
    };
    if (ops.IsSequence() && ops.size() == 2) {
      s.min_ops = whole(ops[0], "[min, max] integers");
      s.max_ops = whole(ops[1], "[min, max] integers");
    } else {
      s.min_ops = s.max_ops = whole(ops, "an integer or [min, max]");
    }
    if (s.min_ops < 1 || s.max_ops > 8 || s.min_ops > s.max_ops)
      fail(at(file, ops), ": 'ops' must lie within 1..8 with min <= max");
  }
  auto only_for = [&](const char* key, bool allowed) {
    if (m.has(key) && !allowed) fail(at(file, n[key]), ": '", key, "' does not apply to a ", s.kind, " source");
  };
  if (s.kind == "synthetic") {
    if (!math_style_known(s.style))
      fail(at(file, n), ": ", what, " needs 'style' (tinygsm, tinygsm_short, omi1, omi2, omi2_steps, gsm8k or mathtext), got '",
           s.style, "'");
    if (!math_split_known(s.split))
      fail(at(file, n), ": ", what, ": unknown split '", s.split, "' (known: ", kMathSplitNames, ")");
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
  if (m.has("weight") && m.has("repeat")) fail(at(file, n), ": ", what, " has both 'weight' and 'repeat'; give one");
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
  YamlMap m = yaml_item_map(node, file, "a data spec");
  allow_keys(m, {"seed", "tokens", "val_fraction", "shard_tokens", "tokenizer", "sources"});
  m.finish();
  if (m.has("seed")) {
    try {
      spec.seed = m.raw("seed").as<uint64_t>();
    } catch (const YAML::Exception&) {
      m.bad("seed", "must be a non-negative integer");
    }
  }
  if (m.has("tokens")) spec.tokens = yaml_integer_in(m, "tokens", 1, kMaxDataTokens, "the budget");
  if (m.has("val_fraction"))
    spec.val_fraction = yaml_number_in(m, "val_fraction", 0, false, 0.5, false,
                                       "the share held out for validation, which pretraining evaluates on");
  if (m.has("shard_tokens"))
    spec.shard_tokens = yaml_integer_in(m, "shard_tokens", 1024, kMaxDataTokens, "tokens per shard file");
  if (m.has("tokenizer")) {
    YamlMap t = yaml_item_map(node["tokenizer"], file, "tokenizer");
    allow_keys(t, {"vocab_size", "path", "sample_bytes"});
    t.finish();
    if (t.has("vocab_size")) spec.vocab_size = (int)yaml_integer_in(t, "vocab_size", 257, 65536);
    t.get("path", spec.tokenizer_path);
    if (t.has("sample_bytes"))
      spec.tokenizer_sample_bytes = yaml_integer_in(t, "sample_bytes", 1000, kMaxTokenizerSampleBytes,
                                                    "bytes of text the tokenizer is trained on");
    if (t.has("path") && t.has("vocab_size"))
      fail(at(file, t.node), ": tokenizer has both 'path' and 'vocab_size'; a reused tokenizer fixes its vocabulary");
  }
  const YAML::Node sources = m.raw("sources");
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
  if (!any_weight && m.has("tokens"))
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
