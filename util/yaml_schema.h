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
#include <utility>
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
  // True when node[key] is a scalar that reads as a number (then in out), for range checks made
  // before the typed read: 1e10 for an int field is out of range, not "not an integer".
  bool number(const std::string& key, double& out) const;
  YamlMap sub(const std::string& key);        // nested map (absent -> empty map)
  YAML::Node raw(const std::string& key);     // the node itself, marked used
  // Errors on any key present in the node that was never read.
  void finish() const;
  // "file:line: 'key.path'" for messages about a field; "file (from --set): 'key.path'" when the
  // value came from --set (it has no position in the file).
  std::string where(const std::string& key) const;
  [[noreturn]] void bad(const std::string& key, const std::string& why) const;
};

YamlMap yaml_root(const YAML::Node& node, const std::string& file);
// The file parsed by yaml_parse (util/yaml.h): errors with file and line on syntax errors,
// duplicate keys, a second document or an alias bomb.
YAML::Node yaml_load_file(const std::string& path);
// A config file (its top level must be a map, or empty) with `--set` overrides applied.
YAML::Node yaml_load_config(const std::string& path, const std::vector<std::string>& overrides);

// Applies `--set a.b.c=value` overrides in place: the value is parsed as YAML (so numbers stay
// numbers, `[1,2]` is a list) and carries no file position, so messages about it say --set.
// Intermediate maps are created; a key that the schema does not know is caught later by finish(),
// like a typo in the file.
void yaml_apply_override(YAML::Node& root, const std::string& assignment);

// Sets root[k1][k2]...[kn] = value for the dotted path "k1.k2...kn", creating missing maps.
// Copy on write: every map on the path is replaced by a shallow copy before it changes, so a
// node shared with another tree (yaml_copy_map, an alias) is never modified. `what` names the
// setting in errors (e.g. "--set 'a.b=1'").
void yaml_set_path(YAML::Node& root, const std::string& key_path, const YAML::Node& value,
                   const std::string& what);
// A new map holding the same key and value nodes as `map`: replacing one of its values (with a
// node, `copy[k] = YAML::Node(v)`) leaves `map` as it was, and positions in the file are kept,
// unlike YAML::Clone, which puts every node on line 1.
YAML::Node yaml_copy_map(const YAML::Node& map);

// Range checks used by config readers: the message names the field, the allowed range and the
// value, then `note` (what the value means) when there is one.
inline constexpr double kUnbounded = std::numeric_limits<double>::infinity();
void require_positive(const YamlMap& m, const std::string& key, double value,
                      const std::string& note = "");
void require_range(const YamlMap& m, const std::string& key, double value, double lo, double hi,
                   const std::string& note = "");

// Range-checked reads of one key whose message gives the whole allowed range as written, then
// `note`, then the value: "'count' must be an integer from 0 to 10000000 (problems in the pool),
// got '-5'" (also for a number the type cannot hold, or one written with an exponent), and
// "'weight' must be a number in (0, 1e+09] (relative weight), got '.inf'" (NaN fails too).
// The key must be present.
int64_t yaml_integer_in(YamlMap& m, const std::string& key, int64_t lo, int64_t hi,
                        const std::string& note = "");
double yaml_number_in(YamlMap& m, const std::string& key, double lo, bool lo_included, double hi,
                      bool hi_included, const std::string& note);
// A map read with its own keys' names in messages ('weight', not 'sources.weight'), for list
// items and sections whose line already says where they are. `what` names it in the error when
// the node is not a map ("source 2 must be a mapping").
YamlMap yaml_item_map(const YAML::Node& node, const std::string& file, const std::string& what);

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

// Range checks on a field's number as written, before the typed read (an int field holding
// 1e10 is out of range, which says more than "must be an integer").
template <typename Config>
void yaml_check_written_ranges(const YamlMap& map, const std::vector<ConfigField<Config>>& fields) {
  for (const auto& f : fields)
    std::visit(
        [&](auto member) {
          using T = std::remove_cvref_t<decltype(std::declval<Config&>().*member)>;
          double written = 0;
          if constexpr (std::is_arithmetic_v<T> && !std::is_same_v<T, bool>) {
            if (!map.number(f.key, written)) return;
            if (f.positive) require_positive(map, f.key, written, f.note);
            else require_range(map, f.key, written, f.lo, f.hi, f.note);
          }
        },
        f.member);
}

template <typename Config>
void yaml_read_fields(YamlMap& map, Config& c, const std::vector<ConfigField<Config>>& fields) {
  yaml_check_written_ranges(map, fields);
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
