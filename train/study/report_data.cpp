// The report's data side (see report.h): reading the run directories, recognising metric names,
// the reward-signal check, the final numbers of each run and report.json.
#include <algorithm>
#include <cmath>
#include <set>
#include <sstream>
#include <sys/stat.h>
#include <dirent.h>

#include "engine/checkpoint.h"
#include "util/util.h"
#include "train/metrics.h"
#include "train/study/report.h"

namespace chamber {

double MetricsColumns::last(const std::string& key) const {
  auto it = points.find(key);
  return it == points.end() || it->second.empty() ? NAN : it->second.back().second;
}
double MetricsColumns::first(const std::string& key) const {
  auto it = points.find(key);
  return it == points.end() || it->second.empty() ? NAN : it->second.front().second;
}

void flatten_numbers(const nlohmann::json& j, const std::string& prefix, std::map<std::string, double>& out) {
  if (j.is_object()) {
    for (auto it = j.begin(); it != j.end(); ++it)
      flatten_numbers(it.value(), prefix.empty() ? it.key() : prefix + "." + it.key(), out);
  } else if (j.is_number() || j.is_boolean()) {
    out[prefix] = j.is_boolean() ? (j.get<bool>() ? 1.0 : 0.0) : j.get<double>();
  }
}

MetricsColumns read_metrics_columns(const std::string& path) {
  MetricsColumns cols;
  for (const auto& j : metrics_read(path)) {
    double step = j["step"].get<double>();
    std::map<std::string, double> flat;
    flatten_numbers(j, "", flat);
    for (const auto& [key, value] : flat)
      if (key != "step") cols.points[key].push_back({step, value});
  }
  return cols;
}

// Key segments split on '.', '/'.
static std::vector<std::string> segments(const std::string& key) {
  std::vector<std::string> parts;
  std::string cur;
  for (char c : key) {
    if (c == '.' || c == '/') parts.push_back(cur), cur.clear();
    else cur += c;
  }
  parts.push_back(cur);
  return parts;
}

// The segment after one of `markers` (also "marker_style" written as one last segment), or "";
// `group` gets the key with the style replaced by "*" (so shares of train rollouts and of eval
// samples chart separately).
static std::string after_marker(const std::string& key, std::initializer_list<const char*> markers,
                                std::string* group = nullptr) {
  std::vector<std::string> parts = segments(key);
  auto joined = [&](size_t star, const std::string& star_text) {
    std::string g;
    for (size_t j = 0; j < parts.size(); j++) g += (j ? "." : "") + (j == star ? star_text : parts[j]);
    return g;
  };
  for (size_t i = 0; i < parts.size(); i++)
    for (const char* m : markers) {
      std::string mk = m;
      if (parts[i] == mk && i + 1 < parts.size()) {
        if (group) *group = joined(i + 1, "*");
        return parts[i + 1];
      }
      if (parts[i].rfind(mk + "_", 0) == 0 && parts[i].size() > mk.size() + 1 && i + 1 == parts.size()) {
        if (group) *group = joined(i, mk + "_*");
        return parts[i].substr(mk.size() + 1);
      }
    }
  return "";
}

// The grader's shape: ... "styles": {"tinygsm": {"share": .., "accuracy": ..}}.
static std::string styles_map_entry(const std::string& key, const char* field, std::string* group) {
  std::vector<std::string> parts = segments(key);
  size_t n = parts.size();
  if (n < 3 || parts[n - 1] != field || parts[n - 3].rfind("style", 0) != 0) return "";
  if (group) {
    *group = "";
    for (size_t j = 0; j < n; j++) *group += (j ? "." : "") + (j == n - 2 ? std::string("*") : parts[j]);
  }
  return parts[n - 2];
}

std::string style_accuracy_of(const std::string& key, std::string* group) {
  std::string s = styles_map_entry(key, "accuracy", group);
  return s.empty() ? after_marker(key, {"style_accuracy", "style_acc", "eval_style_acc", "accuracy_by_style"}, group)
                   : s;
}
std::string style_share_of(const std::string& key, std::string* group) {
  std::string s = styles_map_entry(key, "share", group);
  if (!s.empty()) return s;
  if (!style_accuracy_of(key).empty()) return "";  // "style_acc_x" is not the share of style "acc_x"
  return after_marker(key, {"style_share", "share", "style", "eval_style"}, group);
}

// "pass@8" as the last segment, or the grader's {"pass@k": {"8": ..}} (flattened "pass@k.8").
static int at_k(const std::string& key, std::initializer_list<const char*> names) {
  std::vector<std::string> parts = segments(key);
  auto number = [](const std::string& digits) {
    if (digits.empty() || digits.size() > 6 || digits.find_first_not_of("0123456789") != std::string::npos) return 0;
    return std::stoi(digits);
  };
  for (const char* n : names) {
    std::string prefix = std::string(n) + "@";
    const std::string& last = parts.back();
    if (parts.size() >= 2 && parts[parts.size() - 2] == prefix + "k") return number(last);
    // "pass@8", "pass@1_greedy", "eval_pass1": the name at the start or after '_', then digits.
    for (size_t at = last.find(n); at != std::string::npos; at = last.find(n, at + 1)) {
      if (at > 0 && last[at - 1] != '_') continue;
      size_t d = at + std::string(n).size();
      if (d < last.size() && last[d] == '@') d++;
      size_t e = d;
      while (e < last.size() && last[e] >= '0' && last[e] <= '9') e++;
      if (e > d && (e == last.size() || last[e] == '_')) return number(last.substr(d, e - d));
    }
  }
  return 0;
}
int pass_at_k_of(const std::string& key) { return at_k(key, {"pass"}); }
int maj_at_k_of(const std::string& key) { return at_k(key, {"maj", "majority"}); }

// An eval.json flattened; `chamber eval`'s {"sets": {NAME: {...}}} flattens as "NAME.key" (its
// "config" block is settings, not results).
static std::map<std::string, double> read_flat_json(const std::string& path) {
  std::map<std::string, double> out;
  if (!file_exists(path)) return out;
  auto j = nlohmann::json::parse(read_file(path), nullptr, false);
  if (!j.is_object()) return out;
  if (j.contains("sets") && j["sets"].is_object()) {
    for (auto it = j["sets"].begin(); it != j["sets"].end(); ++it) flatten_numbers(it.value(), it.key(), out);
  } else {
    flatten_numbers(j, "", out);
  }
  return out;
}

static std::vector<std::string> list_dir(const std::string& dir) {
  std::vector<std::string> names;
  DIR* d = opendir(dir.c_str());
  if (!d) return names;
  while (dirent* e = readdir(d))
    if (e->d_name[0] != '.') names.push_back(e->d_name);
  closedir(d);
  std::sort(names.begin(), names.end());
  return names;
}

static std::string resolve_from(const std::string& base, const std::string& p) {
  return p.empty() || p[0] == '/' ? p : path_join(base, p);
}

ReportData report_load(const std::string& dir) {
  if (!dir_exists(dir)) fail("report: ", dir, " is not a directory (expected runs/NAME)");
  ReportData data;
  data.dir = dir;
  std::string trimmed = dir;
  while (trimmed.size() > 1 && trimmed.back() == '/') trimmed.pop_back();
  data.name = trimmed.substr(trimmed.find_last_of('/') + 1);
  std::string exp_path = path_join(dir, "experiment.json");
  if (file_exists(exp_path)) {
    auto j = nlohmann::json::parse(read_file(exp_path), nullptr, false);
    if (j.is_object()) {
      if (j.contains("name") && j["name"].is_string()) data.name = j["name"];
      if (j.contains("axes") && j["axes"].is_array())
        for (const auto& a : j["axes"])
          if (a.is_string()) data.axes.push_back(a);
    }
  }
  std::set<std::string> axes_seen(data.axes.begin(), data.axes.end());
  for (const std::string& name : list_dir(dir)) {
    std::string run_dir = path_join(dir, name);
    std::string run_json = path_join(run_dir, "run.json");
    if (!file_exists(run_json)) continue;
    auto j = nlohmann::json::parse(read_file(run_json), nullptr, false);
    if (!j.is_object()) continue;  // half-written or hand-edited: skip rather than abort the report
    ReportRun run;
    run.id = j.contains("id") && j["id"].is_string() ? j["id"].get<std::string>() : name;
    run.dir = run_dir;
    if (j.contains("axes") && j["axes"].is_object())
      for (auto it = j["axes"].begin(); it != j["axes"].end(); ++it) {
        run.axes[it.key()] = it.value().is_string() ? it.value().get<std::string>() : it.value().dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
        if (axes_seen.insert(it.key()).second) data.axes.push_back(it.key());
      }
    if (j.contains("pretrain_dir") && j["pretrain_dir"].is_string())
      run.pretrain_dir = resolve_from(dir, j["pretrain_dir"]);
    run.rl = read_metrics_columns(path_join(run_dir, "rl/metrics.jsonl"));
    if (!run.pretrain_dir.empty()) run.base_eval = read_flat_json(path_join(run.pretrain_dir, "eval_base/eval.json"));
    // Evaluations of saved checkpoints (eval/step_*/eval.json) form curves over RL steps, the
    // base model's at step 0; the newest (or eval/eval.json) gives the final numbers and samples.
    // Each evaluation's generations give its per-problem results (for the intervals).
    std::string eval_dir = path_join(run_dir, "eval"), final_eval_dir = eval_dir;
    for (const auto& [k, v] : run.base_eval) run.evals.points[k].push_back({0.0, v});
    if (!run.base_eval.empty())
      run.evals_problems[0.0] =
          read_eval_problems(path_join(run.pretrain_dir, "eval_base/generations.jsonl"), run.base_eval);
    double newest = -1;
    for (const std::string& sub : list_dir(eval_dir)) {
      double step = (double)checkpoint_step_of(sub);
      if (step < 0 || !file_exists(path_join(eval_dir, sub + "/eval.json"))) continue;
      std::map<std::string, double> flat = read_flat_json(path_join(eval_dir, sub + "/eval.json"));
      for (const auto& [k, v] : flat) run.evals.points[k].push_back({step, v});
      run.evals_problems[step] = read_eval_problems(path_join(eval_dir, sub + "/generations.jsonl"), flat);
      if (step > newest) newest = step, final_eval_dir = path_join(eval_dir, sub);
    }
    bool final_is_newest_step = !file_exists(path_join(eval_dir, "eval.json")) && newest >= 0;
    if (!file_exists(path_join(eval_dir, "eval.json"))) eval_dir = final_eval_dir;
    run.eval = read_flat_json(path_join(eval_dir, "eval.json"));
    if (final_is_newest_step) run.eval_problems = run.evals_problems[newest];
    else run.eval_problems = read_eval_problems(path_join(eval_dir, "generations.jsonl"), run.eval);
    if (run.eval.empty() && !dir_exists(path_join(run_dir, "rl"))) {  // no RL: the base is final
      run.eval = run.base_eval;
      if (run.evals_problems.count(0.0)) run.eval_problems = run.evals_problems[0.0];
    }
    for (const std::string& f : list_dir(eval_dir)) {
      if (f.find("generations") == std::string::npos || f.size() < 6 || f.substr(f.size() - 6) != ".jsonl") continue;
      std::istringstream in(read_file(path_join(eval_dir, f)));
      std::string line;
      while (std::getline(in, line) && run.generations.size() < 5000) {
        auto g = nlohmann::json::parse(line, nullptr, false);
        if (g.is_object()) run.generations.push_back(g);
      }
    }
    data.runs.push_back(std::move(run));
  }
  for (const ReportRun& run : data.runs) {
    if (run.pretrain_dir.empty() || data.pretrain.count(run.pretrain_dir)) continue;
    data.pretrain[run.pretrain_dir] = read_metrics_columns(path_join(run.pretrain_dir, "metrics.jsonl"));
    std::string label;
    for (const auto& [axis, value] : run.axes)
      if (axis.rfind("pretrain.", 0) == 0) label += (label.empty() ? "" : ", ") + axis.substr(9) + "=" + value;
    data.pretrain_label[run.pretrain_dir] = label.empty() ? "pretrain" : label;
  }
  data.groups = report_seed_groups(data.runs);
  for (const SeedGroup& g : data.groups) data.seeded |= g.runs.size() > 1;
  report_check_signal(data);
  return data;
}

static double mean_of(const std::vector<std::pair<double, double>>& pts) {
  double s = 0;
  int n = 0;
  for (const auto& p : pts)
    if (std::isfinite(p.second)) s += p.second, n++;
  return n ? s / n : NAN;
}

// The largest-k pass@k in a flat map (the best chance any sample is right), or NaN.
double best_pass_at_k(const std::map<std::string, double>& m) {
  int best_k = 0;
  double v = NAN;
  for (const auto& [key, value] : m) {
    int k = pass_at_k_of(key);
    if (k > best_k) best_k = k, v = value;
  }
  return v;
}

double best_pass_at_k_of_file(const std::string& eval_json_path) {
  return best_pass_at_k(read_flat_json(eval_json_path));
}

std::string weak_signal_warning(double pass_at_k) {
  if (!std::isfinite(pass_at_k) || pass_at_k >= kWeakSignalPassAtK) return "";
  char buf[512];
  if (pass_at_k < 0.05)
    std::snprintf(buf, sizeof buf,
                  "too little reward signal: the pretrained model's pass@k is %.3f, so almost every sampled "
                  "group is all wrong and RL has nothing to amplify; pretrain longer or make the RL prompts easier",
                  pass_at_k);
  else
    std::snprintf(buf, sizeof buf,
                  "weak reward signal: the pretrained model's pass@k is %.3f (below %.1f), so most sampled groups "
                  "are all wrong; expect RL's reward to stay low and the style shares to drift rather than learn. "
                  "Pretrain longer (or with another seed) or make the RL prompts easier",
                  pass_at_k, kWeakSignalPassAtK);
  return buf;
}

void report_check_signal(ReportData& data) {
  char buf[512];
  for (ReportRun& run : data.runs) {
    run.notes.clear();
    // 1. Before RL: can the base model solve anything at all?
    std::map<std::string, double> start;
    for (const auto& [key, pts] : run.rl.points)
      if (!pts.empty() && pass_at_k_of(key) > 0) start[key] = pts.front().second;
    double base = best_pass_at_k(run.base_eval);
    if (!std::isfinite(base)) base = best_pass_at_k(start);
    if (std::string warning = weak_signal_warning(base); !warning.empty()) run.notes.push_back(warning);
    // 2. During RL: groups whose rewards are all equal give no gradient.
    for (const auto& [key, pts] : run.rl.points) {
      bool no_signal_key = key.find("zero_std") != std::string::npos || key.find("no_signal") != std::string::npos ||
                           key.find("zero_var") != std::string::npos;
      double m = mean_of(pts);
      if (key.find("with_signal") != std::string::npos && m <= 0.1) {
        std::snprintf(buf, sizeof buf,
                      "too little reward signal: on average only %.0f%% of prompt groups had differing rewards "
                      "(%s); the others gave no gradient",
                      100 * m, key.c_str());
        run.notes.push_back(buf);
      }
      if (no_signal_key && m >= 0.9) {
        std::snprintf(buf, sizeof buf,
                      "too little reward signal: on average %.0f%% of prompt groups had identical rewards (%s), "
                      "so their advantages and gradients were zero",
                      100 * m, key.c_str());
        run.notes.push_back(buf);
      }
    }
    if (run.rl.has("reward")) {
      double m = mean_of(run.rl.points["reward"]);
      if (std::isfinite(m) && (m < 0.01 || m > 0.99)) {
        std::snprintf(buf, sizeof buf,
                      "too little reward signal: the mean reward over the run is %.3f (almost always %s)", m,
                      m < 0.5 ? "wrong" : "right");
        run.notes.push_back(buf);
      }
    }
    if (run.rl.points.empty() && run.eval.empty() && run.evals.points.empty())
      run.notes.push_back("no RL metrics or evaluation yet");
  }
}

// Column order: pass@k by k, maj@k by k, style shares, style accuracies, then reward and KL.
static int column_rank(const std::string& key) {
  if (int k = pass_at_k_of(key)) return 1000 + k;
  if (int k = maj_at_k_of(key)) return 2000000 + k;
  if (!style_share_of(key).empty()) return 3000000;
  if (!style_accuracy_of(key).empty()) return 4000000;
  if (key == "reward" || key == "kl") return 5000000;
  return -1;  // not a column
}

std::vector<std::pair<std::string, double>> report_final_numbers(const ReportRun& run) {
  std::map<std::string, double> merged;
  for (const auto& [key, pts] : run.rl.points)
    if (!pts.empty() && column_rank(key) >= 0) merged[key] = pts.back().second;
  for (const auto& [key, value] : run.eval)  // the final evaluation is the authoritative number
    if (column_rank(key) >= 0) merged[key] = value;
  std::vector<std::pair<std::string, double>> out(merged.begin(), merged.end());
  std::stable_sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    return column_rank(a.first) < column_rank(b.first);
  });
  return out;
}

