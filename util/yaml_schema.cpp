#include "util/yaml_schema.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "util/util.h"
#include "util/yaml.h"

namespace chamber {

std::string YamlMap::where(const std::string& key) const {
  std::string full = path.empty() ? key : path + "." + key;
  std::string at = file;
  if (node && node.IsMap() && node[key]) {
    at = yaml_where(file, node[key]);
  } else if (node && node.Mark().line >= 0) {
    at = file + ":" + std::to_string(node.Mark().line + 1);
  }
  return at + ": '" + full + "'";
}

void YamlMap::bad(const std::string& key, const std::string& why) const {
  fail(where(key), " ", why);
}

bool YamlMap::has(const std::string& key) const { return node && node.IsMap() && node[key]; }

// For an integer field whose text did not convert, why: a fraction, too large for the type (its
// range given), or a whole number written with an exponent.
template <typename T>
static std::string integer_problem(const std::string& text) {
  double value = 0;
  try {
    value = YAML::Node(text).as<double>();
  } catch (const YAML::Exception&) {
    return "must be an integer, got '" + text + "'";
  }
  if (value != std::floor(value)) return "must be a whole number, got '" + text + "'";
  if (value < (double)std::numeric_limits<T>::min() || value > (double)std::numeric_limits<T>::max())
    return "must be an integer from " + std::to_string(std::numeric_limits<T>::min()) + " to " +
           std::to_string(std::numeric_limits<T>::max()) + ", got '" + text + "'";
  return "must be written as a plain integer (digits only), got '" + text + "'";
}

template <typename T>
static void read_scalar(YamlMap& m, const std::string& key, T& out, const char* type_name) {
  m.used.insert(key);
  if (!m.has(key)) return;
  YAML::Node v = m.node[key];
  if (!v.IsScalar()) m.bad(key, std::string("must be ") + type_name);
  try {
    out = v.as<T>();
  } catch (const YAML::Exception&) {
    if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) m.bad(key, integer_problem<T>(v.Scalar()));
    m.bad(key, std::string("must be ") + type_name + ", got '" + v.Scalar() + "'");
  }
}

void YamlMap::get(const std::string& key, int& out) { read_scalar(*this, key, out, "an integer"); }
void YamlMap::get(const std::string& key, int64_t& out) { read_scalar(*this, key, out, "an integer"); }
void YamlMap::get(const std::string& key, float& out) { read_scalar(*this, key, out, "a number"); }
void YamlMap::get(const std::string& key, double& out) { read_scalar(*this, key, out, "a number"); }
void YamlMap::get(const std::string& key, bool& out) { read_scalar(*this, key, out, "true or false"); }
void YamlMap::get(const std::string& key, std::string& out) { read_scalar(*this, key, out, "a string"); }

void YamlMap::get(const std::string& key, std::vector<std::string>& out) {
  used.insert(key);
  if (!has(key)) return;
  YAML::Node v = node[key];
  if (v.IsScalar()) {
    out = {v.Scalar()};
    return;
  }
  if (!v.IsSequence()) bad(key, "must be a list of strings");
  out.clear();
  for (const auto& item : v) {
    if (!item.IsScalar()) bad(key, "must be a list of strings");
    out.push_back(item.Scalar());
  }
}

void YamlMap::get(const std::string& key, std::vector<double>& out) {
  used.insert(key);
  if (!has(key)) return;
  YAML::Node v = node[key];
  std::vector<YAML::Node> items;
  if (v.IsScalar()) items.push_back(v);
  else if (v.IsSequence()) for (const auto& item : v) items.push_back(item);
  else bad(key, "must be a number or a list of numbers");
  out.clear();
  for (const auto& item : items) {
    try {
      out.push_back(item.as<double>());
    } catch (const YAML::Exception&) {
      bad(key, "must be a number or a list of numbers");
    }
  }
}

bool YamlMap::number(const std::string& key, double& out) const {
  if (!has(key) || !node[key].IsScalar()) return false;
  try {
    out = node[key].as<double>();
    return true;
  } catch (const YAML::Exception&) {
    return false;
  }
}

YamlMap YamlMap::sub(const std::string& key) {
  used.insert(key);
  YamlMap child;
  child.file = file;
  child.path = path.empty() ? key : path + "." + key;
  if (has(key)) {
    child.node = node[key];
    if (!child.node.IsMap() && !child.node.IsNull()) bad(key, "must be a map of settings");
  }
  return child;
}

YAML::Node YamlMap::raw(const std::string& key) {
  used.insert(key);
  return has(key) ? node[key] : YAML::Node();
}

void YamlMap::finish() const {
  if (!node || !node.IsMap()) return;
  for (const auto& kv : node) {
    if (!kv.first.IsScalar()) fail(yaml_where(file, kv.first), ": '", path, "' has a key that is not a plain name");
    std::string key = kv.first.as<std::string>();
    if (!used.count(key)) {
      std::string known;
      for (const auto& k : used) known += (known.empty() ? "" : ", ") + k;
      fail(where(key), " is not a known setting (known here: ", known, ")");
    }
  }
}

YamlMap yaml_root(const YAML::Node& node, const std::string& file) {
  YamlMap m;
  m.node = node;
  m.file = file;
  if (node && !node.IsMap() && !node.IsNull()) fail(file, ": the top level must be a map of settings");
  return m;
}

