// Every YAML file shipped under configs/ loads with the strict reader of its kind (a data spec, a
// pretraining config, an RL config or an experiment), so a renamed key or a moved file breaks the
// build's tests, not a user's first run. The echo experiments also expand to the study's grid.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <set>

#include "data/dataset.h"
#include "util/util.h"
#include "util/yaml_schema.h"
#include "train/pretrain.h"
#include "train/rl.h"
#include "train/study/experiment.h"
#include "tests/test_util.h"

namespace chamber {
namespace {

std::vector<std::string> shipped_configs() {
  std::vector<std::string> files;
  for (const auto& e : std::filesystem::recursive_directory_iterator("configs"))
    if (e.is_regular_file() && e.path().extension() == ".yaml") files.push_back(e.path().string());
  std::sort(files.begin(), files.end());
  return files;
}

TEST(ShippedConfigs, EveryFileLoadsWithItsReader) {
  std::vector<std::string> files = shipped_configs();
  ASSERT_GT(files.size(), 20u);
  for (const std::string& file : files) {
    SCOPED_TRACE(file);
    YAML::Node root = yaml_load_file(file);
    try {
      if (root["sources"]) {
        EXPECT_FALSE(data_spec_load(file).sources.empty());
      } else if (root["algorithm"]) {
        // Shared RL settings for experiments name no `init`: the experiment supplies it.
        load_rl_config(file, root["init"] ? std::vector<std::string>{} : std::vector<std::string>{"init=runs/x"});
      } else if (root["pretrain"]) {
        EXPECT_FALSE(load_experiment(file, {}).runs.empty());
      } else if (root["model"]) {
        load_pretrain_config(file, {});
      } else {
        ADD_FAILURE() << "not a data spec, RL config, experiment or pretraining config";
      }
    } catch (const Error& e) {
      ADD_FAILURE() << e.what();
    }
  }
}

// The CPU-sized mixtures build (about a second each): their fixed pools fit the token budget and
// each source gets a share. The GPU-sized ones take ~15 s each and are only parsed above.
TEST(ShippedConfigs, CpuEchoMixturesBuild) {
  std::string dir = testing::temp_dir("echo_data");
  for (const char* mixture : {"tg-4x-omi1", "tg-8x-omi1", "tg-omi2"}) {
    std::string file = std::string("configs/echo/data/cpu-") + mixture + ".yaml";
    SCOPED_TRACE(file);
    DataSpec spec = data_spec_load(file);
    nlohmann::json manifest = dataset_build(spec, dir + "/" + mixture, false);
    EXPECT_EQ(manifest["sources"].size(), spec.sources.size());
  }
}

TEST(ShippedConfigs, EchoExperimentsCoverAlgorithmsKlAndScales) {
  for (const char* mixture : {"tg-omi1-omi2", "tg-4x-omi1", "tg-8x-omi1", "tg-omi2"})
    for (const char* size : {"cpu", "gpu"}) {
      std::string file = std::string("configs/echo/") + size + "/" + mixture + ".yaml";
      SCOPED_TRACE(file);
      ExperimentConfig exp = load_experiment(file, {});
      ASSERT_EQ(exp.runs.size(), 21u);   // (ppo, grpo) x 3 KL x 3 scales + ei x 3 scales
      std::set<std::string> algorithms, pretrainings;
      std::set<float> kls;
      for (const ExperimentRun& run : exp.runs) {
        algorithms.insert(rl_algorithm_name(run.rl.algorithm));
        pretrainings.insert(run.pretrain_hash);
        if (run.rl.algorithm != RLAlgorithm::ei) kls.insert(run.rl.kl_coef);
        // PPO's KL is the per-token reward penalty, GRPO's the k3 loss term, as in the paper.
        if (run.rl.algorithm == RLAlgorithm::ppo) {
          EXPECT_EQ(run.rl.kl_mode, KLMode::reward_k1);
        }
        if (run.rl.algorithm == RLAlgorithm::grpo) {
          EXPECT_EQ(run.rl.kl_mode, KLMode::loss_k3);
        }
      }
      EXPECT_EQ(algorithms, (std::set<std::string>{"ei", "grpo", "ppo"}));
      // The paper's coefficients on the GPU; on the CPU 0.001 acts like 0, so 0.1 replaces it.
      if (std::string(size) == "gpu") {
        EXPECT_EQ(kls, (std::set<float>{0.0f, 0.001f, 0.01f}));
      } else {
        EXPECT_EQ(kls, (std::set<float>{0.0f, 0.01f, 0.1f}));
      }
      EXPECT_EQ(pretrainings.size(), 3u);   // one per model scale, shared by its RL runs
    }
}

// The scale ladders (finding 4): every width over three seeds with GRPO, each width and seed its own
// pretraining at one token budget, the GPU ladder continuing the CPU one at GPT-2's head size.
TEST(ShippedConfigs, ScaleLaddersSweepWidthsOverThreeSeeds) {
  struct Ladder { const char* file; std::set<int> widths; };
  for (const Ladder& ladder : {Ladder{"configs/echo/cpu/scale.yaml", {64, 128, 192, 256}},
                               Ladder{"configs/echo/gpu/scale.yaml", {256, 384, 512, 768}}}) {
    SCOPED_TRACE(ladder.file);
    ExperimentConfig exp = load_experiment(ladder.file, {});
    ASSERT_EQ(exp.runs.size(), 12u);
    std::set<int> widths, seeds, steps;
    std::set<std::string> pretrainings;
    for (const ExperimentRun& run : exp.runs) {
      widths.insert(run.pretrain.model.n_embd);
      seeds.insert((int)run.pretrain.train.seed);
      steps.insert(run.pretrain.train.steps);
      pretrainings.insert(run.pretrain_hash);
      EXPECT_EQ(run.rl.algorithm, RLAlgorithm::grpo);
      EXPECT_LE(run.pretrain.model.n_embd / run.pretrain.model.n_head, 64);
    }
    EXPECT_EQ(widths, ladder.widths);
    EXPECT_EQ(seeds, (std::set<int>{1, 2, 3}));
    EXPECT_EQ(steps.size(), 1u);   // one token budget for every width
    EXPECT_EQ(pretrainings.size(), 12u);
  }
}

}  // namespace
}  // namespace chamber
