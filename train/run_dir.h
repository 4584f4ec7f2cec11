// What `chamber pretrain` and `chamber rl` do alike with a run: its default name, its directory
// OUT, the RNG state in each checkpoint's state.json, and continuing from the newest checkpoint
// (--resume). What a checkpoint holds, and when OUT may be reused, is engine/checkpoint.h's
// (checkpoint_*, prepare_run_dir); these put its pieces together the way both loops use them.
// Loading a config with --set overrides is util/yaml_schema.h's yaml_load_config.
#pragma once
#include <functional>
#include <string>

#include <nlohmann/json.hpp>

#include "engine/comm.h"
#include "engine/model.h"
#include "util/util.h"

namespace chamber {

// How `chamber pretrain` and `chamber rl` treat their run directory (the same options).
struct RunOptions {
  std::string out_dir;    // default runs/<name>
  bool resume = false;    // continue from the newest checkpoint in out_dir
  bool overwrite = false; // replace a run already in out_dir (else that is an error)
  bool quiet = false;
  // Data parallel (engine/comm.h): this process's rank among those started by mpirun; null for one
  // process. Only rank 0 (the lead) writes the run directory and prints.
  Comm* comm = nullptr;
};

// The default run name: the config file's name up to its first dot (configs/tiny.yaml -> tiny).
std::string run_name_from_file(const std::string& config_file);

// The run directory's path: out_dir, or runs/<name> when out_dir is empty.
std::string run_dir_path(const std::string& out_dir, const std::string& name);
// The run directory, run_dir_path. Creates it, then
// prepare_run_dir: a run already there is continued (resume), replaced (overwrite) or an error.
std::string open_run_dir(const std::string& out_dir, const std::string& name, bool resume,
                         bool overwrite);

// The RNG's four state words as decimal strings: JSON numbers do not hold 64 bits exactly.
nlohmann::json rng_to_json(const Rng& rng);
// The inverse. Anything but four such strings throws (std::exception), for read_state_fields.
void rng_from_json(const nlohmann::json& words, Rng& rng);

// The checkpoint a run continues from: with resume, the newest under ckpt_root; "" without
// resume or when there is none yet (the run starts afresh).
std::string resume_checkpoint(const std::string& ckpt_root, bool resume);
// Loads checkpoint dir's weights and AdamW state into `model` (created with the same shape),
// reads its state.json into `state` and returns the step to continue from, checked by
// checkpoint_resume_step against max_step (the configured steps).
int load_resume_checkpoint(const std::string& dir, GPT& model, int max_step, nlohmann::json& state);
// Calls read(), which takes the loop's own fields out of a checkpoint's state.json: a missing or
// malformed field (any exception read throws) is an error naming dir/state.json.
void read_state_fields(const std::string& dir, const std::function<void()>& read);

}  // namespace chamber
