// Reading YAML configs strictly: every map is read through a YamlMap that knows which keys it
// consumed, so a mistyped key (`learning_rate` for `lr`) is an error naming the key path and its
// line instead of being silently ignored. Values are type- and range-checked with the field named.
#pragma once
#include <yaml-cpp/yaml.h>

#include <functional>
#include <set>
#include <string>
#include <vector>

namespace chamber {

struct YamlMap {
  YAML::Node node;            // a map (or null: then every key is absent)
  std::string file;           // for error messages
  std::string path;           // key path of this map, e.g. "train.optim"
  std::set<std::string> used;

  bool has(const std::string& key) const;
  // Reads node[key] into out if present; `out` keeps its default otherwise.
  void get(const std::string& key, int& out);
  void get(const std::string& key, int64_t& out);
  void get(const std::string& key, float& out);
  void get(const std::string& key, double& out);
  void get(const std::string& key, bool& out);
  void get(const std::string& key, std::string& out);
  void get(const std::string& key, std::vector<std::string>& out);
  void get(const std::string& key, std::vector<double>& out);
  YamlMap sub(const std::string& key);        // nested map (absent -> empty map)
  YAML::Node raw(const std::string& key);     // the node itself, marked used
  // Errors on any key present in the node that was never read.
  void finish() const;
  // "file:line: key path" for messages about a field.
  std::string where(const std::string& key) const;
  [[noreturn]] void bad(const std::string& key, const std::string& why) const;
};

YamlMap yaml_root(const YAML::Node& node, const std::string& file);
YAML::Node yaml_load_file(const std::string& path);   // Error with file and line on syntax errors

// Applies `--set a.b.c=value` overrides in place: the value is parsed as YAML (so numbers stay
// numbers, `[1,2]` is a list). Intermediate maps are created; a key that the schema does not know
// is caught later by finish(), like a typo in the file.
void yaml_apply_override(YAML::Node& root, const std::string& assignment);

// Range checks used by config readers: the message names the field and the allowed range.
void require_positive(const YamlMap& m, const std::string& key, double value);
void require_range(const YamlMap& m, const std::string& key, double value, double lo, double hi);

}  // namespace chamber
