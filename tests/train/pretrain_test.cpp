// The pretraining loop end to end on a small text corpus: loss falls, checkpoints and metrics are
// written, a resumed run reproduces the uninterrupted loss curve bit for bit, NaN stops the run.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <set>
#include <sstream>

#include "data/shards.h"
#include "engine/checkpoint.h"
#include "engine/safetensors.h"
#include "util/util.h"
#include "tests/test_util.h"
#include "tests/train/small_pretrain.h"
#include "train/metrics.h"
#include "train/pretrain.h"

namespace chamber {
namespace {

using testing::contains;
using testing::error_of;

std::string write_corpus(const std::string& dir) { return testing::write_small_corpus(dir); }

PretrainConfig small_config(const std::string& corpus, int steps) {
  return testing::small_pretrain_config(corpus, steps,
                                        "eval_interval: 4, eval_batches: 2, checkpoint_interval: 3, "
                                        "keep_checkpoints: 0, log_interval: 100, device: cpu-ref");
}

PretrainOptions quiet(const std::string& out, bool resume = false) {
  PretrainOptions o;
  o.out_dir = out;
  o.resume = resume;
  o.quiet = true;
  return o;
}

TEST(Pretrain, LossFallsAndArtifactsAreWritten) {
  std::string dir = testing::temp_dir("pretrain");
  std::string corpus = write_corpus(dir);
  std::string ckpt = run_pretrain(small_config(corpus, 40), quiet(dir + "/run"));
  auto lines = metrics_read(dir + "/run/metrics.jsonl");
  ASSERT_GE(lines.size(), 41u);
  double first_val = lines.front()["val_loss"], last_val = lines.back()["val_loss"];
  EXPECT_LT(last_val, 0.7 * first_val);
  for (const char* key : {"step", "loss", "lr", "grad_norm", "tokens_per_s"}) EXPECT_TRUE(lines[1].contains(key)) << key;
  for (const char* f : {"model.safetensors", "optimizer.safetensors", "state.json", "config.yaml", "tokenizer.json"})
    EXPECT_TRUE(file_exists(ckpt + "/" + f)) << f;
  EXPECT_EQ(checkpoint_state(ckpt)["step"], 40);
}

TEST(Pretrain, ResumeReproducesTheLossCurveExactly) {
  std::string dir = testing::temp_dir("resume");
  std::string corpus = write_corpus(dir);
  run_pretrain(small_config(corpus, 10), quiet(dir + "/full"));
  // An interrupted run: the same run with its newest checkpoints lost (as if killed after step 3
  // was saved) and a torn last metrics line, then --resume.
  run_pretrain(small_config(corpus, 10), quiet(dir + "/cut"));
  for (const auto& d : checkpoint_list(dir + "/cut/checkpoints"))
    if (d.find("step_00000003") == std::string::npos) remove_all(d);
  std::string metrics = read_file(dir + "/cut/metrics.jsonl");
  write_file_atomic(dir + "/cut/metrics.jsonl", metrics.substr(0, metrics.size() / 2 + 7));
  run_pretrain(small_config(corpus, 10), quiet(dir + "/cut", true));
  auto a = metrics_read(dir + "/full/metrics.jsonl"), b = metrics_read(dir + "/cut/metrics.jsonl");
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); i++) {
    EXPECT_EQ(a[i]["step"], b[i]["step"]);
    for (const char* key : {"loss", "val_loss", "grad_norm", "lr"})
      if (a[i].contains(key)) {
        EXPECT_EQ(a[i][key].get<double>(), b[i][key].get<double>()) << key << " line " << i;
      }
  }
}