YAML::Node yaml_load_file(const std::string& path) { return yaml_parse(read_file(path), path); }

YAML::Node yaml_load_config(const std::string& path, const std::vector<std::string>& overrides) {
  YAML::Node root = yaml_load_file(path);
  yaml_root(root, path);   // the top level must be a map before --set can add keys to it
  for (const auto& o : overrides) yaml_apply_override(root, o);
  return root;
}

YAML::Node yaml_copy_map(const YAML::Node& map) {
  YAML::Node copy(YAML::NodeType::Map);
  copy.SetStyle(map.Style());
  for (const auto& kv : map) copy[kv.first] = kv.second;
  return copy;
}

void yaml_set_path(YAML::Node& root, const std::string& key_path, const YAML::Node& value,
                   const std::string& what) {
  std::vector<std::string> keys;
  size_t start = 0;
  while (true) {
    size_t dot = key_path.find('.', start);
    keys.push_back(key_path.substr(start, dot - start));
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  for (const auto& k : keys)
    if (k.empty()) fail(what, ": empty key in the path '", key_path, "'");
  if (root && !root.IsMap() && !root.IsNull()) fail(what, ": the config's top level is not a map of settings");
  // yaml-cpp nodes are handles: `map[k] = node` repoints the entry rather than writing into the
  // node it held, so each map on the path is first replaced by a copy of itself. Assigning one
  // handle to another would write through it, hence a fresh handle per level.
  std::vector<YAML::Node> chain{root};
  for (size_t i = 0; i + 1 < keys.size(); i++) {
    YAML::Node cur = chain.back();
    YAML::Node child = cur[keys[i]];
    if (child && !child.IsNull() && !child.IsMap())
      fail(what, ": '", keys[i], "' is not a map of settings");
    cur[keys[i]] = child && child.IsMap() ? yaml_copy_map(child) : YAML::Node(YAML::NodeType::Map);
    chain.push_back(cur[keys[i]]);
  }
  chain.back()[keys.back()] = value;
}

void yaml_apply_override(YAML::Node& root, const std::string& assignment) {
  size_t eq = assignment.find('=');
  if (eq == std::string::npos || eq == 0)
    fail("--set '", assignment, "': expected KEY.PATH=VALUE, e.g. --set train.lr=3e-4");
  // A long value (a whole YAML map) is cut short in messages.
  std::string shown = assignment;
  if (shown.size() > 48) shown = shown.substr(0, std::min(shown.find('\n'), (size_t)48)) + "...";
  std::string what = "--set '" + shown + "'";
  YAML::Node value = yaml_without_position(yaml_parse(assignment.substr(eq + 1), what));
  yaml_set_path(root, assignment.substr(0, eq), value, what);
}

static std::string with_note(std::string message, const std::string& note) {
  if (!note.empty()) message += " (" + note + ")";
  return message;
}

void require_positive(const YamlMap& m, const std::string& key, double value,
                      const std::string& note) {
  if (!(value > 0)) m.bad(key, with_note("must be > 0, got " + format_number(value), note));
}

void require_range(const YamlMap& m, const std::string& key, double value, double lo, double hi,
                   const std::string& note) {
  if (value >= lo && value <= hi) return;
  std::string message;
  if (lo == -kUnbounded && hi == kUnbounded) {
    message = "must be a number";   // only NaN gets here
  } else if (lo == -kUnbounded) {
    message = "must be <= " + format_number(hi);
  } else if (hi == kUnbounded) {
    message = "must be >= " + format_number(lo);
  } else {
    message = "must be in [" + format_number(lo);
    message += ", " + format_number(hi) + "]";
  }
  message += ", got " + format_number(value);
  m.bad(key, with_note(message, note));
}

static std::string written(const YAML::Node& node) { return node.IsScalar() ? node.Scalar() : "a list or map"; }

static std::string note_in_parentheses(const std::string& note) { return note.empty() ? "" : " (" + note + ")"; }

int64_t yaml_integer_in(YamlMap& m, const std::string& key, int64_t lo, int64_t hi, const std::string& note) {
  YAML::Node node = m.raw(key);
  auto bad = [&] {
    m.bad(key, "must be an integer from " + std::to_string(lo) + " to " + std::to_string(hi) +
                   note_in_parentheses(note) + ", got '" + written(node) + "'");
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

double yaml_number_in(YamlMap& m, const std::string& key, double lo, bool lo_included, double hi, bool hi_included,
                      const std::string& note) {
  YAML::Node node = m.raw(key);
  auto bad = [&] {
    m.bad(key, std::string("must be a number in ") + (lo_included ? "[" : "(") + format_number(lo) + ", " +
                   format_number(hi) + (hi_included ? "]" : ")") + note_in_parentheses(note) + ", got '" +
                   written(node) + "'");
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

YamlMap yaml_item_map(const YAML::Node& node, const std::string& file, const std::string& what) {
  if (!node.IsMap()) fail(yaml_where(file, node), ": ", what, " must be a mapping");
  YamlMap m;
  m.node = node;
  m.file = file;
  return m;
}

}  // namespace chamber
