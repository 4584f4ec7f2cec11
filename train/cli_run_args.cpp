// The arguments `chamber pretrain` and `chamber rl` share (train/cli.h).
#include <CLI/CLI.hpp>

#include "train/cli.h"

namespace chamber {

void add_run_arguments(CLI::App* cmd, RunArgs& args, const char* example) {
  cmd->add_option("config", args.config, std::string("YAML config, e.g. ") + example)->required();
  cmd->add_option("--out", args.out, "run directory (default runs/<name>)");
  cmd->add_option("--device", args.device, "cpu | cpu-ref | cuda | simt | auto (overrides train.device)");
  cmd->add_option("--threads", args.threads, "CPU threads (overrides train.threads; default all cores)");
  CLI::Option* resume = cmd->add_flag("--resume", args.resume, "continue from the newest checkpoint in the run directory");
  cmd->add_flag("--overwrite", args.overwrite, "replace the run already in the run directory (its checkpoints and metrics)")
      ->excludes(resume);
  cmd->add_flag("--quiet", args.quiet, "no progress output");
  cmd->add_option("--set", args.sets, "override a config value, e.g. --set train.steps=20 (repeatable)");
}

std::vector<std::string> run_overrides(const RunArgs& args) {
  std::vector<std::string> sets = args.sets;
  if (!args.device.empty()) sets.push_back("train.device=" + args.device);
  if (args.threads >= 0) sets.push_back("train.threads=" + std::to_string(args.threads));
  return sets;
}

RunOptions run_options(const RunArgs& args) {
  return RunOptions{args.out, args.resume, args.overwrite, args.quiet};
}

}  // namespace chamber
