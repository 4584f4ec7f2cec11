// Reading YAML configs strictly: every map is read through a YamlMap that knows which keys it
// consumed, so a mistyped key (`learning_rate` for `lr`) is an error naming the key path and its
// line instead of being silently ignored. Values are type- and range-checked with the field named.
#pragma once
#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <functional>
#include <limits>
#include <set>
#include <string>
#include <type_traits>
#include <variant>
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

// Range checks used by config readers: the message names the field, the allowed range and the
// value, then `note` (what the value means) when there is one.
inline constexpr double kUnbounded = std::numeric_limits<double>::infinity();
void require_positive(const YamlMap& m, const std::string& key, double value,
                      const std::string& note = "");
void require_range(const YamlMap& m, const std::string& key, double value, double lo, double hi,
                   const std::string& note = "");

// ---- a config struct described once, as a table of its fields ----
// Each row is one key of one YAML map: the struct member it fills and, for a number, the range it
// must lie in (inclusive; `positive` asks for > 0 instead). The one table reads the map strictly
// (yaml_read_fields: unknown keys, wrong types and out-of-range values are errors naming the
// field, its line and the range) and writes it back (yaml_write_fields: the resolved config.yaml
// a run records, keys in table order), so a field cannot be read but left out of the record.
// Checks that involve two fields (min_lr <= lr, n_embd divisible by n_head) follow the read.
template <typename Config>
struct ConfigField {
  const char* key;
  std::variant<int Config::*, int64_t Config::*, float Config::*, double Config::*,
               bool Config::*, std::string Config::*>
      member;
  double lo = -kUnbounded, hi = kUnbounded;
  bool positive = false;
  const char* note = "";   // what the value means, for the error message ("0 = all cores")
};

// Only reads the fields' keys (no finish, no ranges): for a map that also holds other keys, such as
// a config's top level with its sections.
template <typename Config>
void yaml_get_fields(YamlMap& map, Config& c, const std::vector<ConfigField<Config>>& fields) {
  for (const auto& f : fields) std::visit([&](auto member) { map.get(f.key, c.*member); }, f.member);
}

template <typename Config>
void yaml_read_fields(YamlMap& map, Config& c, const std::vector<ConfigField<Config>>& fields) {
  yaml_get_fields(map, c, fields);
  map.finish();
  for (const auto& f : fields)
    std::visit(
        [&](auto member) {
          using T = std::remove_cvref_t<decltype(c.*member)>;
          if constexpr (std::is_arithmetic_v<T> && !std::is_same_v<T, bool>) {
            if (f.positive) require_positive(map, f.key, (double)(c.*member), f.note);
            else require_range(map, f.key, (double)(c.*member), f.lo, f.hi, f.note);
          }
        },
        f.member);
}

template <typename Config>
void yaml_write_fields(YAML::Node& node, const Config& c,
                       const std::vector<ConfigField<Config>>& fields) {
  for (const auto& f : fields) std::visit([&](auto member) { node[f.key] = c.*member; }, f.member);
}

}  // namespace chamber