// A run directory that holds a run is never replaced by accident: a fresh run into it is refused
// with the ways on, --overwrite replaces it (its checkpoints and metrics), --resume continues it.
TEST(Pretrain, ExistingRunIsRefusedUnlessResumedOrOverwritten) {
  std::string dir = testing::temp_dir("pretrain_exists");
  std::string corpus = write_corpus(dir), run = dir + "/run";
  run_pretrain(small_config(corpus, 6), quiet(run));  // checkpoints at steps 3 and 6
  const std::string metrics = read_file(run + "/metrics.jsonl");
  std::string msg = error_of([&] { run_pretrain(small_config(corpus, 6), quiet(run)); });
  EXPECT_TRUE(contains(msg, run + " already holds a run")) << msg;
  for (const char* way : {"--resume", "--out", "--overwrite"}) EXPECT_TRUE(contains(msg, way)) << msg;
  EXPECT_EQ(read_file(run + "/metrics.jsonl"), metrics);
  EXPECT_EQ(checkpoint_list(run + "/checkpoints").size(), 2u);

  PretrainOptions overwrite = quiet(run);
  overwrite.overwrite = true;
  run_pretrain(small_config(corpus, 3), overwrite);
  auto left = checkpoint_list(run + "/checkpoints");
  ASSERT_EQ(left.size(), 1u);  // step 6 of the old run is gone, so a resume cannot pick it up
  EXPECT_TRUE(contains(left[0], "step_00000003"));
  EXPECT_EQ(metrics_read(run + "/metrics.jsonl").back()["step"], 3);

  run_pretrain(small_config(corpus, 6), quiet(run, true));
  EXPECT_TRUE(contains(checkpoint_resolve(run), "step_00000006"));
}

// A state.json whose step is negative, past the configured steps, too large for an int, not a
// whole number, or not its folder's step is an error naming the file, and the run's checkpoints
// and metrics stay as they were.
TEST(Pretrain, ResumeRefusesAStepOutOfRange) {
  std::string dir = testing::temp_dir("pretrain_bad_step");
  std::string corpus = write_corpus(dir), run = dir + "/run";
  run_pretrain(small_config(corpus, 6), quiet(run));
  const std::string newest = run + "/checkpoints/step_00000006", state_path = newest + "/state.json";
  const std::string state = read_file(state_path), metrics = read_file(run + "/metrics.jsonl");
  for (const char* step : {"-5", "7", "9223372036854775807", "-9223372036854775808", "18446744073709551615",
                           "1000000000000", "1e12", "6.0", "3", "0", "\"6\"", "null"}) {
    nlohmann::json j = nlohmann::json::parse(state);
    j["step"] = nlohmann::json::parse(step);
    write_file_atomic(state_path, j.dump());
    std::string msg = error_of([&] { run_pretrain(small_config(corpus, 6), quiet(run, true)); });
    EXPECT_TRUE(contains(msg, state_path + ": step ")) << step << ": " << msg;
    EXPECT_EQ(read_file(run + "/metrics.jsonl"), metrics) << step;
    EXPECT_EQ(checkpoint_list(run + "/checkpoints").size(), 2u) << step;
  }
  nlohmann::json j = nlohmann::json::parse(state);
  j.erase("step");
  write_file_atomic(state_path, j.dump());
  EXPECT_TRUE(contains(error_of([&] { run_pretrain(small_config(corpus, 6), quiet(run, true)); }), state_path));
  // A config with fewer steps than the checkpoint has done is "past the configured steps" too.
  write_file_atomic(state_path, state);
  EXPECT_TRUE(contains(error_of([&] { run_pretrain(small_config(corpus, 5), quiet(run, true)); }),
                       "from 0 to 5"));
  EXPECT_EQ(error_of([&] { run_pretrain(small_config(corpus, 6), quiet(run, true)); }), "");
}

