// Data-parallel pretraining as two ranks (run by ctest under `mpirun -np 2`, label mpi): the
// 2-rank run follows the 1-rank run of the same global batch to fp32 reduction rounding, and a
// run checkpointed by 2 ranks resumes on 1 rank (and the reverse) on the same loss curve.
// Every rank runs every test; the 1-rank runs are each rank's own (comm = null) in its own folder.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "engine/comm.h"
#include "engine/safetensors.h"
#include "tests/test_util.h"
#include "tests/train/mpi_dirs.h"
#include "tests/train/small_pretrain.h"
#include "train/metrics.h"
#include "train/pretrain.h"
#include "util/util.h"

namespace chamber {
namespace {

using testing::shared_dir;

PretrainConfig small_config(const std::string& corpus, int steps) {
  return testing::small_pretrain_config(corpus, steps,
                                        "eval_interval: 5, eval_batches: 2, checkpoint_interval: 10, "
                                        "keep_checkpoints: 0, log_interval: 100, device: cpu");
}

// The corpus, written once by the lead.
std::string write_corpus(const std::string& dir) {
  if (comm_world().rank == 0) testing::write_small_corpus(dir);
  comm_barrier(comm_world());
  return dir + "/corpus.txt";
}

void pretrain(const PretrainConfig& cfg, const std::string& out, bool data_parallel, bool resume = false,
              bool shard_optimizer = false, bool overlap_reduce = true) {
  PretrainOptions o;
  o.out_dir = out;
  o.resume = resume;
  o.quiet = true;
  o.comm = data_parallel ? &comm_world() : nullptr;
  o.shard_optimizer = shard_optimizer;
  o.overlap_reduce = overlap_reduce;
  run_pretrain(cfg, o);
}

// Every tensor of a checkpoint file (model or optimizer), by name.
std::map<std::string, std::vector<float>> tensors_of_file(const std::string& path) {
  SafetensorsFile f = safetensors_load(path);
  std::map<std::string, std::vector<float>> out;
  for (const auto& [name, info] : f.entries) {
    size_t count = 1;
    for (int64_t d : info.shape) count *= (size_t)d;
    std::vector<float> values(count);
    f.read_f32(name, info.shape, values.data());
    out[name] = values;
  }
  return out;
}

void expect_same_tensors(const std::string& a_path, const std::string& b_path, double rel) {
  auto a = tensors_of_file(a_path), b = tensors_of_file(b_path);
  ASSERT_EQ(a.size(), b.size()) << a_path;
  for (const auto& [name, av] : a) {
    ASSERT_TRUE(b.count(name)) << name;
    const auto& bv = b.at(name);
    ASSERT_EQ(av.size(), bv.size()) << name;
    double diff = 0, norm = 0;
    for (size_t i = 0; i < av.size(); i++) diff += std::pow(av[i] - bv[i], 2), norm += std::pow(bv[i], 2);
    EXPECT_LE(std::sqrt(diff), rel * std::sqrt(norm) + 1e-7) << name << " in " << a_path;
  }
}

// The metric `key` of every line that has it, in step order.
std::vector<double> series(const std::string& metrics_path, const char* key) {
  std::vector<double> out;
  for (const auto& line : metrics_read(metrics_path))
    if (line.contains(key)) out.push_back(line[key].get<double>());
  return out;
}

void expect_track(const std::vector<double>& a, const std::vector<double>& b, const char* what) {
  ASSERT_EQ(a.size(), b.size()) << what;
  ASSERT_FALSE(a.empty()) << what;
  for (size_t i = 0; i < a.size(); i++)
    EXPECT_NEAR(a[i], b[i], 1e-4 * std::fabs(b[i])) << what << " at line " << i;
}

TEST(PretrainMpi, TwoRanksTrackOneRankOnTheSameGlobalBatch) {
  ASSERT_EQ(comm_world().world, 2);
  std::string dir = shared_dir("dp_track");
  PretrainConfig cfg = small_config(write_corpus(dir), 20);
  pretrain(cfg, dir + "/two", true);
  std::string one = dir + "/one_" + std::to_string(comm_world().rank);
  pretrain(cfg, one, false);
  for (const char* key : {"loss", "grad_norm", "val_loss"})
    expect_track(series(dir + "/two/metrics.jsonl", key), series(one + "/metrics.jsonl", key), key);
}

// The all-reduce overlapped with the backward pass, layer by layer, gives the weights and optimizer
// state of the reduction after it, bit for bit, also with gradient accumulation (only the step's
// last backward starts reductions).
TEST(PretrainMpi, OverlappedReductionEqualsReductionAfterBackward) {
  std::string dir = shared_dir("dp_overlap");
  PretrainConfig cfg = small_config(write_corpus(dir), 6);
  cfg.train.grad_accum = 2;
  pretrain(cfg, dir + "/overlap", true, false, false, true);
  pretrain(cfg, dir + "/after", true, false, false, false);
  for (const char* file : {"model.safetensors", "optimizer.safetensors"})
    EXPECT_EQ(read_file(dir + "/overlap/checkpoints/step_00000006/" + file),
              read_file(dir + "/after/checkpoints/step_00000006/" + file))
        << file;
}

// A run stopped after its step-10 checkpoint (the later checkpoint removed) and resumed with the
// other number of ranks gives the uninterrupted run's losses for steps 10..19.
TEST(PretrainMpi, CheckpointsResumeAcrossRankCounts) {
  const Comm& comm = comm_world();
  std::string dir = shared_dir("dp_resume");
  PretrainConfig cfg = small_config(write_corpus(dir), 20);
  for (bool first_data_parallel : {true, false}) {
    std::string tag = first_data_parallel ? "from2" : "from1";
    std::string full = dir + "/" + tag + "_full", resumed = dir + "/" + tag + "_resumed";
    if (first_data_parallel) {
      pretrain(cfg, full, true);
    } else if (comm.rank == 0) {
      pretrain(cfg, full, false);
    }
    comm_barrier(comm);
    if (comm.rank == 0) {
      ASSERT_EQ(std::system(("cp -r " + full + " " + resumed + " && rm -r " + resumed +
                             "/checkpoints/step_00000020").c_str()), 0);
    }
    comm_barrier(comm);
    if (first_data_parallel) {
      if (comm.rank == 0) pretrain(cfg, resumed, false, true);
    } else {
      pretrain(cfg, resumed, true, true);
    }
    comm_barrier(comm);
    expect_track(series(resumed + "/metrics.jsonl", "loss"), series(full + "/metrics.jsonl", "loss"),
                 tag.c_str());
  }
}

// ZeRO-1: each rank keeps AdamW's state for half the parameters (the slice boundary cuts through
// a tensor); the weights and the whole optimizer state written to the checkpoint equal the
// unsharded run's, and a sharded checkpoint resumes on one unsharded rank on the same curve.
TEST(PretrainMpi, ShardedOptimizerGivesTheUnshardedWeights) {
  const Comm& comm = comm_world();
  std::string dir = shared_dir("dp_zero1");
  PretrainConfig cfg = small_config(write_corpus(dir), 20);
  pretrain(cfg, dir + "/plain", true);
  pretrain(cfg, dir + "/sharded", true, false, true);
  if (comm.rank == 0) {
    const std::string ckpt = "/checkpoints/step_00000020/";
    expect_same_tensors(dir + "/sharded" + ckpt + "model.safetensors", dir + "/plain" + ckpt + "model.safetensors", 1e-5);
    expect_same_tensors(dir + "/sharded" + ckpt + "optimizer.safetensors",
                        dir + "/plain" + ckpt + "optimizer.safetensors", 1e-4);
    expect_track(series(dir + "/sharded/metrics.jsonl", "loss"), series(dir + "/plain/metrics.jsonl", "loss"), "loss");
    ASSERT_EQ(std::system(("cp -r " + dir + "/sharded " + dir + "/resumed && rm -r " + dir +
                           "/resumed/checkpoints/step_00000020").c_str()), 0);
    pretrain(cfg, dir + "/resumed", false, true);
    expect_track(series(dir + "/resumed/metrics.jsonl", "loss"), series(dir + "/sharded/metrics.jsonl", "loss"),
                 "resumed");
  }
  comm_barrier(comm);
}

}  // namespace
}  // namespace chamber
