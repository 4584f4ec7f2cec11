// Sweep grid expansion: see sweep.h.
#include "train/study/sweep.h"

#include <algorithm>
#include <set>

#include "util/util.h"
#include "util/yaml.h"

namespace chamber {

std::string yaml_flow_text(const YAML::Node& node) {
  if (node.IsScalar()) return node.Scalar();
  YAML::Emitter out;
  out.SetMapFormat(YAML::Flow);
  out.SetSeqFormat(YAML::Flow);
  out << node;
  return out.c_str();
}

// Nested maps are the same as dotted keys (`--set sweep.rl.kl_coef=[..]` builds them):
// {rl: {kl_coef: [..]}} -> ("rl.kl_coef", [..]).
// Stops at kMaxSweepAxes entries, so nested maps cannot multiply the work.
static void flatten_sweep(const YAML::Node& node, const std::string& prefix, const std::string& file,
                          std::vector<std::pair<std::string, YAML::Node>>& out) {
  for (const auto& kv : node) {
    if (!kv.first.IsScalar()) fail(yaml_where(file, kv.first), ": a 'sweep' key must be a dotted key like rl.kl_coef");
    std::string key = prefix.empty() ? kv.first.Scalar() : prefix + "." + kv.first.Scalar();
    if (kv.second.IsMap()) {
      flatten_sweep(kv.second, key, file, out);
    } else {
      if (out.size() == kMaxSweepAxes)
        fail(yaml_where(file, kv.first), ": 'sweep' has more than ", kMaxSweepAxes, " axes (keys)");
      out.push_back({key, kv.second});
    }
  }
}

std::vector<SweepAxis> sweep_axes_from_yaml(const YAML::Node& node, const std::string& file) {
  std::vector<SweepAxis> axes;
  if (!node || node.IsNull()) return axes;
  auto where = [&](const YAML::Node& n) { return yaml_where(file, n) + ": "; };
  if (!node.IsMap())
    fail(where(node), "'sweep' must be a map from dotted keys to lists of values, e.g. sweep: {rl.kl_coef: [0.001, 0.01]}");
  std::vector<std::pair<std::string, YAML::Node>> entries;
  flatten_sweep(node, "", file, entries);
  std::set<std::string> keys;
  for (const auto& [entry_key, values] : entries) {
    SweepAxis axis;
    axis.key = entry_key;
    std::string at = where(values) + "'sweep." + axis.key + "' ";
    if (axis.key.empty() || axis.key.front() == '.' || axis.key.back() == '.' ||
        axis.key.find("..") != std::string::npos)
      fail(at, "is not a dotted key like rl.kl_coef");
    if (!values.IsSequence() || values.size() == 0)
      fail(at, "must be a non-empty list of values, e.g. [0.001, 0.01]");
    if (axis.key == "sweep" || axis.key.rfind("sweep.", 0) == 0) fail(at, "cannot sweep the sweep itself");
    for (const auto& v : values) {
      std::string text = yaml_flow_text(v);
      for (const auto& seen : axis.values)
        if (seen == text) fail(at, "lists the value '", text, "' twice");
      axis.values.push_back(text);
      axis.written.push_back(v);
    }
    for (const auto& other : keys)  // "rl" and "rl.kl_coef" would overwrite each other
      if (axis.key.rfind(other + ".", 0) == 0 || other.rfind(axis.key + ".", 0) == 0)
        fail(at, "overlaps the axis '", other, "' (one is inside the other)");
    keys.insert(axis.key);
    axes.push_back(axis);
  }
  return axes;
}

static std::string last_segment(const std::string& key) { return key.substr(key.find_last_of('.') + 1); }

static std::string id_safe(const std::string& text) {
  std::string out;
  for (char c : text) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '+' ||
              c == '-';
    out += ok ? c : '_';
  }
  return out.empty() ? "_" : out;
}

std::vector<SweepPoint> sweep_expand(const std::vector<SweepAxis>& axes) {
  std::vector<std::string> names;
  for (const auto& a : axes) {
    int same = 0;
    for (const auto& b : axes) same += last_segment(b.key) == last_segment(a.key);
    names.push_back(same > 1 ? a.key : last_segment(a.key));
  }
  size_t total = 1;
  for (const auto& a : axes) {
    total *= a.values.size();
    if (total > kMaxSweepRuns) fail("sweep: more than ", kMaxSweepRuns, " runs; sweep fewer values");
  }
  std::vector<SweepPoint> points;
  std::set<std::string> ids;
  for (size_t n = 0; n < total; n++) {
    // Mixed-radix digits of n, last axis fastest.
    std::vector<size_t> pick(axes.size());
    size_t rest = n;
    for (size_t i = axes.size(); i-- > 0;) {
      pick[i] = rest % axes[i].values.size();
      rest /= axes[i].values.size();
    }
    SweepPoint p;
    for (size_t i = 0; i < axes.size(); i++) {
      const std::string& v = axes[i].values[pick[i]];
      p.assignments.push_back(axes[i].key + "=" + v);
      if (pick[i] < axes[i].written.size()) p.written.push_back(axes[i].written[pick[i]]);
      p.axes[axes[i].key] = v;
      p.id += (i ? "__" : "") + id_safe(names[i]) + "-" + id_safe(v);
    }
    if (axes.empty()) p.id = "main";
    if (!ids.insert(p.id).second)
      fail("sweep: two runs would share the directory name '", p.id,
           "' (values that differ only in characters outside [A-Za-z0-9.+-]); make the values distinct");
    points.push_back(p);
  }
  return points;
}

std::vector<std::vector<SweepAxis>> sweep_grids_from_yaml(const YAML::Node& node, const std::string& file) {
  std::vector<std::vector<SweepAxis>> grids;
  if (!node || node.IsNull()) return grids;
  if (!node.IsSequence()) {
    grids.push_back(sweep_axes_from_yaml(node, file));
    return grids;
  }
  if (node.size() == 0) fail(file, ":", node.Mark().line + 1, ": 'sweep' is an empty list; give at least one grid");
  for (const auto& grid : node) {
    if (!grid.IsMap())
      fail(file, ":", grid.Mark().line + 1,
           ": each entry of a 'sweep' list must be a grid (a map from dotted keys to lists of values)");
    grids.push_back(sweep_axes_from_yaml(grid, file));
  }
  return grids;
}

std::vector<SweepPoint> sweep_expand_grids(const std::vector<std::vector<SweepAxis>>& grids) {
  if (grids.empty()) return sweep_expand({});
  size_t total = 0;   // counted before expanding: a list of many large grids is refused up front
  for (const auto& grid : grids) {
    size_t runs = 1;
    for (const auto& a : grid) runs = std::min(runs * a.values.size(), kMaxSweepRuns + 1);
    total += runs;
    if (total > kMaxSweepRuns) fail("sweep: more than ", kMaxSweepRuns, " runs over all grids; sweep fewer values");
  }
  std::vector<SweepPoint> points;
  std::set<std::string> ids;
  for (const auto& grid : grids)
    for (SweepPoint& p : sweep_expand(grid)) {
      if (!ids.insert(p.id).second)
        fail("sweep: the run '", p.id, "' appears in two grids; make the grids' values distinct");
      points.push_back(std::move(p));
    }
  return points;
}

}  // namespace chamber
