// `chamber rl CONFIG [--out DIR] [--init PATH] [--device D] [--threads N] [--resume | --overwrite] [--quiet] [--set k=v]`
// RL post-training (ppo | grpo | ei, the config's `algorithm`) from a pretrained checkpoint;
// under `mpirun -np N` data parallel (train/rl_data_parallel.cpp).
#include <CLI/CLI.hpp>

#include "train/cli.h"
#include "train/rl.h"

namespace chamber {

void register_rl_commands(CLI::App& app) {
  struct Args : RunArgs {
    std::string init;
  };
  auto args = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand("rl", "RL post-training (PPO, GRPO, expert iteration) from a pretrained checkpoint");
  add_run_arguments(cmd, *args, "configs/rl-tiny-grpo.yaml");
  cmd->add_option("--init", args->init, "starting checkpoint or run directory (overrides init)");
  cmd->callback([args] {
    std::vector<std::string> sets = run_overrides(*args);
    if (!args->init.empty()) sets.push_back("init=" + args->init);
    RLOptions opt = run_options(*args);
    opt.comm = &comm_world();   // several ranks when started by mpirun
    run_rl(load_rl_config(args->config, sets), opt);
  });
}

}  // namespace chamber
