// The experiment report: runs/NAME/report.html (one self-contained page: inline SVG, inline
// styles, no scripts, nothing fetched) and runs/NAME/report.json (the numbers the page shows).
//
// What it reads, all optional (a missing file gives a section saying so, never an error):
//   DIR/experiment.json            name and sweep axes in order (written by `chamber run`)
//   DIR/<run>/run.json             {"id", "axes": {axis: value}, "pretrain_dir"} marks a run
//   <pretrain_dir>/metrics.jsonl   pretraining: step, loss, val_loss
//   <pretrain_dir>/eval_base/eval.json   the pretrained model's evaluation (reward signal check)
//   DIR/<run>/rl/metrics.jsonl     RL: step, reward, kl, style shares, pass@k, ... per step
//   DIR/<run>/eval/step_*/eval.json   evaluations of saved RL checkpoints (`chamber eval` format:
//                                  {"sets": {NAME: {pass@k, maj@k, styles_samples, ...}}}), the
//                                  newest one (or DIR/<run>/eval/eval.json) is the final evaluation;
//                                  *generations*.jsonl beside it gives the sampled generations
// Metric names are matched by pattern rather than fixed (nested JSON objects are flattened with
// '.'), so "style_share.tinygsm" and {"style_share": {"tinygsm": ..}} read the same:
//   style shares     a key segment "style_share" / "share", the style after it, or the grader's
//                    "styles.<style>.share"
//   style accuracy   a key segment "style_accuracy" / "style_acc" / "accuracy_by_style", or
//                    "styles.<style>.accuracy"
//   pass@k, maj@k    the last segment "pass@K" / "maj@K" / "majority@K", or "pass@k.K"
//
//   generations.jsonl beside each eval.json   per-problem results (train/study/eval_problems.h)
//
// The page: notes (runs with too little reward signal to mean anything), pretraining loss curves,
// one comparison table per sweep axis (mean of the final numbers over the runs with each value),
// a table of every run, then per RL run: style shares as a stacked area over a log step axis (the
// paper's main figure), pass@1 / pass@k / maj@k, accuracy within each style, reward, KL, and a few
// sampled generations per style.
//
// Seeds: runs that differ only in seed axes (is_seed_axis) form a seed group. When some group has
// two or more runs, the page aggregates: findings counted over seeds ("tinygsm amplified in 3 of 3
// seeds"), a table of groups whose cells read "mean [lo, hi], N seeds", pretraining curves and
// per-group RL curves drawn as the mean over seeds with a shaded 95% band, and the comparison
// tables without the seed axes. Intervals everywhere come from train/study/bootstrap.h (seeds and
// problems; seeds only for numbers logged during RL), and the page states the method.
#pragma once
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "train/study/bootstrap.h"
#include "train/study/eval_problems.h"
#include "train/study/report_svg.h"