std::vector<std::string> final_columns(const ReportData& data, const std::vector<size_t>& runs) {
  std::vector<std::string> columns;   // first seen, then in column order
  std::set<std::string> seen;
  for (size_t r : runs)
    for (const auto& [key, value] : report_final_numbers(data.runs[r]))
      if (std::isfinite(value) && seen.insert(key).second) columns.push_back(key);
  std::stable_sort(columns.begin(), columns.end(), [](const auto& a, const auto& b) {
    return column_rank(a) < column_rank(b);
  });
  return columns;
}

std::vector<AxisTable> report_axis_tables(const ReportData& data) {
  std::vector<AxisTable> tables;
  for (const std::string& axis : data.axes) {
    if (data.seeded && is_seed_axis(axis)) continue;   // aggregated over, not compared
    AxisTable t;
    t.axis = axis;
    std::vector<std::string> values;  // in first-seen order (the sweep's order, since runs sort by id)
    std::map<std::string, std::vector<size_t>> runs_with;   // value -> runs
    for (size_t i = 0; i < data.runs.size(); i++) {
      auto it = data.runs[i].axes.find(axis);
      if (it == data.runs[i].axes.end()) continue;
      if (!runs_with.count(it->second)) values.push_back(it->second);
      runs_with[it->second].push_back(i);
    }
    if (values.size() < 2) continue;  // nothing to compare
    std::vector<size_t> all_runs;
    for (size_t i = 0; i < data.runs.size(); i++)
      if (data.runs[i].axes.count(axis)) all_runs.push_back(i);
    t.columns = final_columns(data, all_runs);
    for (const std::string& v : values) {
      AxisTable::Row row{v, (int)runs_with[v].size(), {}, {}};
      // Each seed group with this value is one stratum: its seeds (and their problems) are
      // resampled, and the row's value is the mean over the groups.
      for (const std::string& c : t.columns) {
        std::vector<std::vector<SeedResult>> strata;
        for (const SeedGroup& g : data.groups) {
          auto it = g.axes.find(axis);
          if (it == g.axes.end() || it->second != v) continue;
          std::vector<SeedResult> seeds;
          for (size_t r : g.runs) seeds.push_back(final_seed_result(data.runs[r], c));
          strata.push_back(seeds);
        }
        Interval iv = bootstrap_interval_of_groups(strata);
        row.means.push_back(iv.mean);
        row.intervals.push_back(iv);
      }
      t.rows.push_back(row);
    }
    tables.push_back(t);
  }
  return tables;
}

