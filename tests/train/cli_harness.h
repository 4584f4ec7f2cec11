// Runs `chamber` command lines in-process for the CLI tests: the subcommands that `add_commands`
// registers (one of train/cli.h's register_*_commands), parsed and run by CLI11 as main() would.
#pragma once
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "train/cli.h"

namespace chamber::testing {

// Parses and runs one command line (arguments after the program name); returns its stdout.
inline std::string run_cli_with(void (*add_commands)(CLI::App&), std::vector<std::string> args) {
  CLI::App app{"chamber"};
  app.require_subcommand(1);
  add_commands(app);
  args.insert(args.begin(), "chamber");
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  ::testing::internal::CaptureStdout();
  try {
    app.parse((int)argv.size(), argv.data());
  } catch (...) {
    ::testing::internal::GetCapturedStdout();
    throw;
  }
  return ::testing::internal::GetCapturedStdout();
}

}  // namespace chamber::testing
