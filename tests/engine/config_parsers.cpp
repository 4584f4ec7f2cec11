// Config reading: unknown keys and bad values are errors naming the file, line and field.
#include <gtest/gtest.h>

#include "engine/config.h"
#include "engine/util.h"
#include "tests/test_util.h"

namespace chamber {
namespace {

using testing::error_of;

TEST(ConfigParsers, UnknownKeyNamesThePathAndLine) {
  YAML::Node root = YAML::Load("n_layer: 2\nn_haed: 4\n");
  std::string msg = error_of([&] { read_model_config(yaml_root(root, "m.yaml")); });
  EXPECT_NE(msg.find("m.yaml:2"), std::string::npos) << msg;
  EXPECT_NE(msg.find("n_haed"), std::string::npos) << msg;
  EXPECT_NE(msg.find("n_head"), std::string::npos) << msg;  // lists the known keys
}

TEST(ConfigParsers, WrongTypeNamesTheField) {
  YAML::Node root = YAML::Load("lr: fast\n");
  std::string msg = error_of([&] { read_optim_config(yaml_root(root, "o.yaml")); });
  EXPECT_NE(msg.find("'lr'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("number"), std::string::npos) << msg;
}

TEST(ConfigParsers, OutOfRangeValues) {
  EXPECT_THROW(read_optim_config(yaml_root(YAML::Load("lr: -1"), "o.yaml")), Error);
  EXPECT_THROW(read_optim_config(yaml_root(YAML::Load("beta2: 1.5"), "o.yaml")), Error);
  EXPECT_THROW(read_optim_config(yaml_root(YAML::Load("lr: 1e-3\nmin_lr: 1e-2"), "o.yaml")), Error);
  EXPECT_THROW(read_model_config(yaml_root(YAML::Load("n_embd: 10\nn_head: 3"), "m.yaml")), Error);
  EXPECT_THROW(read_model_config(yaml_root(YAML::Load("n_layer: 0"), "m.yaml")), Error);
}

TEST(ConfigParsers, NestedMapMustBeAMap) {
  YAML::Node root = YAML::Load("model: 3\n");
  YamlMap top = yaml_root(root, "x.yaml");
  EXPECT_THROW(top.sub("model"), Error);
}

TEST(ConfigParsers, OverridesParseAsYaml) {
  YAML::Node root = YAML::Load("train: {steps: 10}\n");
  yaml_apply_override(root, "train.steps=25");
  yaml_apply_override(root, "optim.lr=3e-4");
  yaml_apply_override(root, "model.tied_embeddings=false");
  EXPECT_EQ(root["train"]["steps"].as<int>(), 25);
  EXPECT_FLOAT_EQ(root["optim"]["lr"].as<float>(), 3e-4f);
  EXPECT_FALSE(root["model"]["tied_embeddings"].as<bool>());
  EXPECT_THROW(yaml_apply_override(root, "no_equals_sign"), Error);
  EXPECT_THROW(yaml_apply_override(root, "=3"), Error);
  EXPECT_THROW(yaml_apply_override(root, "train.steps.deeper=3"), Error);  // steps is a scalar
}

TEST(ConfigParsers, OverrideTypoIsCaughtLikeAFileTypo) {
  YAML::Node root = YAML::Load("n_layer: 2\n");
  yaml_apply_override(root, "n_layr=3");
  EXPECT_THROW(read_model_config(yaml_root(root, "m.yaml")), Error);
}

TEST(ConfigParsers, SyntaxErrorNamesFileAndLine) {
  std::string dir = testing::temp_dir("cfg");
  std::string path = dir + "/bad.yaml";
  write_file_atomic(path, "model:\n  n_layer: [1, 2\n");
  std::string msg = error_of([&] { yaml_load_file(path); });
  EXPECT_NE(msg.find("bad.yaml:"), std::string::npos) << msg;
  EXPECT_THROW(yaml_load_file(dir + "/missing.yaml"), Error);
}

TEST(ConfigParsers, ScheduleWarmsUpThenDecays) {
  OptimConfig o;
  o.lr = 1.0f;
  o.min_lr = 0.1f;
  o.warmup_steps = 10;
  EXPECT_NEAR(lr_schedule(o, 0, 100), 0.1f, 1e-6);
  EXPECT_NEAR(lr_schedule(o, 9, 100), 1.0f, 1e-6);
  EXPECT_NEAR(lr_schedule(o, 10, 100), 1.0f, 1e-6);
  EXPECT_NEAR(lr_schedule(o, 55, 100), 0.55f, 1e-5);
  EXPECT_NEAR(lr_schedule(o, 100, 100), 0.1f, 1e-6);
}

}  // namespace
}  // namespace chamber
