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
// The page: notes (runs with too little reward signal to mean anything), pretraining loss curves,
// one comparison table per sweep axis (mean of the final numbers over the runs with each value),
// a table of every run, then per RL run: style shares as a stacked area over a log step axis (the
// paper's main figure), pass@1 / pass@k / maj@k, accuracy within each style, reward, KL, and a few
// sampled generations per style.
#pragma once
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

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
};

struct ReportData {
  std::string dir, name;
  std::vector<std::string> axes;               // sweep axes in order
  std::vector<ReportRun> runs;                 // sorted by id
  std::map<std::string, MetricsColumns> pretrain;   // pretrain_dir -> its metrics
  std::map<std::string, std::string> pretrain_label; // pretrain_dir -> label (its pretrain axis values)
};

ReportData report_load(const std::string& dir);
// Adds notes for runs whose reward signal is too weak to read anything into.
void report_check_signal(ReportData& data);
// The numbers a run ends with: the last RL value of each tracked metric, overridden by the final
// evaluation where it has the same name. Ordered pass@k, maj@k, style shares, style accuracy,
// reward, KL.
std::vector<std::pair<std::string, double>> report_final_numbers(const ReportRun& run);

// One table per sweep axis with at least two values: per value, the mean final numbers over the
// runs having it (so with algorithm x kl_coef, the kl_coef table averages over algorithms).
struct AxisTable {
  std::string axis;
  std::vector<std::string> columns;
  struct Row {
    std::string value;
    int runs = 0;
    std::vector<double> means;   // per column, NaN where no run has it
  };
  std::vector<Row> rows;
};
std::vector<AxisTable> report_axis_tables(const ReportData& data);

// Charts of RL's sampling-free instruments (train/rl_probes.h; report_probes.cpp): probe style
// shares (summed per grader label) beside the sampled shares, probe log-probabilities, per-source
// held-out NLL. "" when the metrics have none of probe_share_*, probe_logp_*, nll_*.
std::string report_probe_charts(const MetricsColumns& rl);
// The grader's label for a probed style: tinygsm(_short) -> tinygsm, omi2 and gsm8k -> text.
std::string probe_style_label(const std::string& style);

std::string report_html(const ReportData& data, int generations_per_style = 3);
nlohmann::json report_summary(const ReportData& data);

// Loads DIR, writes DIR/report.html and DIR/report.json; returns the html path.
std::string write_report(const std::string& dir, int generations_per_style = 3);

}  // namespace chamber