namespace chamber {

// A metrics.jsonl as columns: numeric field -> (step, value) points in file order.
struct MetricsColumns {
  std::map<std::string, std::vector<std::pair<double, double>>> points;
  bool has(const std::string& key) const { return points.count(key) > 0; }
  double last(const std::string& key) const;    // NaN if absent
  double first(const std::string& key) const;   // NaN if absent
};
// Missing file -> empty; torn or non-object lines are skipped (a run may still be writing).
MetricsColumns read_metrics_columns(const std::string& path);
// Numeric leaves of a JSON object, nested keys joined with '.'.
void flatten_numbers(const nlohmann::json& j, const std::string& prefix, std::map<std::string, double>& out);

// Key classification used by the report (exposed for tests).
// The style named by a share / accuracy key ("" if it is not one); `group` (optional) gets the key
// with the style replaced by "*", e.g. "eval.style_share.*".
std::string style_share_of(const std::string& key, std::string* group = nullptr);
std::string style_accuracy_of(const std::string& key, std::string* group = nullptr);
int pass_at_k_of(const std::string& key);                // k, or 0
int maj_at_k_of(const std::string& key);                 // k, or 0

// Below this pass@k (the largest k evaluated) most groups of samples of an RL prompt are all
// wrong, so GRPO and PPO see little reward signal and the style shares drift rather than learn
// (measured on the quickstart: pass@8 0.17 gave a reward that stayed at 0.02-0.09 over 30 steps).
constexpr double kWeakSignalPassAtK = 0.3;
// The pass@k with the largest k among the keys of an evaluation (flattened eval.json); NaN if none.
double best_pass_at_k(const std::map<std::string, double>& eval);
// A warning for a pretrained model whose pass@k is below kWeakSignalPassAtK; "" when it is not.
std::string weak_signal_warning(double pass_at_k);
// best_pass_at_k of an eval.json file (NaN when it is missing or has no pass@k).
double best_pass_at_k_of_file(const std::string& eval_json_path);

struct ReportRun {
  std::string id, dir;
  std::map<std::string, std::string> axes;     // sweep axis -> value as written
  std::string pretrain_dir;                    // "" if unknown
  MetricsColumns rl;
  MetricsColumns evals;                        // eval/step_*/eval.json (and the base at step 0) as curves
  std::map<std::string, double> eval;          // the final evaluation flattened
  std::map<std::string, double> base_eval;     // pretrain_dir/eval_base/eval.json flattened
  std::vector<nlohmann::json> generations;
  std::vector<std::string> notes;              // warnings shown beside the run
  // Per-problem results (empty where the generations are missing): of the final evaluation, and of
  // each point of `evals` by step (0: the base model).
  std::map<std::string, PerProblem> eval_problems;
  std::map<double, std::map<std::string, PerProblem>> evals_problems;
};

// Axes that only change a seed: seed, pretrain_seed, rl_seed, or a dotted key whose last part is
// "seed" (pretrain.train.seed, rl.train.seed, pretrain.data.seed, ...).
bool is_seed_axis(const std::string& axis);

// Runs equal in every axis but the seed axes.
struct SeedGroup {
  std::string label;                           // "rl.algorithm = ppo, rl.kl_coef = 0.01" ("all runs" if no other axis)
  std::map<std::string, std::string> axes;     // the other axes' values
  std::vector<size_t> runs;                    // indices into ReportData::runs, in id order
};

struct ReportData {
  std::string dir, name;
  std::vector<std::string> axes;               // sweep axes in order
  std::vector<ReportRun> runs;                 // sorted by id
  std::map<std::string, MetricsColumns> pretrain;   // pretrain_dir -> its metrics
  std::map<std::string, std::string> pretrain_label; // pretrain_dir -> label (its pretrain axis values)
  std::vector<SeedGroup> groups;               // in order of their first run
  bool seeded = false;                         // some group has two or more runs
};

ReportData report_load(const std::string& dir);
// Adds notes for runs whose reward signal is too weak to read anything into.
void report_check_signal(ReportData& data);
// The numbers a run ends with: the last RL value of each tracked metric, overridden by the final
// evaluation where it has the same name. Ordered pass@k, maj@k, style shares, style accuracy,
// reward, KL.
std::vector<std::pair<std::string, double>> report_final_numbers(const ReportRun& run);

// One table per sweep axis with at least two values (seed axes excluded when the runs form seed
// groups): per value, the mean final numbers over the runs having it (so with algorithm x kl_coef,
// the kl_coef table averages over algorithms). With seed groups, the mean over the groups of each
// group's mean over its seeds (the same when every group has as many seeds), with its interval.
struct AxisTable {
  std::string axis;
  std::vector<std::string> columns;
  struct Row {
    std::string value;
    int runs = 0;
    std::vector<double> means;   // per column, NaN where no run has it
    std::vector<Interval> intervals;   // per column (means[i] == intervals[i].mean)
  };
  std::vector<Row> rows;
};
std::vector<AxisTable> report_axis_tables(const ReportData& data);

// ---- seed groups (train/study/report_seeds.cpp) ----
std::vector<SeedGroup> report_seed_groups(const std::vector<ReportRun>& runs);
// A run's final number for `key` with its per-problem results when the final evaluation has them.
SeedResult final_seed_result(const ReportRun& run, const std::string& key);
// The final-number columns of a set of runs, in report order.
std::vector<std::string> final_columns(const ReportData& data, const std::vector<size_t>& runs);
// The group's final `key` over its seeds.
Interval group_final(const ReportData& data, const SeedGroup& group, const std::string& key);
// One curve of a group: the mean over its seeds at each step with a 95% band. From the RL log
// (seeds resampled) or, from_evals, the checkpoint evaluations (seeds and problems resampled).
// Long RL logs are binned to at most kMaxCurvePoints points first.
inline constexpr int kMaxCurvePoints = 400;
ChartSeries group_curve(const ReportData& data, const SeedGroup& group, const std::string& key, bool from_evals);
// The mean over seeds at each step with its band, from each seed's points (binned first).
ChartSeries mean_band_series(const std::string& name,
                             const std::vector<const std::vector<std::pair<double, double>>*>& per_seed);
// Points averaged in bins so that at most max_points remain (x and y both averaged).
std::vector<std::pair<double, double>> bin_points(const std::vector<std::pair<double, double>>& pts, int max_points);

// "Style X is amplified", counted over a group's seeds: in each run, the style whose share of the
// answers rose most from the first point (the pretrained model) to the last, if it rose by at
// least kAmplifiedShareRise. Shares come from the evaluations' samples where there are some, else
// the greedy answers, else the RL rollouts.
inline constexpr double kAmplifiedShareRise = 0.1;
struct StyleFinding {
  std::string style, source;   // source: the share key with the style as "*"
  int amplified_in = 0, seeds = 0;
  Interval before, after;      // the style's share at the first and the last point
  std::string text() const;    // "tinygsm amplified in 3 of 3 seeds (share 0.33 [..] -> 0.85 [..])"
};
std::vector<StyleFinding> group_findings(const ReportData& data, const SeedGroup& group);

// Charts of RL's sampling-free instruments (train/rl_probes.h; report_probes.cpp): probe style
// shares (summed per grader label) beside the sampled shares, probe log-probabilities, per-source
// held-out NLL. "" when the metrics have none of probe_share_*, probe_logp_*, nll_*.
std::string report_probe_charts(const MetricsColumns& rl);
// The grader's label for a probed style: tinygsm(_short) -> tinygsm, omi2(_steps) and gsm8k -> text.
std::string probe_style_label(const std::string& style);

std::string report_html(const ReportData& data, int generations_per_style = 3);
nlohmann::json report_summary(const ReportData& data);

// Loads DIR, writes DIR/report.html and DIR/report.json; returns the html path.
std::string write_report(const std::string& dir, int generations_per_style = 3);

}  // namespace chamber
