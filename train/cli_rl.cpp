// `chamber rl CONFIG [--out DIR] [--init PATH] [--device D] [--threads N] [--resume | --overwrite] [--quiet] [--set k=v]`
// RL post-training (ppo | grpo | ei, the config's `algorithm`) from a pretrained checkpoint.
#include <CLI/CLI.hpp>

#include "train/cli.h"
#include "train/rl.h"

namespace chamber {

void register_rl_commands(CLI::App& app) {
  struct Args {
    std::string config, out, init, device;
    int threads = -1;
    bool resume = false, overwrite = false, quiet = false;
    std::vector<std::string> sets;
  };
  auto args = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand("rl", "RL post-training (PPO, GRPO, expert iteration) from a pretrained checkpoint");
  cmd->add_option("config", args->config, "YAML config, e.g. configs/rl-tiny-grpo.yaml")->required();
  cmd->add_option("--out", args->out, "run directory (default runs/<name>)");
  cmd->add_option("--init", args->init, "starting checkpoint or run directory (overrides init)");
  cmd->add_option("--device", args->device, "cpu | cpu-ref | cuda | simt | auto (overrides train.device)");
  cmd->add_option("--threads", args->threads, "CPU threads (overrides train.threads; default all cores)");
  CLI::Option* resume = cmd->add_flag("--resume", args->resume, "continue from the newest checkpoint in the run directory");
  cmd->add_flag("--overwrite", args->overwrite, "replace the run already in the run directory (its checkpoints and metrics)")
      ->excludes(resume);
  cmd->add_flag("--quiet", args->quiet, "no progress output");
  cmd->add_option("--set", args->sets, "override a config value, e.g. --set train.steps=20 (repeatable)");
  cmd->callback([args] {
    std::vector<std::string> sets = args->sets;
    if (!args->init.empty()) sets.push_back("init=" + args->init);
    if (!args->device.empty()) sets.push_back("train.device=" + args->device);
    if (args->threads >= 0) sets.push_back("train.threads=" + std::to_string(args->threads));
    RLConfig cfg = load_rl_config(args->config, sets);
    RLOptions opt;
    opt.out_dir = args->out;
    opt.resume = args->resume;
    opt.overwrite = args->overwrite;
    opt.quiet = args->quiet;
    run_rl(cfg, opt);
  });
}

}  // namespace chamber
