// The report page (see report.h): assembles report.html from the loaded runs, section by section,
// and writes it with report.json. Charts come from train/study/report_svg.h; every piece of text
// that came from a file (run ids, metric names, generations) is HTML-escaped.
#include "train/study/report.h"
#include "train/study/report_page.h"

#include <cmath>
#include <cstdio>
#include <set>

#include "util/util.h"
#include "train/study/report_svg.h"

namespace chamber {

const int kMaxPoints = 400;  // longer curves are averaged into this many bins (keeps the page small)

static ChartSeries to_series(const std::string& name, const std::vector<std::pair<double, double>>& pts) {
  ChartSeries s;
  s.name = name;
  for (const auto& [x, y] : bin_points(pts, kMaxPoints)) s.x.push_back(x), s.y.push_back(y);
  return s;
}

std::string report_num(double v) {
  if (!std::isfinite(v)) return "&ndash;";
  char buf[32];
  std::snprintf(buf, sizeof buf, std::fabs(v) >= 100 ? "%.0f" : "%.3f", v);
  return buf;
}

ChartAxes report_rl_axes(const std::string& title, const std::string& y_label) {
  ChartAxes a;
  a.title = title;
  a.x_label = "RL step";
  a.y_label = y_label;
  a.x_log = true;
  return a;
}

const char* kStyle = R"(<style>
body { font-family: sans-serif; margin: 24px; color: #222; max-width: 1320px; }
h1 { margin-bottom: 4px; } h2 { border-bottom: 1px solid #ccc; padding-bottom: 4px; margin-top: 36px; }
.charts { display: flex; flex-wrap: wrap; gap: 8px; }
.charts svg { border: 1px solid #ddd; }
table { border-collapse: collapse; font-size: 12px; margin: 8px 0 16px 0; }
th, td { border: 1px solid #ccc; padding: 3px 7px; text-align: right; white-space: nowrap; }
th { background: #f2f2f2; } td.l, th.l { text-align: left; white-space: nowrap; }
.scroll { overflow-x: auto; }
.note { background: #fff4e0; border-left: 4px solid #e69500; padding: 6px 10px; margin: 6px 0; }
.axes { color: #555; } .run { margin-top: 28px; }
pre { background: #f7f7f7; border: 1px solid #e2e2e2; padding: 6px; white-space: pre-wrap; font-size: 11px;
      max-height: 260px; overflow: auto; }
.ok { color: #1a7f37; } .bad { color: #c62828; }
</style>
)";

static std::string axes_text(const ReportRun& run) {
  std::string s;
  for (const auto& [axis, value] : run.axes) s += (s.empty() ? "" : ", ") + axis + " = " + value;
  return s.empty() ? "(no sweep axes)" : s;
}

// Short legend name: the run's axis values ("ppo, 0.01"), or its id without axes.
static std::string run_label(const ReportRun& run) {
  std::string s;
  for (const auto& [axis, value] : run.axes) s += (s.empty() ? "" : ", ") + value;
  return s.empty() ? run.id : s;
}

static std::string section_pretrain(const ReportData& data) {
  std::string h = "<h2>Pretraining</h2>\n";
  std::vector<ChartSeries> series;
  if (data.seeded) series = report_pretrain_band_series(data);
  else for (const auto& [dir, cols] : data.pretrain) {
    const std::string& label = data.pretrain_label.at(dir);
    if (cols.has("loss")) series.push_back(to_series(label + " train", cols.points.at("loss")));
    if (cols.has("val_loss")) {
      series.push_back(to_series(label + " val", cols.points.at("val_loss")));
      series.back().dashed = true;
    }
  }
  if (series.empty()) return h + "<p>No pretraining metrics found.</p>\n";
  ChartAxes a;
  a.title = data.seeded ? "Pretraining loss, mean over seeds with 95% band (train solid, validation dashed)"
                        : "Pretraining loss (train solid, validation dashed)";
  a.x_label = "step";
  a.y_label = "cross-entropy (nats/token)";
  a.width = 900;
  return h + "<div class=\"charts\">" + svg_line_chart(a, series) + "</div>\n";
}

std::string report_table_header(const std::vector<std::string>& first, const std::vector<std::string>& cols) {
  std::string h = "<tr>";
  for (const auto& c : first) h += "<th class=\"l\">" + html_escape(c) + "</th>";
  for (const auto& c : cols) h += "<th>" + html_escape(c) + "</th>";
  return h + "</tr>\n";
}

static std::string section_tables(const ReportData& data) {
  std::string h = "<h2>Comparisons</h2>\n";
  std::vector<AxisTable> tables = report_axis_tables(data);
  if (tables.empty()) h += "<p>No sweep axis has two values to compare.</p>\n";
  for (const AxisTable& t : tables) {
    h += "<h3>By " + html_escape(t.axis) + "</h3>\n<p class=\"axes\">Final numbers (evaluation where available, "
         "else the last RL step), averaged over the runs with each value" +
         std::string(data.seeded ? " (each setting's mean over its seeds, then the mean over settings), with 95% "
                                   "intervals" : "") +
         ".</p>\n<div class=\"scroll\"><table>\n";
    std::vector<std::string> first = {t.axis, "runs"};
    h += report_table_header(first, t.columns);
    for (const auto& row : t.rows) {
      h += "<tr><td class=\"l\">" + html_escape(row.value) + "</td><td class=\"l\">" + std::to_string(row.runs) + "</td>";
      for (const Interval& iv : row.intervals) h += "<td>" + report_interval_cell(iv, "") + "</td>";
      h += "</tr>\n";
    }
    h += "</table></div>\n";
  }
  if (data.seeded) h += report_group_table(data);
  // Every run, one row each.
  std::vector<std::string> cols;
  std::set<std::string> seen;
  for (const ReportRun& run : data.runs)
    for (const auto& [k, v] : report_final_numbers(run))
      if (seen.insert(k).second) cols.push_back(k);
  h += "<h3>All runs</h3>\n<div class=\"scroll\"><table>\n" + report_table_header({"run"}, cols);
  for (const ReportRun& run : data.runs) {
    auto fin = report_final_numbers(run);
    std::map<std::string, double> m(fin.begin(), fin.end());
    h += "<tr><td class=\"l\"><a href=\"#run-" + html_escape(run.id) + "\">" + html_escape(run.id) + "</a></td>";
    for (const auto& c : cols) h += "<td>" + report_num(m.count(c) ? m[c] : NAN) + "</td>";
    h += "</tr>\n";
  }
  return h + "</table></div>\n";
}

// Style-share stacked areas: one chart per key prefix (e.g. train rollouts vs eval samples).
static std::string style_share_charts(const MetricsColumns& cols, const std::string& source) {
  std::map<std::string, std::vector<std::string>> groups;  // key with the style as "*" -> keys
  for (const auto& [key, pts] : cols.points) {
    std::string group;
    if (!style_share_of(key, &group).empty()) groups[group].push_back(key);
  }
  std::string h;
  for (const auto& [group, keys] : groups) {
    std::set<double> steps;
    for (const auto& k : keys)
      for (const auto& p : cols.points.at(k)) steps.insert(p.first);
    std::vector<double> x(steps.begin(), steps.end());
    std::vector<ChartSeries> layers;
    for (const auto& k : keys) {
      std::map<double, double> at(cols.points.at(k).begin(), cols.points.at(k).end());
      ChartSeries l;
      l.name = style_share_of(k);
      for (double s : x) l.y.push_back(at.count(s) ? at[s] : 0.0);
      layers.push_back(l);
    }
    // RL metrics hold two groups: the training rollouts (style_*) and the held-out greedy evals
    // (eval_style_*); name each for what it is.
    std::string what = source;
    if (group == "style_*") what = "RL training rollouts";
    if (group == "eval_style_*") what = "held-out greedy evals during RL";
    ChartAxes a = report_rl_axes("Share of each style, " + what + " (" + group + ")", "share of generations");
    a.y_max = 1.0;
    h += svg_stacked_area(a, x, layers);
  }
  return h;
}

// A line chart of the RL metrics whose keys pass `pick`; "" if none.
template <typename Pick>
static std::string rl_line_chart(const MetricsColumns& cols, const std::string& title, const std::string& y_label, Pick pick,
                          bool unit_range = false) {
  std::vector<ChartSeries> series;
  for (const auto& [key, pts] : cols.points) {
    int how = pick(key);
    if (!how) continue;
    series.push_back(to_series(key, pts));
    series.back().dashed = how == 2;
  }
  if (series.empty()) return "";
  ChartAxes a = report_rl_axes(title, y_label);
  if (unit_range) a.y_min = 0.0, a.y_max = 1.0;
  return svg_line_chart(a, series);
}

std::string report_generations_block(const ReportRun& run, int per_style) {
  if (run.generations.empty() || per_style <= 0) return "";
  auto text_of = [](const nlohmann::json& g, std::initializer_list<const char*> keys) -> std::string {
    for (const char* k : keys)
      if (g.contains(k)) return g[k].is_string() ? g[k].get<std::string>() : g[k].dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    return "";
  };
  std::map<std::string, int> shown;
  std::string h = "<h4>Sampled generations</h4>\n";
  for (const auto& g : run.generations) {
    std::string style = text_of(g, {"style", "label", "format"});
    if (style.empty()) style = "unlabelled";
    if (shown[style]++ >= per_style) continue;
    std::string correct = text_of(g, {"correct", "reward"});
    bool ok = correct == "true" || correct == "1" || correct == "1.0";
    std::string answer = text_of(g, {"answer", "predicted", "pred"});
    std::string gold = text_of(g, {"gold", "target", "expected"});
    std::string prompt = text_of(g, {"prompt", "question"});
    std::string response = text_of(g, {"response", "completion", "generation", "text", "output"});
    if (response.size() > 1500) response = response.substr(0, 1500) + "\n[... truncated]";
    if (prompt.size() > 600) prompt = prompt.substr(0, 600) + " [...]";
    h += "<p><b>" + html_escape(style) + "</b>";
    if (!correct.empty()) h += std::string(" &middot; <span class=\"") + (ok ? "ok\">correct" : "bad\">wrong") + "</span>";
    if (!answer.empty()) h += " &middot; answer " + html_escape(answer);
    if (!gold.empty()) h += " (gold " + html_escape(gold) + ")";
    h += "</p>\n";
    if (!prompt.empty()) h += "<pre>" + html_escape(prompt) + "</pre>\n";
    h += "<pre>" + html_escape(response) + "</pre>\n";
  }
  return h;
}

static std::string section_run(const ReportRun& run, int per_style) {
  std::string h = "<div class=\"run\" id=\"run-" + html_escape(run.id) + "\">\n<h3>" + html_escape(run.id) +
                  "</h3>\n<p class=\"axes\">" + html_escape(axes_text(run)) + "</p>\n";
  for (const auto& n : run.notes) h += "<div class=\"note\">" + html_escape(n) + "</div>\n";
  auto pass_or_maj = [](const std::string& k) { return pass_at_k_of(k) ? 1 : maj_at_k_of(k) ? 2 : 0; };
  auto style_acc = [](const std::string& k) { return style_accuracy_of(k).empty() ? 0 : 1; };
  std::string charts = style_share_charts(run.rl, "RL");
  charts += report_probe_charts(run.rl);
  charts += style_share_charts(run.evals, "checkpoint evaluations");
  charts += rl_line_chart(run.evals, "Checkpoint evaluations: pass@k (solid), maj@k (dashed)", "accuracy",
                          pass_or_maj, true);
  charts += rl_line_chart(run.rl, "During RL: pass@1 (solid), maj@k (dashed)", "accuracy", pass_or_maj, true);
  charts += rl_line_chart(run.rl, "Accuracy within each style (rollouts)", "accuracy", style_acc, true);
  charts += rl_line_chart(run.evals, "Accuracy within each style (evaluations)", "accuracy", style_acc, true);
  charts += rl_line_chart(run.rl, "Reward", "mean reward", [](const std::string& k) {
    return k == "reward" || k == "eval_reward" || k.rfind("reward_mean", 0) == 0 ? 1 : 0;
  });
  charts += rl_line_chart(run.rl, "KL to the initial model", "KL (nats/token)", [](const std::string& k) {
    return k == "kl" || k.rfind("kl_", 0) == 0 || k.rfind("kl.", 0) == 0 ? 1 : 0;
  });
  for (const char* diag : {"entropy", "response_length", "groups_with_signal", "clip_fraction",
                           "explained_variance", "value_loss", "sft_loss"})
    charts += rl_line_chart(run.rl, diag, diag, [diag](const std::string& k) { return k == diag ? 1 : 0; });
  if (charts.empty()) h += "<p>No RL metrics yet.</p>\n";
  else h += "<div class=\"charts\">\n" + charts + "</div>\n";
  return h + report_generations_block(run, per_style) + "</div>\n";
}

// pass@1 of every run on one chart, to compare algorithms and KL coefficients at a glance (with
// seed groups: every group's mean with its band).
static std::string overview_chart(const ReportData& data) {
  std::vector<ChartSeries> series;
  if (data.seeded)
    for (const SeedGroup& g : data.groups) {
      std::set<std::string> keys;
      for (size_t r : g.runs)
        for (const auto& [key, pts] : data.runs[r].rl.points)
          if (pass_at_k_of(key) == 1) keys.insert(key);
      if (keys.empty()) continue;
      series.push_back(group_curve(data, g, *keys.begin(), false));
      series.back().name = g.label;
    }
  else for (const ReportRun& run : data.runs)
    for (const auto& [key, pts] : run.rl.points)
      if (pass_at_k_of(key) == 1) {
        series.push_back(to_series(run_label(run), pts));
        break;
      }
  if (series.size() < 2) return "";
  ChartAxes a = report_rl_axes(data.seeded ? "pass@1 over RL, every setting: mean over seeds, 95% band"
                                    : "pass@1 over RL, every run", "pass@1");
  a.width = 900;
  a.y_min = 0, a.y_max = 1;
  return "<div class=\"charts\">" + svg_line_chart(a, series) + "</div>\n";
}

std::string report_html(const ReportData& data, int generations_per_style) {
  std::string h = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>Chamber report: " +
                  html_escape(data.name) + "</title>\n" + kStyle + "</head>\n<body>\n";
  h += "<h1>" + html_escape(data.name) + "</h1>\n<p class=\"axes\">" + std::to_string(data.runs.size()) +
       " run(s)";
  if (!data.axes.empty()) {
    h += "; sweep axes: ";
    for (size_t i = 0; i < data.axes.size(); i++) h += (i ? ", " : "") + html_escape(data.axes[i]);
  }
  h += ". Regenerate with <code>chamber report " + html_escape(data.dir) + "</code>.</p>\n";
  bool per_problem = false;
  for (const ReportRun& run : data.runs) per_problem |= !run.eval_problems.empty();
  if (data.seeded || per_problem) h += "<p class=\"axes\">" + html_escape(kBootstrapMethod) + "</p>\n";
  int noted = 0;
  for (const ReportRun& run : data.runs) noted += !run.notes.empty();
  if (noted)
    h += "<div class=\"note\">" + std::to_string(noted) +
         " run(s) carry warnings (below each run): read their curves with care.</div>\n";
  if (data.seeded) h += report_findings_section(data);
  h += section_pretrain(data);
  h += section_tables(data);
  h += "<h2>RL runs</h2>\n" + overview_chart(data);
  if (data.seeded)
    for (const SeedGroup& g : data.groups) h += report_group_section(data, g, generations_per_style);
  else
    for (const ReportRun& run : data.runs) h += section_run(run, generations_per_style);
  return h + "</body>\n</html>\n";
}

std::string write_report(const std::string& dir, int generations_per_style) {
  ReportData data = report_load(dir);
  std::string html_path = path_join(dir, "report.html");
  write_file_atomic(html_path, report_html(data, generations_per_style));
  write_file_atomic(path_join(dir, "report.json"), report_summary(data).dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
  return html_path;
}

}  // namespace chamber
