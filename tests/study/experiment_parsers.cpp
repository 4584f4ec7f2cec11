// Experiment files that no run can use: sweeps that are an alias bomb or ask for too many runs,
// and bad values in an experiment's sections. Each is an error naming the file and line (or
// --set) and the allowed range, before any work starts. (The same checks for pretraining, eval
// and command-line values are in tests/train/run_config_parsers.cpp.)
#include <gtest/gtest.h>

#include "util/util.h"
#include "util/yaml.h"
#include "tests/test_util.h"
#include "train/study/experiment.h"
#include "train/study/sweep.h"

namespace chamber {
namespace {

using testing::contains;
using testing::error_of;

// An experiment's pretraining section (train: on line 5 once a name line precedes it).
const std::string kPretrain = "pretrain:\n  model: {n_layer: 1, n_head: 2, n_embd: 16, context_length: 32}\n"
                              "  data: {tokenizer: {vocab_size: 300}, sources: [{kind: synthetic, style: tinygsm, "
                              "split: train, count: 50}]}\n  train: {steps: 5, seq_len: 32, batch_size: 2}\n";

// An experiment of about 1 KB (the report's was 947 bytes): nested maps under `sweep:` whose
// anchors refer to each other nine levels deep. Flattening it would make 9^9 axes.
std::string sweep_bomb() {
  std::string text = "name: bomb\n" + kPretrain + "sweep:\n  rl:\n";
  text += "    l0: &l0 {a: [1], b: [2], c: [3], d: [4], e: [5], f: [6], g: [7], h: [8], i: [9]}\n";
  for (int l = 1; l < 9; l++) {
    std::string name = std::to_string(l), previous = std::to_string(l - 1);
    text.append("    l").append(name).append(": &l").append(name).append(" {k0: *l").append(previous);
    for (int k = 1; k < 9; k++) text.append(", k").append(std::to_string(k)).append(": *l").append(previous);
    text.append("}\n");
  }
  return text;
}

TEST(RunConfigParsers, SweepAliasBombIsRefused) {
  std::string dir = testing::temp_dir("sweep_bomb");
  write_file_atomic(dir + "/bomb.yaml", sweep_bomb());
  EXPECT_LT(sweep_bomb().size(), 1200u);
  std::string msg = error_of([&] { load_experiment(dir + "/bomb.yaml", {}); });
  EXPECT_TRUE(contains(msg, dir + "/bomb.yaml: more than 100000 YAML nodes once aliases")) << msg;
  // Given the node directly (not through the file reader), flattening stops at the axis limit.
  YAML::Node sweep = YAML::Load(sweep_bomb())["sweep"];
  msg = error_of([&] { sweep_grids_from_yaml(sweep, "bomb.yaml"); });
  EXPECT_TRUE(contains(msg, "'sweep' has more than 64 axes")) << msg;
}

TEST(RunConfigParsers, SweepsWithTooManyRunsAreRefusedBeforeExpanding) {
  std::string five_axes = "{seed: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], rl.a: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], "
                          "rl.b: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], rl.c: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], "
                          "rl.d: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]}";
  std::string msg = error_of([&] { sweep_expand_grids(sweep_grids_from_yaml(YAML::Load(five_axes), "t.yaml")); });
  EXPECT_TRUE(contains(msg, "more than 10000 runs")) << msg;
  // Two grids of 6000 runs each: each is allowed alone, not together.
  std::string grid = "{rl.a: [1, 2, 3, 4, 5, 6], rl.b: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], "
                     "rl.c: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], rl.d: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]}";
  msg = error_of([&] { sweep_expand_grids(sweep_grids_from_yaml(YAML::Load("[" + grid + ", " + grid + "]"), "t.yaml")); });
  EXPECT_TRUE(contains(msg, "more than 10000 runs over all grids")) << msg;
}

// Sections are shared with the experiment file instead of cloned (a clone puts every node on
// line 1), so a bad value names its line, also when a sweep sets it; --set values say --set.
TEST(RunConfigParsers, ExperimentErrorsNameTheLine) {
  auto parse = [](const std::string& text, const std::vector<std::string>& sets = {}) {
    YAML::Node root = yaml_parse(text, "exp.yaml");
    for (const auto& s : sets) yaml_apply_override(root, s);
    return error_of([&] { parse_experiment(root, "exp.yaml"); });
  };
  std::string text = "name: e\n" + kPretrain;   // train: on line 5
  std::string bad_steps = text;
  bad_steps.replace(bad_steps.find("steps: 5"), 8, "steps: 0");
  EXPECT_TRUE(contains(parse(bad_steps), "exp.yaml [pretrain]:5: 'train.steps' must be in [1, 1e+09], got 0"))
      << parse(bad_steps);
  std::string swept = text + "sweep:\n  pretrain.train.steps: [3, 0]\n";
  EXPECT_TRUE(contains(parse(swept), "exp.yaml [pretrain]:7: 'train.steps' must be in [1, 1e+09], got 0"))
      << parse(swept);
  EXPECT_TRUE(contains(parse(text, {"pretrain.train.steps=0"}),
                       "exp.yaml [pretrain] (from --set): 'train.steps' must be in [1, 1e+09], got 0"))
      << parse(text, {"pretrain.train.steps=0"});
  // A section's own file must be a map.
  std::string dir = testing::temp_dir("exp_scalar");
  write_file_atomic(dir + "/s.yaml", "just a string\n");
  std::string from_file = "name: e\npretrain: {config: " + dir + "/s.yaml}\n";
  EXPECT_TRUE(contains(parse(from_file), dir + "/s.yaml: the top level must be a map of settings")) << parse(from_file);
}

}  // namespace
}  // namespace chamber
