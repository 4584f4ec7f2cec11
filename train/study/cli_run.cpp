// `chamber run EXPERIMENT.yaml [--set key=value ...] [--only-report] [--list] [--quiet]` and
// `chamber report DIR`. The experiment format and directory layout are in
// train/study/experiment.h; this file connects its stages to the real work: run_pretrain
// (train/pretrain.h), run_rl (train/rl.h) and the evaluation loop of train/eval.h (the same files
// `chamber eval` writes).
#include <CLI/CLI.hpp>

#include <cstdio>

#include <nlohmann/json.hpp>

#include "engine/backend.h"
#include "util/util.h"
#include "train/eval.h"
#include "train/loaded_model.h"
#include "train/study/cli_run.h"
#include "train/study/experiment.h"
#include "train/study/report.h"

namespace chamber {

static ExperimentStages default_stages(const ExperimentConfig& exp, bool quiet) {
  ExperimentStages s;
  // A stage the experiment records as not started (no stage.json before this one) starts afresh in
  // its own directory, replacing whatever an unrecorded attempt left there; a started one resumes.
  s.pretrain = [quiet](const PretrainConfig& cfg, const std::string& out, bool resume) {
    return run_pretrain(cfg, PretrainOptions{RunOptions{out, resume, !resume, quiet}});
  };
  s.rl = [quiet](const RLConfig& cfg, const std::string& out, bool resume) {
    return run_rl(cfg, RunOptions{out, resume, !resume, quiet});
  };
  std::string device = exp.device;
  int threads = exp.threads;
  s.eval = [device, threads, quiet](const EvalConfig& cfg, const std::string& ckpt, const std::string& out) {
    set_cpu_threads(threads);
    evaluate_checkpoint(cfg, ckpt, device, out, quiet);
  };
  return s;
}

void register_run_commands(CLI::App& app) {
  struct Args {
    std::string config;
    std::vector<std::string> sets;
    bool only_report = false, list = false, quiet = false;
  };
  auto a = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand(
      "run", "Run an experiment: data, pretraining, RL sweeps, evaluation and report, as cached resumable stages");
  cmd->add_option("config", a->config, "experiment YAML (see train/study/experiment.h), e.g. configs/experiments/echo-tiny.yaml")
      ->required();
  cmd->add_option("--set", a->sets, "override a key of the experiment, e.g. --set rl.train.steps=10 or "
                                    "--set 'sweep.seed=[1,2,3]' (repeatable)");
  cmd->add_flag("--only-report", a->only_report, "only regenerate runs/NAME/report.html from what exists");
  cmd->add_flag("--list", a->list, "print the runs and the state of their stages; run nothing");
  cmd->add_flag("--quiet", a->quiet, "no progress output");
  cmd->callback([a] {
    ExperimentConfig exp = load_experiment(a->config, a->sets);
    ExperimentOptions opt;
    opt.only_report = a->only_report;
    opt.list = a->list;
    opt.quiet = a->quiet;
    std::string html = run_experiment(exp, default_stages(exp, a->quiet), opt);
    if (!a->list) std::printf("%s\n", html.c_str());
  });

  auto dir = std::make_shared<std::string>();
  auto per_style = std::make_shared<int>(3);
  CLI::App* rep = app.add_subcommand("report", "Write DIR/report.html and DIR/report.json from an experiment's runs");
  rep->add_option("dir", *dir, "experiment directory, e.g. runs/echo-tiny")->required();
  rep->add_option("--generations", *per_style, "sampled generations shown per style and run (default 3)");
  rep->callback([dir, per_style] { std::printf("%s\n", write_report(*dir, *per_style).c_str()); });
}

}  // namespace chamber