// Weights holding NaN are refused when a resume loads them, naming the file and the tensor.
TEST(Pretrain, ResumeRefusesNonFiniteWeights) {
  std::string dir = testing::temp_dir("pretrain_nan_weights");
  std::string corpus = write_corpus(dir), run = dir + "/run";
  run_pretrain(small_config(corpus, 3), quiet(run));
  const std::string path = run + "/checkpoints/step_00000003/model.safetensors";
  SafetensorsFile f = safetensors_load(path);
  const auto& [name, entry] = *f.entries.begin();
  std::string bytes = f.bytes;
  const float nan = NAN;
  std::memcpy(&bytes[f.data_start + entry.begin + 4], &nan, 4);
  write_file_atomic(path, bytes);
  const std::string metrics = read_file(run + "/metrics.jsonl");
  std::string msg = error_of([&] { run_pretrain(small_config(corpus, 6), quiet(run, true)); });
  EXPECT_TRUE(contains(msg, path + ": tensor '" + name + "' holds a non-finite value")) << msg;
  EXPECT_EQ(read_file(run + "/metrics.jsonl"), metrics);
}

// A diverging run stops with a message naming the first step whose loss or norm is not finite,
// the same step and the same metrics lines before it whether each step is read at once
// (log_interval 1) or the steps are read together late (log_interval 100: read at step 0, then at
// the last step, long after the divergence).
TEST(Pretrain, NonFiniteLossStopsWithAMessage) {
  std::string dir = testing::temp_dir("nan");
  std::string corpus = write_corpus(dir);
  PretrainConfig cfg = small_config(corpus, 6);
  cfg.optim.lr = 1e4f;  // diverges
  cfg.optim.min_lr = 1e4f;
  cfg.optim.warmup_steps = 0;
  cfg.optim.grad_clip = 0.0f;
  cfg.train.eval_interval = 0;
  cfg.train.checkpoint_interval = 0;
  std::string messages[2];
  std::vector<nlohmann::json> lines[2];
  for (int late = 0; late < 2; late++) {
    cfg.train.log_interval = late ? 100 : 1;
    const std::string run = dir + "/run" + std::to_string(late);
    messages[late] = error_of([&] { run_pretrain(cfg, quiet(run)); });
    lines[late] = metrics_read(run + "/metrics.jsonl");
    for (nlohmann::json& line : lines[late]) line.erase("tokens_per_s");
  }
  EXPECT_TRUE(contains(messages[0], "is not finite (NaN or Inf); stopping")) << messages[0];
  EXPECT_EQ(messages[1], messages[0]);
  EXPECT_FALSE(contains(messages[0], "step 0:")) << "the divergence should come after step 0";
  EXPECT_GE(lines[0].size(), 1u);
  EXPECT_EQ(lines[1], lines[0]);
}

// The console and metrics.jsonl number steps alike: step s is the update made from the model
// after s updates (its loss measured before it); val_loss at step s is measured after s updates.
TEST(Pretrain, ConsoleStepsAreTheMetricsSteps) {
  std::string dir = testing::temp_dir("pretrain_console");
  std::string corpus = write_corpus(dir);
  PretrainConfig cfg = small_config(corpus, 6);
  cfg.train.log_interval = 2;
  PretrainOptions opt = quiet(dir + "/run");
  opt.quiet = false;
  ::testing::internal::CaptureStderr();
  run_pretrain(cfg, opt);
  std::string console = ::testing::internal::GetCapturedStderr();
  std::set<int> console_train, console_val, metrics_train, metrics_val;
  std::istringstream lines(console);
  for (std::string line; std::getline(lines, line);) {
    int step = 0, total = 0;
    if (std::sscanf(line.c_str(), "step %d/%d | loss", &step, &total) == 2) console_train.insert(step);
    else if (std::sscanf(line.c_str(), "step %d | val_loss", &step) == 1) console_val.insert(step);
  }
  for (const auto& j : metrics_read(dir + "/run/metrics.jsonl")) {
    if (j.contains("loss")) metrics_train.insert(j["step"].get<int>());
    if (j.contains("val_loss")) metrics_val.insert(j["step"].get<int>());
  }
  EXPECT_EQ(console_train, (std::set<int>{0, 2, 4, 5})) << console;   // every log_interval, and the last
  for (int step : console_train) EXPECT_TRUE(metrics_train.count(step)) << step;
  EXPECT_EQ(console_val, metrics_val) << console;
  EXPECT_EQ(*metrics_train.rbegin(), 5);
  EXPECT_EQ(*metrics_val.rbegin(), 6);   // after the last update
}

