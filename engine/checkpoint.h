// Checkpoints. One directory per checkpoint:
//   model.safetensors      fp32 weights under our names (see parameter_table)
//   optimizer.safetensors  AdamW m and v ("m.<name>", "v.<name>") and the step in metadata
//   state.json             training state: step, RNG state, data cursor, whatever the loop adds
//   config.yaml            the resolved config of the run
//   tokenizer.json         the run's tokenizer
// It is written into a hidden temporary directory beside its final place, every file fsynced,
// then renamed: a crash at any moment leaves either the previous checkpoint or the new one, never a
// half one. Loading validates every header, shape and size (files are untrusted).
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <yaml-cpp/yaml.h>

#include "engine/model.h"

namespace chamber {

struct CheckpointWrite {
  std::string root;               // e.g. runs/tiny/checkpoints
  std::string name;               // e.g. step_00000100
  nlohmann::json state;           // state.json
  std::string config_yaml;        // config.yaml
  std::string tokenizer_path;     // copied to tokenizer.json ("" = none)
  bool with_optimizer = true;
  // With the optimizer sharded (ZeRO-1) the model holds only its slice of AdamW's m and v: the
  // whole of each, gathered from the ranks, in the parameter arena's layout. Null otherwise.
  const std::vector<float>* adam_m_whole = nullptr;
  const std::vector<float>* adam_v_whole = nullptr;
};
// Returns the final directory.
std::string checkpoint_save(const CheckpointWrite& w, const GPT& model);

std::string checkpoint_name(int64_t step);                  // "step_00000100"
// The step a checkpoint directory is named for ("runs/x/checkpoints/step_00000100" or
// "step_00000100" -> 100); -1 for a name that is not step_<digits>.
int64_t checkpoint_step_of(const std::string& dir);
// Checkpoint directories under root, oldest step first (hidden temporaries ignored).
std::vector<std::string> checkpoint_list(const std::string& root);
// Removes all but the newest `keep` step_* checkpoints (keep <= 0: keep all).
void checkpoint_prune(const std::string& root, int keep);

// Accepts a checkpoint directory, or a run directory / checkpoint root holding step_* entries
// (then the newest). Error naming the path if there is none.
std::string checkpoint_resolve(const std::string& path);

// The model shape stored in dir/config.yaml (key `model`), and dir/state.json.
ModelConfig checkpoint_model_config(const std::string& dir);
YAML::Node checkpoint_config(const std::string& dir);
nlohmann::json checkpoint_state(const std::string& dir);
// The step a resume continues from: state["step"] of checkpoint dir, checked to be a whole number
// from 0 to max_step (the configured steps) and equal to the step in the directory's name. A
// negative, wrapped or foreign step would retrain with a wrong schedule over later checkpoints and
// metrics, so anything else is an error naming dir/state.json.
int checkpoint_resume_step(const std::string& dir, const nlohmann::json& state, int max_step);
// Loads weights (and AdamW state) into a model created with the same config. Every value must be
// finite (and AdamW's v non-negative, its step in range): anything else is an error naming the
// file and the tensor.
void checkpoint_load_weights(const std::string& dir, GPT& model);
void checkpoint_load_optimizer(const std::string& dir, GPT& model);

// ---- run directories (OUT of `chamber pretrain` and `chamber rl`) ----
// Whether run_dir already holds a run: a checkpoint under checkpoints/ or critic/, or a non-empty
// metrics.jsonl.
bool run_dir_holds_run(const std::string& run_dir);
// Called before a run starts in run_dir. A run already there is an error naming the directory
// and the ways on, unless resume (it is continued) or overwrite (its checkpoints, critic
// checkpoints and metrics are removed now; a pretraining data cache stays).
void prepare_run_dir(const std::string& run_dir, bool resume, bool overwrite);

}  // namespace chamber
