// Run configs and command lines that no run can use: run names that leave runs/, evaluation sizes
// beyond what fits in memory, sampling temperatures that mean nothing. Each is an error naming the
// file, line or flag and the allowed range, before any work starts. (Experiments and their sweeps:
// tests/study/experiment_parsers.cpp.)
#include <gtest/gtest.h>

#include <CLI/CLI.hpp>

#include "util/util.h"
#include "util/yaml.h"
#include "util/yaml_schema.h"
#include "tests/test_util.h"
#include "tests/train/cli_harness.h"
#include "train/cli.h"
#include "train/eval.h"
#include "train/pretrain.h"
#include "train/rl.h"

namespace chamber {
namespace {

using testing::contains;
using testing::error_of;

// A pretraining config.
const std::string kPretrainConfig = R"(model: {n_layer: 1, n_head: 2, n_embd: 16, context_length: 32}
data: {tokenizer: {vocab_size: 300}, sources: [{kind: synthetic, style: tinygsm, split: train, count: 50}]}
train: {steps: 5, seq_len: 32, batch_size: 2}
)";

// The default run directory is runs/<name>; a name that is not one plain directory would put the
// run somewhere else (../x, /tmp/x) or into runs/ itself.
TEST(RunConfigParsers, PretrainNameStaysInsideRuns) {
  auto pretrain_error = [](const std::string& name_line, const std::string& file) {
    return error_of([&] { parse_pretrain_config(yaml_parse(name_line + kPretrainConfig, file), file); });
  };
  for (const char* name : {"../x", "/tmp/x", "a/b", ".hidden", "..", "."}) {
    std::string msg = pretrain_error(std::string("name: '") + name + "'\n", "p.yaml");
    EXPECT_TRUE(contains(msg, "p.yaml:1: 'name' must be a plain directory name (the run goes to runs/<name>), got '" +
                                  std::string(name) + "'"))
        << name << ": " << msg;
  }
  EXPECT_TRUE(contains(pretrain_error("", "configs/..yaml"), "'name' (taken from the file name) must be a plain"))
      << pretrain_error("", "configs/..yaml");
  EXPECT_EQ(pretrain_error("name: tiny-2\n", "p.yaml"), "");
  EXPECT_EQ(pretrain_error("", "configs/tiny.yaml"), "");
}

TEST(RunConfigParsers, EvalSizesAndTemperatureHaveRanges) {
  auto eval_error = [](const std::string& yaml) {
    return error_of([&] { read_eval_config(yaml_root(yaml_parse(yaml, "e.yaml"), "e.yaml")); });
  };
  EXPECT_TRUE(contains(eval_error("count: 2000000000"), "e.yaml:1: 'count' must be in [0, 1e+06], got 2e+09"))
      << eval_error("count: 2000000000");
  EXPECT_TRUE(contains(eval_error("n_samples: 100000000"), "'n_samples' must be in [0, 100000], got 1e+08"))
      << eval_error("n_samples: 100000000");
  EXPECT_TRUE(contains(eval_error("temperature: .nan"), "'temperature' must be in [0, 100], got nan"));
  EXPECT_TRUE(contains(eval_error("temperature: -1"), "'temperature' must be in [0, 100], got -1"));
  EXPECT_EQ(eval_error("count: 1000000\nn_samples: 1\nk: [1]"), "");
  // A synthetic set of more problems than the limit is refused before any is generated.
  EXPECT_TRUE(contains(error_of([] { load_eval_set("synthetic:test", kMaxEvalProblems + 1, 1); }),
                       "is more than 1000000 problems"));
}

// RL's evaluation during training has the same problem limit as `chamber eval`.
TEST(RunConfigParsers, RlEvaluationHasTheEvalProblemLimit) {
  auto rl_error = [](const std::string& eval_line) {
    return error_of([&] { parse_rl_config(yaml_parse("init: x\n" + eval_line, "r.yaml"), "r.yaml"); });
  };
  std::string msg = rl_error("eval: {problems: 2000000}\n");
  EXPECT_TRUE(contains(msg, "r.yaml:2: 'eval.problems' must be in [0, 1e+06], got 2e+06")) << msg;
  EXPECT_EQ(rl_error("eval: {problems: 1000000}\n"), "");
}

std::string run_cli(void (*commands)(CLI::App&), std::vector<std::string> args) {
  return testing::run_cli_with(commands, std::move(args));
}

TEST(RunConfigParsers, CommandLineValuesHaveRanges) {
  // chamber eval: CLI11 refuses the value before anything is loaded.
  for (const std::vector<std::string>& flags : {std::vector<std::string>{"--count", "2000000000"},
                                                std::vector<std::string>{"--samples", "100000000"},
                                                std::vector<std::string>{"--count", "-1"}}) {
    std::vector<std::string> args = {"eval", "--checkpoint", "/nonexistent"};
    args.insert(args.end(), flags.begin(), flags.end());
    EXPECT_THROW(run_cli(register_eval_commands, args), CLI::ValidationError) << flags[0] << " " << flags[1];
  }
  // chamber sample: a temperature that is NaN, negative or infinite is an error, not a greedy or
  // garbled sample.
  for (const char* t : {"nan", "-1", "inf", "101"}) {
    std::string msg = error_of([&] {
      run_cli(register_model_commands, {"sample", "--checkpoint", "/nonexistent", "--prompt", "x", "--temperature", t});
    });
    EXPECT_TRUE(contains(msg, "--temperature must be in [0, 100] (0 = greedy), got ")) << t << ": " << msg;
  }
  // A temperature in range gets past the check (and fails on the missing checkpoint).
  std::string msg = error_of([&] {
    run_cli(register_model_commands, {"sample", "--checkpoint", "/nonexistent", "--prompt", "x", "--temperature", "0.7"});
  });
  EXPECT_TRUE(contains(msg, "/nonexistent")) << msg;
}

}  // namespace
}  // namespace chamber
