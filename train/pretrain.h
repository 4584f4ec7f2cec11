// Pretraining: the config it reads and the loop that runs it.
#pragma once
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "engine/config.h"
#include "train/run_dir.h"

namespace chamber {

struct Comm;

struct TrainLoopConfig {
  int batch_size = 8;            // B sequences per micro-batch
  int seq_len = 128;             // T tokens per sequence
  int grad_accum = 1;            // micro-batches per optimizer step
  int steps = 1000;              // optimizer steps
  int eval_interval = 100;       // evaluate val loss every N steps (and at the end); 0 = never
  int eval_batches = 8;          // batches of val data per evaluation
  int checkpoint_interval = 200; // save every N steps (and at the end); 0 = only at the end
  int keep_checkpoints = 3;      // keep the newest N step checkpoints; 0 = all
  int log_interval = 10;         // progress line every N steps
  int64_t seed = 1;              // parameter init (data order comes from the data spec's seed)
  std::string device = "cpu";    // cpu | cpu-ref | cuda | simt | auto
  int threads = 0;               // CPU threads; 0 = $CHAMBER_THREADS or all cores
  // fp32 | bf16: bf16 is mixed precision on the CUDA backend (bf16 activations and weight copy,
  // fp32 master weights, gradients of the weights and AdamW state); the CPU computes in fp32.
  std::string dtype = "fp32";
};

struct PretrainConfig {
  std::string file;              // where it came from
  std::string name;              // run name (default: the file's stem): a plain directory name
  ModelConfig model;
  YAML::Node data;               // the data spec (data/dataset.h), built into OUT/data
  std::string data_file;         // where the data spec was written (`file`, or the `data:` path)
  OptimConfig optim;
  TrainLoopConfig train;
};

// Reads a pretraining config with `--set` overrides applied first. Strict: unknown keys and bad
// values are errors naming the file, line and field.
PretrainConfig load_pretrain_config(const std::string& path, const std::vector<std::string>& overrides);
PretrainConfig parse_pretrain_config(YAML::Node root, const std::string& file);
std::string pretrain_config_yaml(const PretrainConfig& cfg);   // the resolved config

struct PretrainOptions : RunOptions {
  bool profile = false;          // print time per op at the end
  // ZeRO-1 with several ranks: each keeps AdamW's m and v for 1/N of the parameters
  // (engine/model.h OptimizerShard). The same training, to fp32 reduction rounding.
  bool shard_optimizer = false;
  // Data parallel, unsharded: average each layer's gradients while the backward pass computes the
  // layers below (train/data_parallel.h), instead of all of them after it. The same numbers.
  bool overlap_reduce = true;
};

// Runs pretraining; returns the final checkpoint directory. Errors (bad data, NaN loss) throw.
std::string run_pretrain(PretrainConfig cfg, const PretrainOptions& opt);

}  // namespace chamber
