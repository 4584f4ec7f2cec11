// Seed groups in the report (see report.h): which runs differ only by seed, their final numbers
// and curves as means with bootstrap intervals (train/study/bootstrap.h), and findings counted
// over seeds.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <set>

#include "train/study/report.h"

namespace chamber {

bool is_seed_axis(const std::string& axis) {
  if (axis == "seed" || axis == "pretrain_seed" || axis == "rl_seed") return true;
  size_t dot = axis.find_last_of('.');
  return dot != std::string::npos && axis.substr(dot + 1) == "seed";
}

std::vector<SeedGroup> report_seed_groups(const std::vector<ReportRun>& runs) {
  std::vector<SeedGroup> groups;
  std::map<std::map<std::string, std::string>, size_t> index_of;   // other axes -> group
  for (size_t i = 0; i < runs.size(); i++) {
    std::map<std::string, std::string> others;
    for (const auto& [axis, value] : runs[i].axes)
      if (!is_seed_axis(axis)) others[axis] = value;
    auto [it, added] = index_of.insert({others, groups.size()});
    if (added) {
      SeedGroup g;
      g.axes = others;
      for (const auto& [axis, value] : others) g.label += (g.label.empty() ? "" : ", ") + axis + " = " + value;
      if (g.label.empty()) g.label = "all runs";
      groups.push_back(g);
    }
    groups[it->second].runs.push_back(i);
  }
  return groups;
}

SeedResult final_seed_result(const ReportRun& run, const std::string& key) {
  SeedResult r;
  for (const auto& [k, v] : report_final_numbers(run))
    if (k == key) r.score = v;
  auto problems = run.eval_problems.find(key);
  if (run.eval.count(key) && problems != run.eval_problems.end()) {
    r.numerator = problems->second.numerator;
    r.denominator = problems->second.denominator;
  }
  return r;
}

Interval group_final(const ReportData& data, const SeedGroup& group, const std::string& key) {
  std::vector<SeedResult> seeds;
  for (size_t r : group.runs) seeds.push_back(final_seed_result(data.runs[r], key));
  return bootstrap_interval(seeds);
}

std::vector<std::pair<double, double>> bin_points(const std::vector<std::pair<double, double>>& pts, int max_points) {
  size_t bin = std::max<size_t>(1, (pts.size() + (size_t)max_points - 1) / (size_t)max_points);
  std::vector<std::pair<double, double>> out;
  for (size_t i = 0; i < pts.size(); i += bin) {
    double sx = 0, sy = 0;
    size_t n = 0;
    for (size_t j = i; j < pts.size() && j < i + bin; j++) sx += pts[j].first, sy += pts[j].second, n++;
    out.push_back({sx / (double)n, sy / (double)n});
  }
  return out;
}

// A seed's value of `key` at `step` of its checkpoint evaluations, with per-problem results.
static SeedResult eval_point(const ReportRun& run, double step, double value, const std::string& key) {
  SeedResult r;
  r.score = value;
  auto at = run.evals_problems.find(step);
  if (at != run.evals_problems.end()) {
    auto problems = at->second.find(key);
    if (problems != at->second.end()) r.numerator = problems->second.numerator, r.denominator = problems->second.denominator;
  }
  return r;
}

// The mean and band at each step from every seed's results there.
static ChartSeries band_series(const std::string& name, const std::map<double, std::vector<SeedResult>>& at_step) {
  ChartSeries s;
  s.name = name;
  for (const auto& [step, seeds] : at_step) {
    Interval iv = bootstrap_interval(seeds);
    s.x.push_back(step);
    s.y.push_back(iv.mean);
    s.lo.push_back(iv.lo);
    s.hi.push_back(iv.hi);
  }
  return s;
}

ChartSeries mean_band_series(const std::string& name,
                             const std::vector<const std::vector<std::pair<double, double>>*>& per_seed) {
  std::map<double, std::vector<SeedResult>> at_step;
  // Runs of one group share their config, so their bins fall on the same steps.
  for (const auto* pts : per_seed)
    for (const auto& [step, value] : bin_points(*pts, kMaxCurvePoints)) at_step[step].push_back(SeedResult{value, {}, {}});
  return band_series(name, at_step);
}

ChartSeries group_curve(const ReportData& data, const SeedGroup& group, const std::string& key, bool from_evals) {
  std::vector<const std::vector<std::pair<double, double>>*> per_seed;
  std::map<double, std::vector<SeedResult>> at_step;   // evaluations: with per-problem results
  for (size_t r : group.runs) {
    const ReportRun& run = data.runs[r];
    const MetricsColumns& cols = from_evals ? run.evals : run.rl;
    auto it = cols.points.find(key);
    if (it == cols.points.end()) continue;
    per_seed.push_back(&it->second);
    if (from_evals)
      for (const auto& [step, value] : it->second) at_step[step].push_back(eval_point(run, step, value, key));
  }
  return from_evals ? band_series(key, at_step) : mean_band_series(key, per_seed);
}

std::string StyleFinding::text() const {
  if (style.empty()) {
    char buf[160];
    std::snprintf(buf, sizeof buf, "no style's share rose by %.1f or more in any of %d seed%s", kAmplifiedShareRise,
                  seeds, seeds == 1 ? "" : "s");
    return buf;
  }
  return style + " amplified in " + std::to_string(amplified_in) + " of " + std::to_string(seeds) + " seed" +
         (seeds == 1 ? "" : "s") + " (share " + interval_text(before) + " -> " + interval_text(after) + ")";
}

std::vector<StyleFinding> group_findings(const ReportData& data, const SeedGroup& group) {
  // The share keys to read, grouped like the charts ("SET.styles_samples.*.share" -> its keys).
  std::map<std::string, std::vector<std::string>> eval_groups, rl_groups;
  for (size_t r : group.runs) {
    std::string g;
    for (const auto& [key, pts] : data.runs[r].evals.points)
      if (!style_share_of(key, &g).empty() && std::find(eval_groups[g].begin(), eval_groups[g].end(), key) == eval_groups[g].end())
        eval_groups[g].push_back(key);
    for (const auto& [key, pts] : data.runs[r].rl.points)
      if (!style_share_of(key, &g).empty() && std::find(rl_groups[g].begin(), rl_groups[g].end(), key) == rl_groups[g].end())
        rl_groups[g].push_back(key);
  }
  // Preference: sampled answers in evaluations (the distribution RL reshapes), then greedy
  // answers, then the rollouts logged during RL.
  std::string source;
  std::vector<std::string> keys;
  bool from_evals = true;
  for (const auto& [g, k] : eval_groups)
    if (source.empty() && g.find("styles_samples") != std::string::npos) source = g, keys = k;
  if (source.empty() && !eval_groups.empty()) source = eval_groups.begin()->first, keys = eval_groups.begin()->second;
  if (source.empty()) {
    from_evals = false;
    if (rl_groups.count("style_*")) source = "style_*", keys = rl_groups["style_*"];
    else if (!rl_groups.empty()) source = rl_groups.begin()->first, keys = rl_groups.begin()->second;
  }
  if (source.empty()) return {};

  std::map<std::string, int> amplified_in;   // style -> seeds in which it rose most (by enough)
  std::map<std::string, std::vector<SeedResult>> before, after;
  int seeds = 0;
  for (size_t r : group.runs) {
    const ReportRun& run = data.runs[r];
    const MetricsColumns& cols = from_evals ? run.evals : run.rl;
    std::string best;
    double best_rise = -INFINITY;
    bool counted = false;
    for (const std::string& key : keys) {
      auto it = cols.points.find(key);
      if (it == cols.points.end() || it->second.size() < 2) continue;
      counted = true;
      const auto& first = it->second.front();
      const auto& last = it->second.back();
      std::string style = style_share_of(key);
      before[style].push_back(from_evals ? eval_point(run, first.first, first.second, key) : SeedResult{first.second, {}, {}});
      after[style].push_back(from_evals ? eval_point(run, last.first, last.second, key) : SeedResult{last.second, {}, {}});
      if (last.second - first.second > best_rise) best_rise = last.second - first.second, best = style;
    }
    if (!counted) continue;
    seeds++;
    if (best_rise >= kAmplifiedShareRise) amplified_in[best]++;
  }
  if (seeds == 0) return {};
  std::vector<StyleFinding> findings;
  for (const auto& [style, count] : amplified_in) {
    StyleFinding f;
    f.style = style, f.source = source, f.amplified_in = count, f.seeds = seeds;
    f.before = bootstrap_interval(before[style]);
    f.after = bootstrap_interval(after[style]);
    findings.push_back(f);
  }
  std::stable_sort(findings.begin(), findings.end(), [](const auto& a, const auto& b) { return a.amplified_in > b.amplified_in; });
  if (findings.empty()) {
    StyleFinding none;
    none.source = source, none.seeds = seeds;
    findings.push_back(none);
  }
  return findings;
}

}  // namespace chamber
