// `chamber pretrain CONFIG [--out DIR] [--device D] [--threads N] [--resume | --overwrite] [--profile] [--set k=v]`
// Under `mpirun -np N` it runs N data-parallel ranks (train/data_parallel.h); --shard-optimizer adds ZeRO-1.
#include <CLI/CLI.hpp>

#include "train/cli.h"
#include "engine/comm.h"
#include "train/pretrain.h"

namespace chamber {

void register_pretrain_commands(CLI::App& app) {
  struct Args : RunArgs {
    bool profile = false, shard_optimizer = false, no_overlap = false;
  };
  auto args = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand("pretrain", "Pretrain a GPT from a YAML config (data spec, model, optimizer, loop)");
  add_run_arguments(cmd, *args, "configs/tiny.yaml");
  cmd->add_flag("--profile", args->profile, "print time per op (forward, backward, optimizer) at the end");
  cmd->add_flag("--shard-optimizer", args->shard_optimizer,
                "under mpirun: each rank keeps AdamW's state for 1/N of the parameters (ZeRO-1)");
  cmd->add_flag("--no-overlap", args->no_overlap,
                "under mpirun: average the gradients after the backward pass, not layer by layer during it");
  cmd->callback([args] {
    PretrainConfig cfg = load_pretrain_config(args->config, run_overrides(*args));
    PretrainOptions opt{run_options(*args)};
    opt.profile = args->profile;
    opt.comm = &comm_world();   // several ranks when started by mpirun
    opt.shard_optimizer = args->shard_optimizer;
    opt.overlap_reduce = !args->no_overlap;
    run_pretrain(cfg, opt);
  });
}

}  // namespace chamber
