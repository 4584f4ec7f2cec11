// `chamber eval [CONFIG] [--checkpoint DIR] [--eval-set NAME ...] [--count N] [--samples N]
//               [--out DIR] [--device D] [--threads N] [--set key=value ...]`
//
// CONFIG (optional) is a YAML file:
//   checkpoint: runs/tiny          # checkpoint or run directory (newest checkpoint)
//   device: cpu
//   out: runs/tiny/eval            # default: <checkpoint>/eval
//   eval: {sets: [synthetic:test, "gsm8k:../shared/data/gsm8k/test.jsonl"], count: 200,
//          n_samples: 8, k: [1, 8], temperature: 0.7, max_new_tokens: 256, batch_size: 64, seed: 1}
// (train/eval.h lists every eval key). Flags override the file; --set overrides any key
// (e.g. --set eval.temperature=1.0). Prints a JSON summary and writes OUT/eval.json and
// OUT/generations.jsonl (one line per generation, greedy ones with sample -1). Under
// `mpirun -np N` each rank generates a share of every set; the files are one process's.
#include <CLI/CLI.hpp>

#include <cstdio>

#include <nlohmann/json.hpp>

#include "engine/backend.h"
#include "util/util.h"
#include "util/yaml_schema.h"
#include "train/cli.h"
#include "train/eval.h"
#include "train/loaded_model.h"

namespace chamber {

namespace {

struct EvalArgs {
  std::string config, checkpoint, out, device;
  std::vector<std::string> eval_sets, overrides;
  int count = -1, samples = -1, threads = -1;
  bool quiet = false;
};

void cmd_eval(const EvalArgs& a) {
  YAML::Node root = a.config.empty() ? YAML::Node(YAML::NodeType::Map) : yaml_load_config(a.config, {});
  for (const auto& o : a.overrides) yaml_apply_override(root, o);
  YamlMap top = yaml_root(root, a.config.empty() ? "(command line)" : a.config);
  std::string checkpoint, device = "cpu", out;
  int threads = 0;
  top.get("checkpoint", checkpoint);
  top.get("device", device);
  top.get("out", out);
  top.get("threads", threads);
  EvalConfig cfg = read_eval_config(top.sub("eval"));
  top.finish();
  if (!a.checkpoint.empty()) checkpoint = a.checkpoint;
  if (!a.device.empty()) device = a.device;
  if (!a.out.empty()) out = a.out;
  if (a.threads >= 0) threads = a.threads;
  if (!a.eval_sets.empty()) cfg.sets = a.eval_sets;
  if (a.count >= 0) cfg.count = a.count;
  if (a.samples >= 0) {
    cfg.n_samples = a.samples;
    std::vector<int> ks;
    for (int k : cfg.k) if (k <= cfg.n_samples) ks.push_back(k);
    cfg.k = ks;
  }
  if (checkpoint.empty()) fail("chamber eval: give --checkpoint DIR or `checkpoint:` in the config");
  Comm& comm = comm_world();   // several ranks when started by mpirun: each takes a share of every set
  set_cpu_threads(threads > 0 ? threads : comm_default_threads(comm));

  nlohmann::ordered_json summary = evaluate_checkpoint(cfg, checkpoint, device, out, a.quiet, &comm);
  if (comm.rank == 0) std::printf("%s\n", summary.dump(2, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
}

}  // namespace

void register_eval_commands(CLI::App& app) {
  auto a = std::make_shared<EvalArgs>();
  CLI::App* cmd = app.add_subcommand(
      "eval", "Evaluate a checkpoint on math sets: greedy pass@1, pass@k, maj@k, style shares (JSON)");
  cmd->add_option("config", a->config, "optional YAML file (checkpoint, device, out, eval: {...})");
  cmd->add_option("--checkpoint", a->checkpoint, "checkpoint or run directory");
  cmd->add_option("--eval-set", a->eval_sets,
                  "set to evaluate, repeatable: synthetic:SPLIT or gsm8k:PATH (default synthetic:test)");
  cmd->add_option("--count", a->count, "problems per set (default 200; 0 = a file's every problem)")
      ->check(CLI::Range(0, kMaxEvalProblems));
  cmd->add_option("--samples", a->samples, "samples per problem for pass@k / maj@k (default 8)")
      ->check(CLI::Range(0, kMaxEvalSamples));
  cmd->add_option("--out", a->out, "output directory (default <checkpoint>/eval)");
  cmd->add_option("--device", a->device, "cpu | cpu-ref | cuda | simt | auto");
  cmd->add_option("--threads", a->threads, "CPU threads (default all cores)");
  cmd->add_option("--set", a->overrides, "override a config value, e.g. --set eval.temperature=1.0");
  cmd->add_flag("--quiet", a->quiet, "no progress output");
  cmd->callback([a] { cmd_eval(*a); });
}

}  // namespace chamber