// A split too small for one window of seq_len + 1 tokens names the split and the settings to
// change; shards whose ids the model has no row for name the shard.
TEST(Pretrain, DataThatCannotFeedTheModelIsNamed) {
  std::string dir = testing::temp_dir("pretrain_small_data");
  std::string corpus = write_corpus(dir);
  PretrainConfig cfg = small_config(corpus, 2);
  cfg.model.context_length = 1024;
  cfg.train.seq_len = 1024;
  std::string msg = error_of([&] { run_pretrain(cfg, quiet(dir + "/small")); });
  EXPECT_TRUE(contains(msg, "test.yaml: the data's val split holds ")) << msg;
  EXPECT_TRUE(contains(msg, "fewer than train.seq_len + 1 = 1025; raise data.tokens or data.val_fraction")) << msg;

  run_pretrain(small_config(corpus, 2), quiet(dir + "/oov"));
  std::string shard = dir + "/oov/data/train_000.bin";
  int vocab = 0;
  std::vector<int> tokens = shard_read(shard, &vocab);
  tokens[7] = vocab + 50;
  shard_write(shard, tokens, vocab + 100);   // as a build with a larger tokenizer would write it
  PretrainOptions again = quiet(dir + "/oov");
  again.overwrite = true;
  msg = error_of([&] { run_pretrain(small_config(corpus, 2), again); });
  EXPECT_TRUE(contains(msg, "shard '" + shard + "': token " + std::to_string(vocab + 50) + " at position 7")) << msg;
}

// train.dtype: fp32 unless asked; an fp32 config's resolved YAML has no dtype line (so experiment
// cache keys made before the switch still hold); bf16 on a CPU device fails before the data is
// built, naming the fix.
TEST(Pretrain, DtypeDefaultsToFp32AndBf16NeedsTheGpu) {
  std::string dir = testing::temp_dir("precision");
  std::string corpus = write_corpus(dir);
  PretrainConfig fp32 = small_config(corpus, 2);
  EXPECT_EQ(fp32.train.dtype, "fp32");
  EXPECT_FALSE(contains(pretrain_config_yaml(fp32), "dtype:"));
  PretrainConfig bf16 = testing::small_pretrain_config(corpus, 2, "device: cpu, dtype: bf16");
  EXPECT_EQ(bf16.train.dtype, "bf16");
  EXPECT_TRUE(contains(pretrain_config_yaml(bf16), "dtype: bf16"));
  std::string msg = error_of([&] { testing::small_pretrain_config(corpus, 2, "dtype: fp16"); });
  EXPECT_TRUE(contains(msg, "train.dtype")) << msg;
  EXPECT_TRUE(contains(msg, "must be fp32 or bf16")) << msg;
  msg = error_of([&] { run_pretrain(bf16, quiet(dir + "/cpu")); });
  EXPECT_TRUE(contains(msg, "runs on the CUDA backend")) << msg;
  EXPECT_FALSE(file_exists(dir + "/cpu/data")) << "the data was built before the check";
}

TEST(Pretrain, ConfigErrorsNameTheField) {
  YAML::Node root = YAML::Load("model: {n_layer: 2}\ndata: {sources: []}\ntrain: {batch_sise: 3}\n");
  try {
    parse_pretrain_config(root, "p.yaml");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("train.batch_sise"), std::string::npos) << e.what();
  }
  EXPECT_THROW(parse_pretrain_config(YAML::Load("model: {n_layer: 2}\n"), "p.yaml"), Error);  // no data
}

}  // namespace
}  // namespace chamber
