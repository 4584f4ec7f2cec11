// `chamber run EXPERIMENT.yaml`: one file describes a whole study (pretraining, RL with one or more
// algorithms / KL coefficients / seeds / model scales, evaluation, report); a sweep expands it
// into a grid of runs. Every stage is cached and resumable, so re-running the command after an
// interruption (or after adding a value to a sweep) does only the work that is missing.
//
// Experiment YAML (strict: unknown keys are errors with file and line):
//   name: echo-tiny                # runs/<name>/ (default: the file's stem)
//   out: runs                      # parent directory (default runs)
//   device: cpu                    # every stage's device (cpu | cpu-ref | cuda | simt | auto)
//   threads: 0                     # CPU threads for every stage (0 = all cores)
//   seed: [1, 2, 3]                # optional: every seed of a run together: pretraining's
//                                  #   train.seed (initialisation) and data spec seed (data
//                                  #   order), rl.train.seed and eval.seed. One integer, or a list:
//                                  #   a seed axis (the last axis of every grid; runs that differ
//                                  #   only by seed form a group, which the report aggregates)
//   pretrain_seed: [1, 2]          # or separately (not with `seed`): pretraining's seeds only,
//   rl_seed: [1, 2, 3]             #   and rl.train.seed only (the pretraining, and the base
//                                  #   model's evaluation, are then shared by the RL seeds)
//   pretrain:                      # a pretraining config (train/pretrain.h) written inline,
//     config: configs/tiny.yaml    #   or a file (path from the working directory) with the keys
//     train: {steps: 300}          #   beside `config` merged over it (maps merge, lists replace)
//   rl:                            # optional: a `chamber rl` config (train/rl.h) the same way;
//     config: configs/rl-tiny-grpo.yaml  # its `init` and `name` are replaced (the pretrained
//                                  #   checkpoint; <name>/<run-id>)
//     policy: {kl_coef: 0.001}
//   eval:                          # optional: `chamber eval`'s keys (train/eval.h), plus
//     checkpoints: all             #   all (default): every saved RL checkpoint (log-spaced
//                                  #   steps 1, 2, 4, ...) | final: only the last | none
//     base: true                   #   also evaluate the pretrained model (default true)
//     sets: [synthetic:test]
//     n_samples: 8
//     k: [1, 8]
//   sweep:                         # dotted keys into this file -> lists; the grid of all
//     rl.algorithm: [ppo, grpo]    #   combinations (train/study/sweep.h); ids like
//     rl.policy.kl_coef: [0.001, 0.01]   #   algorithm-ppo__kl_coef-0.001
//     pretrain.model.n_embd: [64, 128]
//     seed: [1, 2]                 #   (a seed key may be swept here instead of listed above)
//   sweep:                         # or a list of grids, whose runs are the union (axes that do
//     - {rl.algorithm: [ppo, grpo], rl.policy.kl_coef: [0, 0.01]}   #   not apply everywhere:
//     - {rl.algorithm: [ei]}       #   expert iteration has no KL coefficient)
//   report: {generations_per_style: 3}
//
// Layout under runs/<name>/:
//   experiment.yaml, experiment.json      the experiment as run (after --set), its axes and runs
//   pretrain/<hash>/                      one pretraining run per distinct resolved pretraining
//                                         config (hash ignores device/threads), shared by every
//                                         run that differs only in RL or eval settings
//   pretrain/<hash>/eval_base/            the pretrained model's evaluation (shared likewise)
//   <run-id>/run.json                     id, axis values, which pretrain/<hash> it uses
//   <run-id>/pretrain -> ../pretrain/<hash>
//   <run-id>/rl/                          `chamber rl` output (metrics.jsonl, checkpoints/)
//   <run-id>/eval/step_XXXXXXXX/          eval.json + generations.jsonl per RL checkpoint
//   report.html, report.json              train/study/report.h, rewritten after every run
// Stage protocol: a stage directory gets stage.json {stage, config_hash} when it starts and
// done.json {stage, config_hash, result} (written atomically) when it finishes. done with the same
// hash: skipped. Started but not done: resumed (pretraining and RL continue from their newest
// checkpoint). Neither file: started afresh (pretraining and RL replace whatever an unrecorded
// attempt left in the directory). Hash differs: training stages stop with an error (the directory
// holds another config's work: delete it or rename the experiment); evaluation stages are redone.
#pragma once
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "train/eval.h"
#include "train/pretrain.h"
#include "train/rl.h"
#include "train/study/sweep.h"

namespace chamber {

struct ExperimentRun {
  std::string id;
  std::map<std::string, std::string> axes;    // sweep key -> value text
  PretrainConfig pretrain;
  std::string pretrain_hash;
  bool has_rl = false;
  RLConfig rl;                                // init is set when the pretrained checkpoint exists
  std::string rl_hash;                        // includes pretrain_hash
  bool has_eval = false;
  EvalConfig eval;
  std::string eval_hash;                      // of the eval settings alone
  std::string eval_checkpoints = "all";       // all | final | none (RL checkpoints to evaluate)
  bool eval_base = true;
};

struct ExperimentConfig {
  std::string file, name;
  std::string out = "runs";
  std::string device = "cpu";
  int threads = 0;
  std::string resolved_yaml;                  // the experiment after --set overrides
  std::vector<std::vector<SweepAxis>> grids; // the sweep: one grid, or several whose runs are unioned
  std::vector<SweepAxis> axes;                // every grid's axes, each key once (for the report)
  std::vector<ExperimentRun> runs;
  int generations_per_style = 3;
  std::string dir() const;                    // out/name
};

// Reads, applies `--set` overrides, expands the sweep and resolves (and strictly checks) every
// run's pretraining, RL and eval configs, so any mistake fails before work starts.
ExperimentConfig load_experiment(const std::string& path, const std::vector<std::string>& overrides);
ExperimentConfig parse_experiment(YAML::Node root, const std::string& file);

// The work behind each stage. Tests substitute fakes; `chamber run` uses the real ones
// (default_experiment_stages in train/study/cli_run.cpp).
struct ExperimentStages {
  // Pretrains into out_dir (continuing from its newest checkpoint when resume); returns the final
  // checkpoint directory.
  std::function<std::string(const PretrainConfig&, const std::string& out_dir, bool resume)> pretrain;
  // RL from cfg.init into out_dir; returns the final checkpoint directory.
  std::function<std::string(const RLConfig&, const std::string& out_dir, bool resume)> rl;
  // Evaluates a checkpoint; writes out_dir/eval.json and out_dir/generations.jsonl.
  std::function<void(const EvalConfig&, const std::string& checkpoint, const std::string& out_dir)> eval;
};

struct ExperimentOptions {
  bool only_report = false;                   // just regenerate the report
  bool list = false;                          // print the runs and each stage's state, do nothing
  bool quiet = false;
};

// Runs every missing stage of every run, in order; writes the report after each run. Returns the
// report's path.
std::string run_experiment(const ExperimentConfig& cfg, const ExperimentStages& stages,
                           const ExperimentOptions& opt);

// The stage protocol above, exposed for tests: returns the stage's recorded result.
std::string run_stage(const std::string& dir, const std::string& stage, const std::string& hash,
                      bool redo_if_changed, const std::function<std::string(bool resume)>& work);
// "done" | "started" | "changed" | "missing"
std::string stage_state(const std::string& dir, const std::string& hash);

// 64-bit FNV-1a as 16 hex digits (cache keys; not cryptographic).
std::string hash_hex(const std::string& text);

}  // namespace chamber