static nlohmann::json number_or_null(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(); }

nlohmann::json report_summary(const ReportData& data) {
  nlohmann::json j = {{"name", data.name}, {"axes", data.axes}};
  j["runs"] = nlohmann::json::array();
  for (const ReportRun& run : data.runs) {
    nlohmann::json r = {{"id", run.id}, {"axes", run.axes}, {"pretrain_dir", run.pretrain_dir}, {"notes", run.notes}};
    nlohmann::json fin = nlohmann::json::object();
    for (const auto& [k, v] : report_final_numbers(run)) fin[k] = number_or_null(v);
    r["final"] = fin;
    nlohmann::json base = nlohmann::json::object();
    for (const auto& [k, v] : run.base_eval) base[k] = number_or_null(v);
    r["base_eval"] = base;
    r["rl_steps"] = run.rl.points.empty() ? 0 : (int)run.rl.points.begin()->second.size();
    j["runs"].push_back(r);
  }
  nlohmann::json pre = nlohmann::json::object();
  for (const auto& [dir, cols] : data.pretrain)
    pre[dir] = {{"label", data.pretrain_label.at(dir)}, {"final_loss", number_or_null(cols.last("loss"))},
                {"final_val_loss", number_or_null(cols.last("val_loss"))}};
  j["pretrain"] = pre;
  j["tables"] = nlohmann::json::array();
  for (const AxisTable& t : report_axis_tables(data)) {
    nlohmann::json tj = {{"axis", t.axis}, {"columns", t.columns}, {"rows", nlohmann::json::array()}};
    for (const auto& row : t.rows) {
      nlohmann::json means = nlohmann::json::array(), lo = nlohmann::json::array(), hi = nlohmann::json::array();
      for (double m : row.means) means.push_back(number_or_null(m));
      for (const Interval& iv : row.intervals) lo.push_back(number_or_null(iv.lo)), hi.push_back(number_or_null(iv.hi));
      tj["rows"].push_back({{"value", row.value}, {"runs", row.runs}, {"means", means}, {"lo", lo}, {"hi", hi}});
    }
    j["tables"].push_back(tj);
  }
  // Seed groups: each final number as mean and interval over the group's seeds, and the findings.
  j["bootstrap"] = {{"method", kBootstrapMethod}, {"resamples", kBootstrapResamples},
                    {"rng_seed", kBootstrapSeed}, {"level", kBootstrapLevel}};
  j["groups"] = nlohmann::json::array();
  for (const SeedGroup& g : data.groups) {
    nlohmann::json gj = {{"label", g.label}, {"axes", g.axes}, {"runs", nlohmann::json::array()}};
    for (size_t r : g.runs) gj["runs"].push_back(data.runs[r].id);
    nlohmann::json fin = nlohmann::json::object();
    for (const std::string& key : final_columns(data, g.runs)) {
      Interval iv = group_final(data, g, key);
      fin[key] = {{"mean", number_or_null(iv.mean)}, {"lo", number_or_null(iv.lo)}, {"hi", number_or_null(iv.hi)},
                  {"seeds", iv.seeds}};
    }
    gj["final"] = fin;
    gj["findings"] = nlohmann::json::array();
    for (const StyleFinding& f : group_findings(data, g))
      gj["findings"].push_back({{"style", f.style}, {"source", f.source}, {"amplified_in", f.amplified_in},
                                {"seeds", f.seeds}, {"text", f.text()}});
    j["groups"].push_back(gj);
  }
  return j;
}

}  // namespace chamber
