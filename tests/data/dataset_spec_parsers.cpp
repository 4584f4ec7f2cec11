// Data specs with values no build can use: each is an error naming the file, the line, the field
// and its range, before any data is generated, instead of a build that exits 0 with shards
// pretraining cannot open, or one that ends in an allocation failure.
#include <gtest/gtest.h>

#include "data/dataset.h"
#include "util/util.h"
#include "util/yaml.h"
#include "util/yaml_schema.h"
#include "tests/test_util.h"

namespace chamber {
namespace {

using testing::contains;
using testing::error_of;

std::string spec_error(const std::string& yaml) {
  return error_of([&] { data_spec_from_yaml(yaml_parse(yaml, "spec.yaml"), "spec.yaml"); });
}

// One synthetic source with `fields` added, plus a weighted one so `tokens` applies.
std::string with_source(const std::string& fields, const std::string& top = "tokens: 20000\n") {
  return top + "sources:\n  - {kind: synthetic, style: omi1, split: train, " + fields +
         "}\n  - {kind: synthetic, style: omi2, split: train, weight: 1}\n";
}

TEST(DataSpecParsers, ValuesOutOfRangeNameTheFieldAndRange) {
  struct Case {
    std::string yaml, expected;
  };
  const Case cases[] = {
      {with_source("weight: .inf"), "spec.yaml:3: 'weight' must be a number in (0, 1e+09]"},
      {with_source("weight: .nan"), "spec.yaml:3: 'weight' must be a number in (0, 1e+09]"},
      {with_source("weight: 0"), "spec.yaml:3: 'weight' must be a number in (0, 1e+09]"},
      {with_source("weight: -1"), "spec.yaml:3: 'weight' must be a number in (0, 1e+09]"},
      {with_source("count: 50, repeat: .nan"), "spec.yaml:3: 'repeat' must be a number in (0, 1e+06]"},
      {with_source("count: 50, repeat: .inf"), "spec.yaml:3: 'repeat' must be a number in (0, 1e+06]"},
      {with_source("count: 50, repeat: 1e9"), "spec.yaml:3: 'repeat' must be a number in (0, 1e+06]"},
      {with_source("count: 1e12, repeat: 1"), "spec.yaml:3: 'count' must be an integer from 0 to 10000000"},
      {with_source("count: 1000000000000, repeat: 1"), "'count' must be an integer from 0 to 10000000"},
      {with_source("count: 99999999999999999999999, repeat: 1"), "'count' must be an integer from 0 to 10000000"},
      // A negative count says so, not "'repeat' needs 'count'".
      {with_source("count: -5, repeat: 1"), "spec.yaml:3: 'count' must be an integer from 0 to 10000000 "
                                            "(problems in the pool; 0 = as many as the weight needs), got '-5'"},
      {with_source("weight: 1", "tokens: 1e15\n"), "spec.yaml:1: 'tokens' must be an integer from 1 to 2000000000"},
      {with_source("weight: 1", "tokens: 1000000000000000\n"), "'tokens' must be an integer from 1 to 2000000000"},
      {with_source("weight: 1", "tokens: 0\n"), "'tokens' must be an integer from 1 to 2000000000"},
      {with_source("weight: 1", "tokens: 20000\nval_fraction: 0\n"), "spec.yaml:2: 'val_fraction' must be a number in (0, 0.5)"},
      {with_source("weight: 1", "tokens: 20000\nval_fraction: .nan\n"), "'val_fraction' must be a number in (0, 0.5)"},
      {with_source("weight: 1", "tokens: 20000\nval_fraction: 0.5\n"), "'val_fraction' must be a number in (0, 0.5)"},
      {with_source("weight: 1", "tokens: 20000\nshard_tokens: 10\n"), "'shard_tokens' must be an integer from 1024"},
      {with_source("weight: 1", "tokens: 20000\ntokenizer: {vocab_size: 1e12}\n"),
       "spec.yaml:2: 'vocab_size' must be an integer from 257 to 65536"},
      {with_source("weight: 1", "tokens: 20000\ntokenizer: {sample_bytes: 1000000000000000}\n"),
       "'sample_bytes' must be an integer from 1000 to 1000000000"},
  };
  for (const Case& c : cases) {
    std::string msg = spec_error(c.yaml);
    EXPECT_TRUE(contains(msg, c.expected)) << c.yaml << "\n" << msg;
  }
  EXPECT_EQ(spec_error(with_source("count: 50, repeat: 2.5")), "");
  EXPECT_EQ(spec_error(with_source("weight: 0.5")), "");
  EXPECT_EQ(spec_error(with_source("count: 0, weight: 1")), "");   // 0 = as many as the weight needs
}

// Values from --set carry no position; the message says so instead of pointing at line 1.
TEST(DataSpecParsers, SetValuesSayTheyComeFromSet) {
  YAML::Node root = yaml_parse(with_source("weight: 1"), "spec.yaml");
  yaml_apply_override(root, "tokens=-3");
  std::string msg = error_of([&] { data_spec_from_yaml(root, "spec.yaml"); });
  EXPECT_TRUE(contains(msg, "spec.yaml (from --set): 'tokens' must be an integer from 1")) << msg;
}

// A mixture too small to give both splits a document is refused when built, naming the spec.
TEST(DataSpecParsers, MixtureTooSmallToSplitIsAnError) {
  std::string dir = testing::temp_dir("spec_small");
  DataSpec spec = data_spec_from_yaml(
      yaml_parse("tokens: 1\ntokenizer: {vocab_size: 300, sample_bytes: 5000}\n"
                 "sources: [{kind: synthetic, style: omi2, split: train, weight: 1}]\n", "small.yaml"),
      "small.yaml");
  std::string msg = error_of([&] { dataset_build(spec, dir + "/out", false); });
  EXPECT_TRUE(contains(msg, "small.yaml: the mixture holds")) << msg;
  EXPECT_TRUE(contains(msg, "raise 'tokens'")) << msg;
  EXPECT_FALSE(file_exists(dir + "/out/manifest.json"));
}

// `repeat` times a pool's tokens is checked before the pool is laid out in memory.
TEST(DataSpecParsers, RepeatsPastTheTokenLimitAreAnError) {
  std::string dir = testing::temp_dir("spec_repeat");
  DataSpec spec = data_spec_from_yaml(
      yaml_parse("tokenizer: {vocab_size: 300, sample_bytes: 5000}\n"
                 "sources: [{kind: synthetic, style: omi1, split: train, count: 200, repeat: 1000000}]\n", "r.yaml"),
      "r.yaml");
  std::string msg = error_of([&] { dataset_build(spec, dir + "/out", false); });
  EXPECT_TRUE(contains(msg, "r.yaml:2: source 'omi1' repeats its")) << msg;
  EXPECT_TRUE(contains(msg, "lower its 'repeat' or 'count'")) << msg;
}

}  // namespace
}  // namespace chamber
