// The run plumbing shared by pretraining and RL: default run names, the run directory, the RNG
// state through JSON, which checkpoint a resume continues from, and state.json errors.
#include <gtest/gtest.h>

#include <filesystem>
#include <thread>
#include <vector>

#include "engine/checkpoint.h"
#include "tests/test_util.h"
#include "train/run_dir.h"
#include "util/util.h"

namespace chamber {
namespace {

using testing::contains;
using testing::error_of;

TEST(RunDir, NameFromTheConfigFile) {
  EXPECT_EQ(run_name_from_file("configs/rl-tiny-grpo.yaml"), "rl-tiny-grpo");
  EXPECT_EQ(run_name_from_file("tiny.yaml"), "tiny");
  EXPECT_EQ(run_name_from_file("a/b.c/d.e.yaml"), "d");
}

TEST(RunDir, RngRoundTripsThroughJson) {
  Rng rng(123);
  rng.next_u64();
  nlohmann::json j = rng_to_json(rng);
  ASSERT_TRUE(j.is_array());
  ASSERT_EQ(j.size(), 4u);
  EXPECT_TRUE(j[0].is_string());   // 64-bit words as text: a JSON number would round them
  Rng back(0);
  rng_from_json(j, back);
  for (int i = 0; i < 4; i++) EXPECT_EQ(back.s[i], rng.s[i]);
  EXPECT_EQ(back.next_u64(), rng.next_u64());
  EXPECT_ANY_THROW(rng_from_json(nlohmann::json::array({"1", "2", "3"}), back));
  EXPECT_ANY_THROW(rng_from_json(nlohmann::json::array({"1", "2", "3", "x"}), back));
  EXPECT_ANY_THROW(rng_from_json(nlohmann::json(5), back));
}

TEST(RunDir, OpensTheDirectoryAndFindsTheCheckpointToResume) {
  std::string dir = testing::temp_dir("run_dir") + "/out";
  EXPECT_EQ(open_run_dir(dir, "ignored", false, false), dir);
  EXPECT_TRUE(dir_exists(dir));
  const std::string root = path_join(dir, "checkpoints");
  EXPECT_EQ(resume_checkpoint(root, true), "");   // nothing to resume: a fresh start
  for (int step : {2, 4}) {   // what checkpoint_list looks for: step_* holding model.safetensors
    make_dirs(path_join(root, checkpoint_name(step)));
    write_file_atomic(path_join(path_join(root, checkpoint_name(step)), "model.safetensors"), "");
  }
  EXPECT_EQ(resume_checkpoint(root, false), "");
  EXPECT_EQ(checkpoint_step_of(resume_checkpoint(root, true)), 4);   // the newest
  // A run is there now: opening it again needs --resume or --overwrite.
  EXPECT_TRUE(contains(error_of([&] { open_run_dir(dir, "", false, false); }), "already holds a run"));
  EXPECT_EQ(open_run_dir(dir, "", true, false), dir);
}

// Writers racing on one file (an experiment's seeds run as side-by-side processes all write its
// experiment.yaml) each succeed, and the file ends as one whole version, with no temporary left.
TEST(RunDir, ConcurrentAtomicWritesOfOneFileAllSucceed) {
  const std::string dir = testing::temp_dir("atomic_race");
  const std::string path = path_join(dir, "experiment.yaml");
  std::vector<std::thread> writers;
  std::vector<std::string> errors(8);
  for (int w = 0; w < 8; w++)
    writers.emplace_back([&, w] {
      for (int i = 0; i < 20; i++) errors[w] += error_of([&] { write_file_atomic(path, std::string(1000, char('a' + w))); });
    });
  for (auto& t : writers) t.join();
  for (const std::string& e : errors) EXPECT_EQ(e, "");
  std::string text = read_file(path);
  ASSERT_EQ(text.size(), 1000u);
  EXPECT_EQ(text.find_first_not_of(text[0]), std::string::npos);
  int entries = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) entries += entry.is_regular_file();
  EXPECT_EQ(entries, 1);
}

TEST(RunDir, StateFieldErrorsNameTheFile) {
  nlohmann::json state = {{"step", 3}};
  std::string msg = error_of([&] { read_state_fields("runs/x/checkpoints/step_00000003", [&] {
                                     Rng rng;
                                     rng_from_json(state.at("rng"), rng);
                                   }); });
  EXPECT_TRUE(contains(msg, "runs/x/checkpoints/step_00000003/state.json: missing or invalid field")) << msg;
  EXPECT_TRUE(contains(msg, "rng")) << msg;
  EXPECT_EQ(error_of([&] { read_state_fields("d", [] {}); }), "");
}

}  // namespace
}  // namespace chamber
