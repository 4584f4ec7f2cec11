// The report page's sections for seed groups (see report.h): findings counted over seeds, the
// table of settings with intervals, pretraining curves with bands, and one section per group whose
// charts are report.cpp's per-run charts with each curve the mean over the group's seeds and its
// 95% band.
#include <cmath>
#include <cstdio>
#include <set>

#include "train/study/report.h"
#include "train/study/report_page.h"

namespace chamber {

// With seed groups, the pretraining runs that differ only by seed are drawn as one mean curve with
// its band: label (the non-seed pretraining axes) -> the runs' metrics.
std::vector<ChartSeries> report_pretrain_band_series(const ReportData& data) {
  std::map<std::string, std::set<std::string>> dirs_of;
  for (const ReportRun& run : data.runs) {
    if (run.pretrain_dir.empty() || !data.pretrain.count(run.pretrain_dir)) continue;
    std::string label;
    for (const auto& [axis, value] : run.axes)
      if (axis.rfind("pretrain.", 0) == 0 && !is_seed_axis(axis))
        label += (label.empty() ? "" : ", ") + axis.substr(9) + "=" + value;
    dirs_of[label.empty() ? "pretrain" : label].insert(run.pretrain_dir);
  }
  std::vector<ChartSeries> series;
  for (const auto& [label, dirs] : dirs_of)
    for (const char* metric : {"loss", "val_loss"}) {
      std::vector<const std::vector<std::pair<double, double>>*> per_seed;
      for (const std::string& dir : dirs)
        if (data.pretrain.at(dir).has(metric)) per_seed.push_back(&data.pretrain.at(dir).points.at(metric));
      if (per_seed.empty()) continue;
      std::string name = label + (std::string(metric) == "loss" ? " train" : " val") + " (" +
                         std::to_string(per_seed.size()) + " seed" + (per_seed.size() == 1 ? ")" : "s)");
      series.push_back(mean_band_series(name, per_seed));
      series.back().dashed = std::string(metric) == "val_loss";
    }
  return series;
}

// A table cell: the mean, and its interval when there is one (then `count` after it, e.g. "3 seeds").
std::string report_interval_cell(const Interval& iv, const std::string& count) {
  if (!std::isfinite(iv.lo)) return report_num(iv.mean);
  return html_escape(interval_text(iv)) + (count.empty() ? "" : ", " + count);
}

// One row per seed group: every final number as mean and interval over the group's seeds.
std::string report_group_table(const ReportData& data) {
  std::vector<size_t> all;
  for (size_t i = 0; i < data.runs.size(); i++) all.push_back(i);
  std::vector<std::string> cols = final_columns(data, all);
  std::string h = "<h3>Every setting, over its seeds</h3>\n<p class=\"axes\">Final numbers of the runs that differ "
                  "only by seed: mean [95% interval], and the number of seeds that have the number.</p>\n"
                  "<div class=\"scroll\"><table>\n" + report_table_header({"setting", "seeds"}, cols);
  for (const SeedGroup& g : data.groups) {
    h += "<tr><td class=\"l\"><a href=\"#group-" + std::to_string(&g - data.groups.data()) + "\">" +
         html_escape(g.label) + "</a></td><td class=\"l\">" + std::to_string(g.runs.size()) + "</td>";
    for (const std::string& c : cols) {
      Interval iv = group_final(data, g, c);
      h += "<td>" + report_interval_cell(iv, std::to_string(iv.seeds) + (iv.seeds == 1 ? " seed" : " seeds")) + "</td>";
    }
    h += "</tr>\n";
  }
  return h + "</table></div>\n";
}

// The RL-log (or checkpoint-evaluation) keys of a group's runs that pass `pick`, as banded curves.
template <typename Pick>
static std::string group_line_chart(const ReportData& data, const SeedGroup& g, bool from_evals, const std::string& title,
                             const std::string& y_label, Pick pick, bool unit_range = false) {
  std::set<std::string> keys;
  for (size_t r : g.runs)
    for (const auto& [key, pts] : (from_evals ? data.runs[r].evals : data.runs[r].rl).points)
      if (pick(key)) keys.insert(key);
  if (keys.empty()) return "";
  std::vector<ChartSeries> series;
  for (const std::string& key : keys) {
    series.push_back(group_curve(data, g, key, from_evals));
    series.back().dashed = pick(key) == 2;
  }
  ChartAxes a = report_rl_axes(title + " (seed mean, 95% band)", y_label);
  if (unit_range) a.y_min = 0.0, a.y_max = 1.0;
  return svg_line_chart(a, series);
}

// Style shares of a group: one banded line per style (a stacked area cannot show a band).
static std::string group_style_share_charts(const ReportData& data, const SeedGroup& g, bool from_evals) {
  std::map<std::string, std::set<std::string>> groups;   // key with the style as "*" -> keys
  for (size_t r : g.runs)
    for (const auto& [key, pts] : (from_evals ? data.runs[r].evals : data.runs[r].rl).points) {
      std::string group;
      if (!style_share_of(key, &group).empty()) groups[group].insert(key);
    }
  std::string h;
  for (const auto& [group, keys] : groups) {
    std::vector<ChartSeries> series;
    for (const std::string& key : keys) {
      series.push_back(group_curve(data, g, key, from_evals));
      series.back().name = style_share_of(key);
    }
    std::string what = from_evals ? "checkpoint evaluations" : "RL";
    if (group == "style_*") what = "RL training rollouts";
    if (group == "eval_style_*") what = "held-out greedy evals during RL";
    ChartAxes a = report_rl_axes("Share of each style, " + what + " (" + group + "; seed mean, 95% band)",
                          "share of generations");
    a.y_min = 0.0, a.y_max = 1.0;
    h += svg_line_chart(a, series);
  }
  return h;
}

std::string report_group_section(const ReportData& data, const SeedGroup& g, int per_style) {
  size_t index = &g - data.groups.data();
  std::string h = "<div class=\"run\" id=\"group-" + std::to_string(index) + "\">\n<h3>" + html_escape(g.label) +
                  " (" + std::to_string(g.runs.size()) + (g.runs.size() == 1 ? " seed" : " seeds") + ")</h3>\n";
  h += "<p class=\"axes\">runs:";
  for (size_t r : g.runs)
    h += " <span id=\"run-" + html_escape(data.runs[r].id) + "\">" + html_escape(data.runs[r].id) + "</span>";
  h += "</p>\n";
  for (const StyleFinding& f : group_findings(data, g))
    h += "<p><b>" + html_escape(f.text()) + "</b> <span class=\"axes\">(" + html_escape(f.source) + ")</span></p>\n";
  for (size_t r : g.runs)
    for (const auto& n : data.runs[r].notes)
      h += "<div class=\"note\">" + html_escape(data.runs[r].id) + ": " + html_escape(n) + "</div>\n";
  auto pass_or_maj = [](const std::string& k) { return pass_at_k_of(k) ? 1 : maj_at_k_of(k) ? 2 : 0; };
  auto style_acc = [](const std::string& k) { return style_accuracy_of(k).empty() ? 0 : 1; };
  std::string charts = group_style_share_charts(data, g, false) + group_style_share_charts(data, g, true);
  charts += group_line_chart(data, g, true, "Checkpoint evaluations: pass@k (solid), maj@k (dashed)", "accuracy",
                             pass_or_maj, true);
  charts += group_line_chart(data, g, false, "During RL: pass@1 (solid), maj@k (dashed)", "accuracy", pass_or_maj, true);
  charts += group_line_chart(data, g, false, "Accuracy within each style (rollouts)", "accuracy", style_acc, true);
  charts += group_line_chart(data, g, true, "Accuracy within each style (evaluations)", "accuracy", style_acc, true);
  charts += group_line_chart(data, g, false, "Reward", "mean reward", [](const std::string& k) {
    return k == "reward" || k == "eval_reward" || k.rfind("reward_mean", 0) == 0 ? 1 : 0;
  });
  charts += group_line_chart(data, g, false, "KL to the initial model", "KL (nats/token)", [](const std::string& k) {
    return k == "kl" || k.rfind("kl_", 0) == 0 || k.rfind("kl.", 0) == 0 ? 1 : 0;
  });
  for (const char* diag : {"entropy", "response_length", "groups_with_signal", "clip_fraction",
                           "explained_variance", "value_loss", "sft_loss"})
    charts += group_line_chart(data, g, false, diag, diag, [diag](const std::string& k) { return k == diag ? 1 : 0; });
  if (charts.empty()) h += "<p>No RL metrics yet.</p>\n";
  else h += "<div class=\"charts\">\n" + charts + "</div>\n";
  // Generations: the first seed's (the others' are in their eval directories).
  return h + report_generations_block(data.runs[g.runs.front()], per_style) + "</div>\n";
}

// Findings counted over seeds, one line per group.
std::string report_findings_section(const ReportData& data) {
  std::string items;
  for (const SeedGroup& g : data.groups)
    for (const StyleFinding& f : group_findings(data, g))
      items += "<li>" + html_escape(g.label) + ": <b>" + html_escape(f.text()) + "</b> <span class=\"axes\">(" +
               html_escape(f.source) + ")</span></li>\n";
  if (items.empty()) return "";
  char rise[16];
  std::snprintf(rise, sizeof rise, "%.1f", kAmplifiedShareRise);
  return "<h2>Findings over seeds</h2>\n<p class=\"axes\">A style counts as amplified in a seed when its share of "
         "the answers rose the most of all styles from the pretrained model to the last point, by at least " +
         std::string(rise) + ".</p>\n<ul>\n" + items + "</ul>\n";
}

}  // namespace chamber
