#include "engine/yaml_schema.h"

#include <cstdio>

#include "engine/util.h"

namespace chamber {

std::string YamlMap::where(const std::string& key) const {
  std::string full = path.empty() ? key : path + "." + key;
  int line = -1;
  if (node && node.IsMap() && node[key]) line = node[key].Mark().line;
  if (line < 0 && node) line = node.Mark().line;
  std::string out = file;
  if (line >= 0) {
    out += ':';
    out += std::to_string(line + 1);
  }
  out += ": '";
  out += full;
  out += '\'';
  return out;
}

void YamlMap::bad(const std::string& key, const std::string& why) const {
  fail(where(key), " ", why);
}

bool YamlMap::has(const std::string& key) const { return node && node.IsMap() && node[key]; }

template <typename T>
static void read_scalar(YamlMap& m, const std::string& key, T& out, const char* type_name) {
  m.used.insert(key);
  if (!m.has(key)) return;
  YAML::Node v = m.node[key];
  if (!v.IsScalar()) m.bad(key, std::string("must be ") + type_name);
  try {
    out = v.as<T>();
  } catch (const YAML::Exception&) {
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

YAML::Node yaml_load_file(const std::string& path) {
  std::string text = read_file(path);
  try {
    return YAML::Load(text);
  } catch (const YAML::ParserException& e) {
    fail(path, ":", e.mark.line + 1, ":", e.mark.column + 1, ": YAML syntax error: ", e.msg);
  }
}

void yaml_apply_override(YAML::Node& root, const std::string& assignment) {
  size_t eq = assignment.find('=');
  if (eq == std::string::npos || eq == 0)
    fail("--set '", assignment, "': expected KEY.PATH=VALUE, e.g. --set train.lr=3e-4");
  std::string key_path = assignment.substr(0, eq);
  std::string value_text = assignment.substr(eq + 1);
  YAML::Node value;
  try {
    value = YAML::Load(value_text);
  } catch (const YAML::Exception& e) {
    fail("--set '", assignment, "': the value is not valid YAML: ", e.what());
  }
  std::vector<std::string> keys;
  size_t start = 0;
  while (true) {
    size_t dot = key_path.find('.', start);
    keys.push_back(key_path.substr(start, dot - start));
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  // yaml-cpp nodes are handles: walk with fresh handles, creating maps as needed.
  std::vector<YAML::Node> chain{root};
  for (size_t i = 0; i + 1 < keys.size(); i++) {
    YAML::Node cur = chain.back();
    if (keys[i].empty()) fail("--set '", assignment, "': empty key in the path");
    if (!cur[keys[i]] || !cur[keys[i]].IsMap()) {
      if (cur[keys[i]] && !cur[keys[i]].IsNull())
        fail("--set '", assignment, "': '", keys[i], "' is not a map of settings");
      cur[keys[i]] = YAML::Node(YAML::NodeType::Map);
    }
    chain.push_back(cur[keys[i]]);
  }
  chain.back()[keys.back()] = value;
}

// 256, 0.95, 1e-06 rather than std::to_string's 256.000000.
static std::string format_number(double x) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%g", x);
  return buf;
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
  if (lo == -kUnbounded) {
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

}  // namespace chamber
