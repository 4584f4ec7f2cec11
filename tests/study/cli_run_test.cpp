// `chamber run` with the real stages, through CLI11 as main runs it, on a one-run experiment small
// enough for a test: it finishes, then finds its stages again when one was interrupted (resumed)
// or left without a record (started afresh in its own directory, not refused as an existing run).
#include <gtest/gtest.h>

#include <CLI/CLI.hpp>

#include "engine/checkpoint.h"
#include "util/util.h"
#include "tests/test_util.h"
#include "tests/train/cli_harness.h"
#include "train/study/cli_run.h"

namespace chamber {
namespace {

std::string run_cli(std::vector<std::string> args) {
  return testing::run_cli_with(register_run_commands, std::move(args));
}

TEST(CliRun, StagesResumeOrRestartInTheirOwnDirectories) {
  std::string out = testing::temp_dir("cli_run");
  std::string config = path_join(out, "exp.yaml");
  write_file_atomic(config, R"(name: exp
out: )" + out + R"(
device: cpu-ref
threads: 1
pretrain:
  model: {n_layer: 1, n_head: 2, n_embd: 16, context_length: 384}
  data:
    seed: 1
    tokenizer: {vocab_size: 300}
    sources: [{kind: synthetic, style: tinygsm, split: train, count: 30}]
  train: {steps: 3, seq_len: 32, batch_size: 2, eval_interval: 0, log_interval: 100}
rl:
  algorithm: grpo
  rollout: {prompts_per_step: 2, samples_per_prompt: 2, max_new_tokens: 4, micro_batch: 4, rollout_batch: 4}
  train: {steps: 2}
eval:
  checkpoints: final
  base: false
  sets: [synthetic:test]
  count: 2
  n_samples: 1
  k: [1]
  max_new_tokens: 4
)");
  const std::string rl_dir = path_join(out, "exp/main/rl");
  run_cli({"run", config, "--quiet"});
  ASSERT_TRUE(file_exists(path_join(rl_dir, "done.json")));
  EXPECT_TRUE(checkpoint_resolve(rl_dir).find("step_00000002") != std::string::npos);

  // Interrupted after its checkpoints were written: the stage is "started" and resumes.
  remove_all(path_join(rl_dir, "done.json"));
  run_cli({"run", config, "--quiet"});
  EXPECT_TRUE(file_exists(path_join(rl_dir, "done.json")));

  // A stage directory holding a run but no record of it (stage.json lost): the stage is
  // "missing", and `chamber run` starts it afresh there rather than stopping at the run it finds.
  remove_all(path_join(rl_dir, "done.json"));
  remove_all(path_join(rl_dir, "stage.json"));
  run_cli({"run", config, "--quiet"});
  EXPECT_TRUE(file_exists(path_join(rl_dir, "done.json")));
  EXPECT_EQ(checkpoint_list(path_join(rl_dir, "checkpoints")).size(), 2u);
}

}  // namespace
}  // namespace chamber
