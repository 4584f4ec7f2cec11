// The `chamber` command. Each area registers its subcommands (train/cli.h); errors in user input
// arrive as chamber::Error and end the program with the message and exit status 1.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <cstdlib>
#include <new>
#include <string>
#include <unistd.h>

#include "util/util.h"
#include "engine/comm.h"
#include "train/cli.h"
#include "train/study/cli_run.h"

int main(int argc, char** argv) {
  // OpenMP threads that busy-wait between our many short parallel loops steal the core from the
  // thread doing the work whenever anything else runs on a small machine (measured: up to 5x
  // slower on 2 shared cores). The wait policy is read when the OpenMP runtime loads, so when the
  // user has not chosen one, set it and re-execute once.
  if (!std::getenv("OMP_WAIT_POLICY")) {
    setenv("OMP_WAIT_POLICY", "passive", 1);
    execv("/proc/self/exe", argv);  // returns only on failure: then carry on as we are
  }
  CLI::App app{"chamber: pretrain small GPTs on controlled math mixtures, post-train them with RL "
               "(PPO, GRPO, expert iteration), and report which solution style RL amplifies"};
  app.require_subcommand(1);
  app.set_help_all_flag("--help-all", "help for every subcommand");
  chamber::register_pretrain_commands(app);
  chamber::register_model_commands(app);
  chamber::register_import_commands(app);
  chamber::register_tokenizer_commands(app);
  chamber::register_data_commands(app);
  chamber::register_eval_commands(app);
  chamber::register_rl_commands(app);
  chamber::register_run_commands(app);
  try {
    chamber::comm_init(chamber::comm_world());   // rank and world size when started by mpirun
    // Pretraining, RL and evaluation split their work across ranks; any other command started as
    // several ranks would run N copies into the same files.
    const std::string command = argc > 1 ? argv[1] : "";
    if (chamber::comm_world().world > 1 && command != "pretrain" && command != "rl" && command != "eval")
      throw chamber::Error("only `chamber pretrain`, `rl` and `eval` run data parallel (under mpirun); run '" +
                           command + "' as one process, without mpirun");
    app.parse(argc, argv);
    chamber::comm_finalize(chamber::comm_world());
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const chamber::Error& e) {
    std::fprintf(stderr, "chamber: error: %s\n", e.what());
    return 1;
  } catch (const std::bad_alloc&) {
    // Inputs are range-checked where they are read; this is the net under what slipped through.
    std::fprintf(stderr, "chamber: error: out of memory: the run asks for more memory than this machine "
                         "has; lower the sizes it sets (batch_size, seq_len, counts, token budgets)\n");
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "chamber: internal error: %s\n", e.what());
    return 2;
  }
  return 0;
}
