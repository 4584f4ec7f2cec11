// Config reading: unknown keys and bad values are errors naming the file, line and field.
#include <gtest/gtest.h>

#include "engine/config.h"
#include "util/util.h"
#include "util/yaml.h"
#include "tests/test_util.h"

namespace chamber {
namespace {

using testing::contains;
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

// yaml-cpp keeps both entries of a repeated key and a lookup sees the first; a second document
// after `---` is dropped unread. Both are errors naming the file and the line.
TEST(ConfigParsers, RepeatedKeysAndSecondDocumentsAreErrors) {
  std::string msg = error_of([] { yaml_parse("n_layer: 2\nn_head: 4\nn_layer: 3\n", "m.yaml"); });
  EXPECT_TRUE(contains(msg, "m.yaml:3: the key 'n_layer' appears twice in one map (first on line 1)")) << msg;
  msg = error_of([] { yaml_parse("model:\n  n_layer: 2\n  n_layer: 3\n", "m.yaml"); });
  EXPECT_TRUE(contains(msg, "m.yaml:3: the key 'n_layer'")) << msg;
  msg = error_of([] { yaml_parse("sources: [{kind: text, kind: jsonl}]\n", "d.yaml"); });
  EXPECT_TRUE(contains(msg, "d.yaml:1: the key 'kind'")) << msg;
  msg = error_of([] { yaml_parse("n_layer: 2\n---\nn_layer: 3\n", "m.yaml"); });
  EXPECT_TRUE(contains(msg, "m.yaml:3: a second YAML document")) << msg;
  // The same key in two different maps, and an empty file, are fine.
  EXPECT_EQ(error_of([] { yaml_parse("a: {x: 1}\nb: {x: 2}\n", "ok.yaml"); }), "");
  EXPECT_TRUE(yaml_parse("", "empty.yaml").IsNull());
  EXPECT_TRUE(yaml_parse("# only a comment\n", "empty.yaml").IsNull());
}

// Nine anchors, each listing the previous one nine times: under 1 KB of text, 387 million nodes
// to anything that walks it. Refused at parse time, before anything walks it.
std::string alias_bomb(int levels) {
  std::string text = "l0: &l0 [a, b, c, d, e, f, g, h, i]\n";
  for (int l = 1; l < levels; l++) {
    std::string name = std::to_string(l), previous = std::to_string(l - 1);
    text.append("l").append(name).append(": &l").append(name).append(" [*l").append(previous);
    for (int k = 1; k < 9; k++) text.append(", *l").append(previous);
    text.append("]\n");
  }
  return text;
}

TEST(ConfigParsers, AliasBombIsRefused) {
  std::string msg = error_of([] { yaml_parse(alias_bomb(9), "bomb.yaml"); });
  EXPECT_TRUE(contains(msg, "bomb.yaml: more than 100000 YAML nodes once aliases")) << msg;
  YAML::Node root(YAML::NodeType::Map);
  std::string assignment = "sweep=";
  assignment += alias_bomb(9);
  msg = error_of([&] { yaml_apply_override(root, assignment); });
  EXPECT_TRUE(contains(msg, "--set 'sweep=l0: &l0 [a, b, c, d, e, f, g, h, i]...': more than 100000 YAML nodes")) << msg;
  // A few aliases are fine: the limit is on the expanded size.
  EXPECT_EQ(error_of([] { yaml_parse(alias_bomb(4), "small.yaml"); }), "");   // 9^3 = 729 leaves
}

// `--set` values are parsed with the same limits, and messages about them say where they came
// from instead of pointing at line 1 of the file they were applied to.
TEST(ConfigParsers, SetValuesAreCheckedAndNamedAsSet) {
  YAML::Node root = yaml_parse("n_layer: 2\nn_head: 2\n", "m.yaml");
  yaml_apply_override(root, "n_layer=0");
  std::string msg = error_of([&] { read_model_config(yaml_root(root, "m.yaml")); });
  EXPECT_TRUE(contains(msg, "m.yaml (from --set): 'n_layer' must be in [1, 256], got 0")) << msg;
  root = yaml_parse("n_layer: 2\n", "m.yaml");
  yaml_apply_override(root, "n_layr=3");
  msg = error_of([&] { read_model_config(yaml_root(root, "m.yaml")); });
  EXPECT_TRUE(contains(msg, "m.yaml (from --set): 'n_layr' is not a known setting")) << msg;
  // A value written in the file still names its line.
  root = yaml_parse("n_head: 2\nn_layer: 0\n", "m.yaml");
  yaml_apply_override(root, "n_head=4");
  msg = error_of([&] { read_model_config(yaml_root(root, "m.yaml")); });
  EXPECT_TRUE(contains(msg, "m.yaml:2: 'n_layer'")) << msg;
  // The value's own YAML: a second document, a repeated key, a bomb.
  msg = error_of([&] { yaml_apply_override(root, "model={a: 1, a: 2}"); });
  EXPECT_TRUE(contains(msg, "--set 'model={a: 1, a: 2}':1: the key 'a' appears twice")) << msg;
  EXPECT_THROW(yaml_apply_override(root, "a=" + std::string("x\n---\ny")), Error);
}

// A config file whose top level is not a map is an error naming the file, also with --set
// overrides (yaml-cpp would throw "operator[] call on a scalar").
TEST(ConfigParsers, TopLevelThatIsNotAMap) {
  std::string dir = testing::temp_dir("cfg_scalar");
  for (const char* text : {"hello\n", "[1, 2]\n", "42\n"}) {
    write_file_atomic(dir + "/s.yaml", text);
    std::string msg = error_of([&] { yaml_load_config(dir + "/s.yaml", {"train.steps=3"}); });
    EXPECT_TRUE(contains(msg, dir + "/s.yaml: the top level must be a map of settings")) << text << msg;
    YAML::Node root = yaml_parse(text, "s.yaml");
    msg = error_of([&] { yaml_apply_override(root, "train.steps=3"); });
    EXPECT_TRUE(contains(msg, "the config's top level is not a map of settings")) << text << msg;
  }
  write_file_atomic(dir + "/empty.yaml", "");
  EXPECT_EQ(yaml_load_config(dir + "/empty.yaml", {"train.steps=3"})["train"]["steps"].as<int>(), 3);
}

// An integer field holding a number out of range says the range, not "must be an integer".
TEST(ConfigParsers, IntegersOutOfRangeSayTheRange) {
  auto model_error = [](const std::string& yaml) {
    return error_of([&] { read_model_config(yaml_root(yaml_parse(yaml, "m.yaml"), "m.yaml")); });
  };
  EXPECT_TRUE(contains(model_error("n_layer: 99999999999"), "'n_layer' must be in [1, 256], got 1e+11"))
      << model_error("n_layer: 99999999999");
  EXPECT_TRUE(contains(model_error("n_layer: 1e10"), "'n_layer' must be in [1, 256], got 1e+10"));
  EXPECT_TRUE(contains(model_error("n_layer: -3"), "'n_layer' must be in [1, 256], got -3"));
  EXPECT_TRUE(contains(model_error("n_layer: 1.5"), "'n_layer' must be a whole number, got '1.5'"));
  EXPECT_TRUE(contains(model_error("n_layer: 2e0"), "'n_layer' must be written as a plain integer"));
  EXPECT_TRUE(contains(model_error("n_layer: two"), "'n_layer' must be an integer, got 'two'"));
  EXPECT_TRUE(contains(model_error("n_layer: .nan"), "'n_layer' must be in [1, 256], got nan"));
  auto optim_error = [](const std::string& yaml) {
    return error_of([&] { read_optim_config(yaml_root(yaml_parse(yaml, "o.yaml"), "o.yaml")); });
  };
  EXPECT_TRUE(contains(optim_error("warmup_steps: 3000000000"), "'warmup_steps' must be in [0, 1e+09], got 3e+09"));
  EXPECT_TRUE(contains(optim_error("lr: .nan"), "'lr' must be in [0, 10], got nan"));
  EXPECT_TRUE(contains(optim_error("lr: .inf"), "'lr' must be in [0, 10], got inf"));
}

// Copy on write: yaml_set_path on a yaml_copy_map leaves the original as it was and keeps every
// value's line, which YAML::Clone does not (it puts each node on line 1).
TEST(ConfigParsers, CopiesShareNodesAndKeepLines) {
  YAML::Node original = yaml_parse("train:\n  steps: 5\n  seed: 1\nname: a\n", "c.yaml");
  YAML::Node copy = yaml_copy_map(original);
  yaml_set_path(copy, "train.steps", YAML::Node(7), "test");
  yaml_set_path(copy, "name", YAML::Node("b"), "test");
  yaml_set_path(copy, "optim.lr", YAML::Node(0.1), "test");
  EXPECT_EQ(original["train"]["steps"].as<int>(), 5);
  EXPECT_EQ(original["name"].as<std::string>(), "a");
  EXPECT_FALSE(original["optim"]);
  EXPECT_EQ(copy["train"]["steps"].as<int>(), 7);
  EXPECT_EQ(copy["name"].as<std::string>(), "b");
  EXPECT_EQ(copy["train"]["seed"].Mark().line, 2);   // shared with the original, line 3
  EXPECT_THROW(yaml_set_path(copy, "name.first", YAML::Node(1), "test"), Error);   // name is a scalar
}

// Devices never end (/dev/zero would fill the memory) and directories are not files: both are
// errors naming the path, wherever a file is read (configs, data, predictions, tokenizer input).
TEST(ConfigParsers, DevicesAndDirectoriesAreNotFiles) {
  EXPECT_TRUE(contains(error_of([] { read_file("/dev/zero"); }), "cannot read '/dev/zero': it is a device, not a file"));
  EXPECT_TRUE(contains(error_of([] { yaml_load_file("/dev/zero"); }), "it is a device"));
  std::string dir = testing::temp_dir("cfg_dir");
  EXPECT_TRUE(contains(error_of([&] { read_file(dir); }), "it is a directory, not a file"));
  EXPECT_TRUE(contains(error_of([&] { read_file(dir + "/missing"); }), "No such file"));
  write_file_atomic(dir + "/f", std::string("a\0b", 3));
  EXPECT_EQ(read_file(dir + "/f"), std::string("a\0b", 3));
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
