// `chamber rl` end to end on a tiny checkpoint (pretrained in the test on a few math-world
// documents): every algorithm runs and writes metrics and log-spaced checkpoints; a run resumed
// from a middle checkpoint reproduces the uninterrupted run's metrics and weights exactly.
#include <gtest/gtest.h>

#include <sstream>

#include "data/mathworld.h"
#include "engine/checkpoint.h"
#include "util/util.h"
#include "tests/test_util.h"
#include "tests/train/tiny_rl_init.h"
#include "train/pretrain.h"
#include "train/metrics.h"
#include "train/rl.h"

namespace chamber {
namespace {

using testing::contains;
using testing::error_of;

std::string tiny_checkpoint(const std::string& dir) { return testing::tiny_tinygsm_checkpoint(dir); }

RLConfig rl_config(const std::string& init, const std::string& algorithm, int steps) {
  std::string yaml = "init: " + init + "\nalgorithm: " + algorithm + R"(
rollout: {prompts_per_step: 2, samples_per_prompt: 2, max_new_tokens: 6, micro_batch: 4, rollout_batch: 4}
policy: {epochs: 2, minibatches: 2}
ppo: {separate_critic: true}
eval: {problems: 2, interval: 2}
train: {device: cpu-ref, threads: 1, steps: )" + std::to_string(steps) + "}\n";
  return parse_rl_config(YAML::Load(yaml), "r.yaml");
}

RLOptions quiet(const std::string& out, bool resume = false) { return testing::quiet_rl(out, resume); }

TEST(RlRun, EveryAlgorithmRunsAndResumesExactly) {
  std::string dir = testing::temp_dir("rl_run");
  std::string init = tiny_checkpoint(dir);
  for (const char* algorithm : {"grpo", "ppo", "ei"}) {
    SCOPED_TRACE(algorithm);
    std::string full = dir + "/full_" + algorithm, cut = dir + "/cut_" + algorithm;
    std::string last = run_rl(rl_config(init, algorithm, 5), quiet(full));
    EXPECT_EQ(checkpoint_state(last)["step"], 5);
    std::vector<std::string> names;
    for (const auto& d : checkpoint_list(full + "/checkpoints")) names.push_back(d.substr(d.size() - 13));
    EXPECT_EQ(names, (std::vector<std::string>{"step_00000001", "step_00000002", "step_00000004", "step_00000005"}));
    auto a = metrics_read(full + "/metrics.jsonl");
    ASSERT_EQ(a.size(), 6u);   // 5 steps + the final evaluation
    for (const char* key : {"reward", "response_length", "sample_s", "grade_s", "score_s", "update_s", "step_s"}) EXPECT_TRUE(a[0].contains(key)) << key;
    EXPECT_TRUE(a[0].contains("eval_pass1"));
    if (std::string(algorithm) != "ei") {
      for (const char* key : {"kl", "entropy", "clip_fraction", "grad_norm"}) EXPECT_TRUE(a[1].contains(key)) << key;
    }
    if (std::string(algorithm) == "ppo") {
      for (const char* key : {"value_loss", "explained_variance"}) EXPECT_TRUE(a[1].contains(key)) << key;
    }

    // Interrupted after step 2's checkpoint (later ones lost), then --resume.
    run_rl(rl_config(init, algorithm, 5), quiet(cut));
    for (const auto& d : checkpoint_list(cut + "/checkpoints"))
      if (d.find("step_00000002") == std::string::npos) remove_all(d);
    run_rl(rl_config(init, algorithm, 5), quiet(cut, true));
    testing::expect_same_rl_runs(full, cut);
  }
}

// A resume whose state.json step is out of range (negative, past the configured steps, wrapped,
// not a whole number, or not its folder's step) is an error naming the file, and the run's
// checkpoints and metrics stay as they were.
TEST(RlRun, ResumeRefusesAStepOutOfRange) {
  std::string dir = testing::temp_dir("rl_bad_step");
  std::string init = tiny_checkpoint(dir), out = dir + "/out";
  run_rl(rl_config(init, "ppo", 2), quiet(out));  // checkpoints (and critic checkpoints) 1 and 2
  const std::string metrics = read_file(out + "/metrics.jsonl");
  const std::string state_path = out + "/checkpoints/step_00000002/state.json";
  const std::string state = read_file(state_path);
  for (const char* step : {"-5", "3", "1000000000000", "1e12", "9223372036854775807", "1", "\"2\""}) {
    nlohmann::json j = nlohmann::json::parse(state);
    j["step"] = nlohmann::json::parse(step);
    write_file_atomic(state_path, j.dump());
    std::string msg = error_of([&] { run_rl(rl_config(init, "ppo", 2), quiet(out, true)); });
    EXPECT_TRUE(contains(msg, state_path + ": step ")) << step << ": " << msg;
    EXPECT_EQ(read_file(out + "/metrics.jsonl"), metrics) << step;
    EXPECT_EQ(checkpoint_list(out + "/checkpoints").size(), 2u) << step;
  }
  write_file_atomic(state_path, state);
  EXPECT_EQ(error_of([&] { run_rl(rl_config(init, "ppo", 2), quiet(out, true)); }), "");
}

// `chamber rl` into a directory that holds a run is refused unless --resume or --overwrite;
// --overwrite replaces the policy's and the critic's checkpoints and the metrics.
TEST(RlRun, ExistingRunIsRefusedUnlessResumedOrOverwritten) {
  std::string dir = testing::temp_dir("rl_exists");
  std::string init = tiny_checkpoint(dir), out = dir + "/out";
  run_rl(rl_config(init, "ppo", 2), quiet(out));
  const std::string metrics = read_file(out + "/metrics.jsonl");
  std::string msg = error_of([&] { run_rl(rl_config(init, "ppo", 2), quiet(out)); });
  EXPECT_TRUE(contains(msg, out + " already holds a run")) << msg;
  for (const char* way : {"--resume", "--out", "--overwrite"}) EXPECT_TRUE(contains(msg, way)) << msg;
  EXPECT_EQ(read_file(out + "/metrics.jsonl"), metrics);
  EXPECT_EQ(checkpoint_list(out + "/checkpoints").size(), 2u);

  RLOptions overwrite = quiet(out);
  overwrite.overwrite = true;
  run_rl(rl_config(init, "ppo", 1), overwrite);
  EXPECT_EQ(checkpoint_list(out + "/checkpoints").size(), 1u);
  EXPECT_EQ(checkpoint_list(out + "/critic").size(), 1u);
  EXPECT_EQ(metrics_read(out + "/metrics.jsonl").size(), 2u);  // 1 step + the final evaluation
}

// train.dtype in RL, as in pretraining: fp32 unless asked, written back only when not fp32, and
// checked.
TEST(RlRun, DtypeDefaultsToFp32AndIsChecked) {
  RLConfig fp32 = parse_rl_config(YAML::Load("init: x\n"), "a.yaml");
  EXPECT_EQ(fp32.dtype, "fp32");
  EXPECT_FALSE(contains(rl_config_yaml(fp32), "dtype"));
  RLConfig bf16 = parse_rl_config(YAML::Load("init: x\ntrain: {dtype: bf16}\n"), "a.yaml");
  EXPECT_EQ(bf16.dtype, "bf16");
  EXPECT_EQ(rl_config_yaml(parse_rl_config(YAML::Load(rl_config_yaml(bf16)), "b.yaml")),
            rl_config_yaml(bf16));
  std::string msg = error_of([] { parse_rl_config(YAML::Load("init: x\ntrain: {dtype: half}\n"), "a.yaml"); });
  EXPECT_TRUE(contains(msg, "train.dtype")) << msg;
}

TEST(RlRun, MissingInitIsAClearError) {
  std::string dir = testing::temp_dir("rl_noinit");
  try {
    run_rl(rl_config(dir + "/nothing", "grpo", 2), quiet(dir + "/out"));
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("nothing"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace chamber
