// The `chamber` command line is built from per-area registration functions: each adds its
// subcommands (with their options and a callback that does the work) to the CLI11 app that
// train/main.cpp owns. Callbacks report bad input by throwing chamber::Error; main prints it.
#pragma once
#include <string>
#include <vector>

#include "train/run_dir.h"

namespace CLI {
class App;
}

namespace chamber {

// The arguments `chamber pretrain` and `chamber rl` share: the config, its run directory and the
// overrides (--device and --threads become --set train.device / train.threads).
struct RunArgs {
  std::string config, out, device;
  int threads = -1;
  bool resume = false, overwrite = false, quiet = false;
  std::vector<std::string> sets;
};
// Adds them to `cmd`: the positional config (e.g. `example`), --out, --device, --threads,
// --resume or --overwrite, --quiet and --set.
void add_run_arguments(CLI::App* cmd, RunArgs& args, const char* example);
// The --set overrides with --device and --threads folded in.
std::vector<std::string> run_overrides(const RunArgs& args);
RunOptions run_options(const RunArgs& args);

// `chamber pretrain` (train/cli_pretrain.cpp).
void register_pretrain_commands(CLI::App& app);
// `chamber sample|score|export` on a checkpoint (train/cli_model.cpp).
void register_model_commands(CLI::App& app);
// `chamber import --format hf` (train/cli_import.cpp).
void register_import_commands(CLI::App& app);
// `chamber tokenizer train|encode` (train/cli_tokenizer.cpp).
void register_tokenizer_commands(CLI::App& app);
// `chamber data build|sample` and `chamber grade` (train/cli_data.cpp).
void register_data_commands(CLI::App& app);

// `chamber rl` (train/cli_rl.cpp).
void register_rl_commands(CLI::App& app);

// `chamber eval` (train/cli_eval.cpp).
void register_eval_commands(CLI::App& app);

// `chamber run` and `chamber report` belong to the experiment layer above this one:
// train/study/cli_run.h.

}  // namespace chamber
