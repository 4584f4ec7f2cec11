// `chamber run EXPERIMENT` and `chamber report DIR` (train/study/cli_run.cpp), registered like the
// commands of train/cli.h. Declared here, not in train/cli.h, because they belong to the study
// layer (chamber_study), which builds on chamber_train; only train/main.cpp sees both.
#pragma once

namespace CLI {
class App;
}

namespace chamber {

void register_run_commands(CLI::App& app);

}  // namespace chamber
