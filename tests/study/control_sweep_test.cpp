// The RL counterfactual controls (train/rl_controls.h) as a sweep axis of an experiment:
// `rl.control.kind: [...]` expands to one run per control, each parsed with its control, with
// distinct RL hashes, while the run without a control keeps the hash it had before controls
// existed (its resolved config has no control section).
#include <gtest/gtest.h>

#include "tests/test_util.h"
#include "train/study/experiment.h"
#include "util/util.h"

namespace chamber {
namespace {

const char* kExperiment = R"(name: controls
out: runs
device: cpu-ref
pretrain:
  model: {n_layer: 1, n_head: 2, n_embd: 16, context_length: 32}
  data:
    seed: 1
    tokenizer: {vocab_size: 300}
    sources: [{kind: synthetic, style: tinygsm, split: train, count: 50}]
  train: {steps: 5, seq_len: 32, batch_size: 2}
rl:
  algorithm: grpo
  train: {steps: 4}
  control: {styles: [tinygsm], style: omi1}
)";

ExperimentConfig parse(const std::vector<std::string>& sets) {
  YAML::Node root = YAML::Load(kExperiment);
  for (const auto& s : sets) yaml_apply_override(root, s);
  return parse_experiment(root, "exp.yaml");
}

TEST(ControlSweep, ControlKindIsASweepAxis) {
  ExperimentConfig exp =
      parse({"sweep={rl.control.kind: [none, random, format_only, style_masked, forced_style]}"});
  ASSERT_EQ(exp.runs.size(), 5u);
  const ControlKind kinds[] = {ControlKind::none, ControlKind::random, ControlKind::format_only,
                               ControlKind::style_masked, ControlKind::forced_style};
  for (size_t i = 0; i < 5; i++) {
    EXPECT_EQ(exp.runs[i].rl.control.kind, kinds[i]);
    EXPECT_EQ(exp.runs[i].id, std::string("kind-") + control_kind_name(kinds[i]));
    for (size_t j = 0; j < i; j++) EXPECT_NE(exp.runs[i].rl_hash, exp.runs[j].rl_hash);
  }
  EXPECT_EQ(exp.runs[3].rl.control.styles, std::vector<std::string>{"tinygsm"});
  EXPECT_EQ(exp.runs[4].rl.control.style, "omi1");

  // No control: the same RL hash as an experiment that never mentions controls.
  YAML::Node plain = YAML::Load(kExperiment);
  plain["rl"].remove("control");
  EXPECT_EQ(parse_experiment(plain, "exp.yaml").runs[0].rl_hash, exp.runs[0].rl_hash);

  // random's p as its own axis, and a bad control value named.
  ExperimentConfig ps = parse({"rl.control.kind=random", "sweep={rl.control.p: [0.1, 0.5]}"});
  ASSERT_EQ(ps.runs.size(), 2u);
  EXPECT_FLOAT_EQ(ps.runs[1].rl.control.p, 0.5f);
  std::string msg = testing::error_of([] { parse({"sweep={rl.control.kind: [none, shuffled]}"}); });
  EXPECT_TRUE(testing::contains(msg, "'control.kind' must be none, random")) << msg;
}

}  // namespace
}  // namespace chamber
