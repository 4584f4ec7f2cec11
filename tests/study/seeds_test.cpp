// Seeds as an axis of an experiment: the seed keys' schema (seed, pretrain_seed, rl_seed: one
// integer or a list, strict errors with file and line), which settings each seed reaches, runs
// grouped by everything but their seeds, and the bootstrap behind the report's intervals: exact
// where it can be, reproducible, and covering a known mean at about its stated 95% (fixed
// generator seeds, so these numbers are the same on every run and cannot flake).
#include <gtest/gtest.h>

#include <cmath>

#include "tests/test_util.h"
#include "train/study/bootstrap.h"
#include "train/study/experiment.h"
#include "train/study/report.h"
#include "util/util.h"
#include "util/yaml.h"

namespace chamber {
namespace {

using testing::contains;

// An experiment with pretraining (train: on line 5), RL and evaluation; `extra` is appended.
std::string experiment(const std::string& extra) {
  return "name: seeds\n"
         "pretrain:\n"
         "  model: {n_layer: 1, n_head: 2, n_embd: 16, context_length: 32}\n"
         "  data: {seed: 9, tokenizer: {vocab_size: 300}, sources: [{kind: synthetic, style: tinygsm, split: train, count: 50}]}\n"
         "  train: {steps: 5, seq_len: 32, batch_size: 2}\n"
         "rl: {algorithm: grpo, train: {steps: 4}}\n"
         "eval: {sets: [synthetic:test], count: 4, n_samples: 2, k: [1, 2]}\n" +
         extra;
}

ExperimentConfig parse(const std::string& text) { return parse_experiment(yaml_parse(text, "exp.yaml"), "exp.yaml"); }

std::string error_of(const std::string& text) {
  return testing::error_of([&] { parse(text); });
}

TEST(SeedSchema, SeedListIsTheLastAxisOfEveryGrid) {
  ExperimentConfig exp = parse(experiment("seed: [1, 2, 3]\nsweep: {rl.algorithm: [ppo, grpo]}\n"));
  ASSERT_EQ(exp.runs.size(), 6u);
  EXPECT_EQ(exp.runs[0].id, "algorithm-ppo__seed-1");   // seeds vary fastest: a group's runs sit together
  EXPECT_EQ(exp.runs[2].id, "algorithm-ppo__seed-3");
  EXPECT_EQ(exp.runs[3].id, "algorithm-grpo__seed-1");
  ASSERT_EQ(exp.axes.size(), 2u);
  EXPECT_EQ(exp.axes[1].key, "seed");
  for (int i = 0; i < 6; i++) {
    const ExperimentRun& run = exp.runs[(size_t)i];
    int64_t seed = 1 + i % 3;
    SCOPED_TRACE(run.id);
    EXPECT_EQ(run.axes.at("seed"), std::to_string(seed));
    EXPECT_EQ(run.pretrain.train.seed, seed);                   // initialisation
    EXPECT_EQ(run.pretrain.data["seed"].as<int64_t>(), seed);   // data order (over the spec's 9)
    EXPECT_EQ(run.rl.seed, seed);
    EXPECT_EQ(run.eval.seed, seed);
  }
  // Each seed its own pretraining, shared by the algorithms.
  EXPECT_NE(exp.runs[0].pretrain_hash, exp.runs[1].pretrain_hash);
  EXPECT_EQ(exp.runs[0].pretrain_hash, exp.runs[3].pretrain_hash);
  // Without a sweep the seeds are the only axis; a list of grids gets it in each.
  EXPECT_EQ(parse(experiment("seed: [4, 5]\n")).runs[1].id, "seed-5");
  ExperimentConfig grids = parse(experiment("seed: [1, 2]\nsweep: [{rl.algorithm: [ppo]}, {rl.algorithm: [ei]}]\n"));
  ASSERT_EQ(grids.runs.size(), 4u);
  EXPECT_EQ(grids.runs[3].id, "algorithm-ei__seed-2");
  // The same seeds swept under `sweep:` give the same runs.
  ExperimentConfig swept = parse(experiment("sweep: {rl.algorithm: [ppo, grpo], seed: [1, 2, 3]}\n"));
  ASSERT_EQ(swept.runs.size(), 6u);
  for (size_t i = 0; i < 6; i++) EXPECT_EQ(swept.runs[i].rl_hash, exp.runs[i].rl_hash);
}

TEST(SeedSchema, OneSeedOrSeparateStageSeeds) {
  ExperimentConfig one = parse(experiment("seed: 7\n"));
  ASSERT_EQ(one.runs.size(), 1u);
  EXPECT_EQ(one.runs[0].id, "main");
  EXPECT_EQ(one.runs[0].pretrain.train.seed, 7);
  EXPECT_EQ(one.runs[0].rl.seed, 7);
  // A single seed is overridden by a swept one, like any other key.
  ExperimentConfig overridden = parse(experiment("seed: 7\nsweep: {seed: [1, 2]}\n"));
  ASSERT_EQ(overridden.runs.size(), 2u);
  EXPECT_EQ(overridden.runs[1].pretrain.train.seed, 2);

  ExperimentConfig split = parse(experiment("pretrain_seed: [1, 2]\nrl_seed: [5, 6]\n"));
  ASSERT_EQ(split.runs.size(), 4u);
  EXPECT_EQ(split.runs[1].id, "pretrain_seed-1__rl_seed-6");
  EXPECT_EQ(split.runs[1].pretrain.train.seed, 1);
  EXPECT_EQ(split.runs[1].pretrain.data["seed"].as<int64_t>(), 1);
  EXPECT_EQ(split.runs[1].rl.seed, 6);
  EXPECT_EQ(split.runs[1].eval.seed, 1);   // the eval config's own: rl_seed leaves evaluation alone
  // RL seeds share the pretraining (and its evaluation); pretraining seeds do not.
  EXPECT_EQ(split.runs[0].pretrain_hash, split.runs[1].pretrain_hash);
  EXPECT_NE(split.runs[0].pretrain_hash, split.runs[2].pretrain_hash);
  EXPECT_NE(split.runs[0].rl_hash, split.runs[1].rl_hash);
}

TEST(SeedSchema, DataSpecGivenByPathGetsTheSeed) {
  // configs/data/tiny_mix.yaml (tests run from the repository root) is read and its seed set.
  std::string text = experiment("seed: [3]\n");
  size_t at = text.find("  data: {");
  text.replace(at, text.find('\n', at) - at, "  data: configs/data/tiny_mix.yaml");
  ExperimentConfig exp = parse(text);
  EXPECT_EQ(exp.runs[0].pretrain.data["seed"].as<int64_t>(), 3);
  EXPECT_TRUE(exp.runs[0].pretrain.data["sources"].IsSequence());
}

TEST(SeedSchema, BadSeedsAreErrorsWithLineAndFix) {
  auto says = [](const std::string& extra, const std::string& expected) {
    std::string msg = error_of(experiment(extra));
    EXPECT_TRUE(contains(msg, expected)) << extra << "\n-> " << msg;
  };
  says("seed: [1, 1]\n", "exp.yaml:8: 'seed' lists the seed 1 twice");
  says("seed: [1, x]\n", "exp.yaml:8: 'seed' must be a non-negative integer or a list of them, e.g. seed: [1, 2, 3]; got 'x'");
  says("seed: -1\n", "'seed' must be a non-negative integer");
  says("rl_seed: 1.5\n", "exp.yaml:8: 'rl_seed' must be a non-negative integer");
  says("pretrain_seed: {a: 1}\n", "'pretrain_seed' must be a non-negative integer");
  says("seed: []\n", "exp.yaml:8: 'seed' is an empty list; give at least one seed");
  says("seeds: [1, 2]\n", "exp.yaml:8: 'seeds' is not a known setting");
  says("seed: 1\nrl_seed: [1, 2]\n", "'seed' sets the pretraining and RL seeds together; give either seed, or pretrain_seed");
  says("seed: [1, 2]\nsweep: {seed: [3]}\n", "'seed' is listed at the top level and in 'sweep'; list its seeds in one place");
  says("sweep: {seed: [1], pretrain_seed: [2]}\n", "give either seed, or pretrain_seed");
  says("seed: [1, 2]\nsweep: {pretrain.train.seed: [3, 4]}\n",
       "sweep key 'pretrain.train.seed' is also set by the experiment's seed key");
  says("rl_seed: [1, 2]\nsweep: {rl.train.seed: [3]}\n", "sweep key 'rl.train.seed' is also set");
  says("sweep: {seeds: [1, 2]}\n", "must start with pretrain., rl. or eval., or be seed, pretrain_seed or rl_seed");
  std::string no_rl = experiment("sweep: {rl_seed: [1, 2]}\n");
  no_rl.erase(no_rl.find("rl: {"), no_rl.find("eval:") - no_rl.find("rl: {"));
  EXPECT_TRUE(contains(error_of(no_rl), "'rl_seed' is given but the experiment has no 'rl' section")) << error_of(no_rl);
}

// ---- grouping ----

ReportRun run_with(const std::string& id, std::map<std::string, std::string> axes) {
  ReportRun r;
  r.id = id;
  r.axes = std::move(axes);
  return r;
}

TEST(SeedGroups, RunsThatDifferOnlyBySeedFormAGroup) {
  EXPECT_TRUE(is_seed_axis("seed"));
  EXPECT_TRUE(is_seed_axis("pretrain_seed"));
  EXPECT_TRUE(is_seed_axis("rl_seed"));
  EXPECT_TRUE(is_seed_axis("pretrain.train.seed"));
  EXPECT_TRUE(is_seed_axis("rl.train.seed"));
  EXPECT_FALSE(is_seed_axis("eval.problem_seed"));   // which problems: the task, not randomness of a run
  EXPECT_FALSE(is_seed_axis("rl.algorithm"));
  EXPECT_FALSE(is_seed_axis("seedless"));

  std::vector<ReportRun> runs;
  for (const char* algo : {"grpo", "ppo"})
    for (const char* pre : {"1", "2"})
      for (const char* rl : {"1", "2", "3"})
        runs.push_back(run_with(std::string(algo) + pre + rl, {{"rl.algorithm", algo}, {"pretrain_seed", pre}, {"rl_seed", rl}}));
  runs.push_back(run_with("ei", {{"rl.algorithm", "ei"}}));   // a grid without seeds
  std::vector<SeedGroup> groups = report_seed_groups(runs);
  ASSERT_EQ(groups.size(), 3u);
  EXPECT_EQ(groups[0].label, "rl.algorithm = grpo");
  EXPECT_EQ(groups[0].runs, (std::vector<size_t>{0, 1, 2, 3, 4, 5}));
  EXPECT_EQ(groups[1].runs.size(), 6u);
  EXPECT_EQ(groups[1].axes, (std::map<std::string, std::string>{{"rl.algorithm", "ppo"}}));
  EXPECT_EQ(groups[2].runs, (std::vector<size_t>{12}));
  // Only seeds swept: one group of every run; no axes at all: one group per run is not made.
  EXPECT_EQ(report_seed_groups({run_with("a", {{"seed", "1"}}), run_with("b", {{"seed", "2"}})}).size(), 1u);
  EXPECT_EQ(report_seed_groups({run_with("a", {{"seed", "1"}})})[0].label, "all runs");
  // Other axes keep runs apart even when they share a seed.
  EXPECT_EQ(report_seed_groups({run_with("a", {{"seed", "1"}, {"rl.kl", "0"}}), run_with("b", {{"seed", "1"}, {"rl.kl", "1"}})}).size(), 2u);
}

// ---- the bootstrap ----

SeedResult bernoulli_seed(Rng& rng, double p, int problems) {
  SeedResult r;
  for (int i = 0; i < problems; i++) {
    r.numerator.push_back(rng.uniform_double() < p ? 1.0 : 0.0);
    r.denominator.push_back(1.0);
  }
  r.score = seed_score(r);
  return r;
}

TEST(Bootstrap, MeansRatiosAndWhatHasNoInterval) {
  SeedResult ratio{NAN, {1, 2, 0}, {2, 2, 1}};
  EXPECT_DOUBLE_EQ(seed_score(ratio), 3.0 / 5.0);    // pooled, not the mean of 0.5, 1, 0
  EXPECT_DOUBLE_EQ(seed_score(SeedResult{0.25, {}, {}}), 0.25);
  EXPECT_DOUBLE_EQ(seed_score(SeedResult{0.0, {0, 0}, {0, 0}}), 0.0);   // 0/0: the reported number
  // No seed has the metric: nothing. One seed without problems: its value, no interval.
  Interval none = bootstrap_interval({SeedResult{}, SeedResult{}});
  EXPECT_TRUE(std::isnan(none.mean));
  EXPECT_EQ(none.seeds, 0);
  Interval one = bootstrap_interval({SeedResult{0.5, {}, {}}, SeedResult{}});
  EXPECT_DOUBLE_EQ(one.mean, 0.5);
  EXPECT_TRUE(std::isnan(one.lo));
  EXPECT_EQ(one.seeds, 1);
  EXPECT_EQ(interval_text(one), "0.500");
  // Identical seeds and problems: a zero-width interval at the value.
  Interval flat = bootstrap_interval({SeedResult{NAN, {1, 1}, {1, 1}}, SeedResult{NAN, {1, 1}, {1, 1}}});
  EXPECT_DOUBLE_EQ(flat.lo, 1.0);
  EXPECT_DOUBLE_EQ(flat.hi, 1.0);
  // Seeds only: the interval lies within the seeds' range and around the mean.
  Interval seeds = bootstrap_interval({SeedResult{0.6, {}, {}}, SeedResult{0.7, {}, {}}, SeedResult{0.8, {}, {}}});
  EXPECT_NEAR(seeds.mean, 0.7, 1e-12);
  EXPECT_GE(seeds.lo, 0.6);
  EXPECT_LE(seeds.hi, 0.8 + 1e-12);
  EXPECT_LT(seeds.lo, seeds.mean);
  EXPECT_GT(seeds.hi, seeds.mean);
  EXPECT_EQ(seeds.seeds, 3);
  EXPECT_EQ(interval_text(seeds).substr(0, 6), "0.700 ");
  // Reproducible: the generator's seed is fixed.
  Interval again = bootstrap_interval({SeedResult{0.6, {}, {}}, SeedResult{0.7, {}, {}}, SeedResult{0.8, {}, {}}});
  EXPECT_EQ(again.lo, seeds.lo);
  EXPECT_EQ(again.hi, seeds.hi);
  // Groups: the mean of group means, whatever each group's size.
  Interval groups = bootstrap_interval_of_groups({{SeedResult{1.0, {}, {}}}, {SeedResult{0.0, {}, {}}, SeedResult{0.0, {}, {}}, SeedResult{0.0, {}, {}}}});
  EXPECT_DOUBLE_EQ(groups.mean, 0.5);
  EXPECT_EQ(groups.seeds, 4);
}

// One seed of n Bernoulli(p) problems, 1000 times: the 95% interval should hold p about 95% of the
// time (measured: 95.4% with these generator seeds; the bounds are about three binomial standard
// deviations, 0.007, either side of 95%).
TEST(Bootstrap, CoversABernoulliMeanAtAboutItsLevel) {
  const double p = 0.3;
  const int repetitions = 1000, problems = 100;
  Rng data_rng(12345);
  int covered = 0;
  double width = 0;
  for (int rep = 0; rep < repetitions; rep++) {
    Interval iv = bootstrap_interval({bernoulli_seed(data_rng, p, problems)}, 1000, 1000 + (uint64_t)rep);
    covered += iv.lo <= p && p <= iv.hi;
    width += (iv.hi - iv.lo) / repetitions;
  }
  double coverage = (double)covered / repetitions;
  EXPECT_GE(coverage, 0.93) << "coverage " << coverage;
  EXPECT_LE(coverage, 0.97) << "coverage " << coverage;
  // About 2 x 1.96 x sqrt(p (1 - p) / n) = 0.18 wide.
  EXPECT_NEAR(width, 2 * 1.96 * std::sqrt(p * (1 - p) / problems), 0.02);
}

// Seeds differ (each seed's own success rate, uniform in [0.2, 0.6]) and problems are drawn within
// each: the two-level resample should cover the mean over seeds, 0.4, at about 95% (measured:
// 96.6%; resampling problems within resampled seeds counts the problem noise twice, so it errs a
// little wide, which the upper bound allows).
TEST(Bootstrap, CoversATwoLevelMeanAtAboutItsLevel) {
  const int repetitions = 1000, seeds = 10, problems = 30;
  Rng data_rng(777);
  int covered = 0;
  for (int rep = 0; rep < repetitions; rep++) {
    std::vector<SeedResult> results;
    for (int s = 0; s < seeds; s++) results.push_back(bernoulli_seed(data_rng, 0.2 + 0.4 * data_rng.uniform_double(), problems));
    Interval iv = bootstrap_interval(results, 500, 5000 + (uint64_t)rep);
    covered += iv.lo <= 0.4 && 0.4 <= iv.hi;
  }
  double coverage = (double)covered / repetitions;
  EXPECT_GE(coverage, 0.93) << "coverage " << coverage;
  EXPECT_LE(coverage, 0.985) << "coverage " << coverage;
}

}  // namespace
}  // namespace chamber
