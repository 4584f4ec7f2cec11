// `chamber pretrain CONFIG [--out DIR] [--device D] [--threads N] [--resume | --overwrite] [--profile] [--set k=v]`
// Under `mpirun -np N` it runs N data-parallel ranks (train/data_parallel.h); --shard-optimizer adds ZeRO-1.
#include <CLI/CLI.hpp>

#include "train/cli.h"
#include "engine/comm.h"
#include "train/pretrain.h"

namespace chamber {

void register_pretrain_commands(CLI::App& app) {
  struct Args {
    std::string config, out, device;
    int threads = -1;
    bool resume = false, overwrite = false, profile = false, quiet = false, shard_optimizer = false;
    std::vector<std::string> sets;
  };
  auto args = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand("pretrain", "Pretrain a GPT from a YAML config (data spec, model, optimizer, loop)");
  cmd->add_option("config", args->config, "YAML config, e.g. configs/tiny.yaml")->required();
  cmd->add_option("--out", args->out, "run directory (default runs/<name>)");
  cmd->add_option("--device", args->device, "cpu | cpu-ref | cuda | simt | auto (overrides train.device)");
  cmd->add_option("--threads", args->threads, "CPU threads (overrides train.threads; default all cores)");
  CLI::Option* resume = cmd->add_flag("--resume", args->resume, "continue from the newest checkpoint in the run directory");
  cmd->add_flag("--overwrite", args->overwrite, "replace the run already in the run directory (its checkpoints and metrics)")
      ->excludes(resume);
  cmd->add_flag("--profile", args->profile, "print time per op (forward, backward, optimizer) at the end");
  cmd->add_flag("--quiet", args->quiet, "no progress output");
  cmd->add_flag("--shard-optimizer", args->shard_optimizer,
                "under mpirun: each rank keeps AdamW's state for 1/N of the parameters (ZeRO-1)");
  cmd->add_option("--set", args->sets, "override a config value, e.g. --set train.steps=100 (repeatable)");
  cmd->callback([args] {
    std::vector<std::string> sets = args->sets;
    if (!args->device.empty()) sets.push_back("train.device=" + args->device);
    if (args->threads >= 0) sets.push_back("train.threads=" + std::to_string(args->threads));
    PretrainConfig cfg = load_pretrain_config(args->config, sets);
    PretrainOptions opt;
    opt.out_dir = args->out;
    opt.resume = args->resume;
    opt.overwrite = args->overwrite;
    opt.profile = args->profile;
    opt.quiet = args->quiet;
    opt.comm = &comm_world();   // several ranks when started by mpirun
    opt.shard_optimizer = args->shard_optimizer;
    run_pretrain(cfg, opt);
  });
}

}  // namespace chamber
