// The run plumbing shared by pretraining and RL (see run_dir.h).
#include "train/run_dir.h"

#include <stdexcept>

#include "engine/checkpoint.h"

namespace chamber {

std::string run_name_from_file(const std::string& config_file) {
  std::string stem = config_file.substr(config_file.find_last_of('/') + 1);
  return stem.substr(0, stem.find('.'));
}

std::string run_dir_path(const std::string& out_dir, const std::string& name) {
  return out_dir.empty() ? "runs/" + name : out_dir;
}

std::string open_run_dir(const std::string& out_dir, const std::string& name, bool resume,
                         bool overwrite) {
  const std::string dir = run_dir_path(out_dir, name);
  make_dirs(dir);
  prepare_run_dir(dir, resume, overwrite);
  return dir;
}

nlohmann::json rng_to_json(const Rng& r) {
  return {std::to_string(r.s[0]), std::to_string(r.s[1]), std::to_string(r.s[2]), std::to_string(r.s[3])};
}

void rng_from_json(const nlohmann::json& j, Rng& rng) {
  auto words = j.get<std::vector<std::string>>();
  if (words.size() != 4) throw std::runtime_error("rng");
  for (int i = 0; i < 4; i++) rng.s[i] = std::stoull(words[i]);
}

std::string resume_checkpoint(const std::string& ckpt_root, bool resume) {
  if (!resume || checkpoint_list(ckpt_root).empty()) return "";
  return checkpoint_resolve(ckpt_root);
}

int load_resume_checkpoint(const std::string& dir, GPT& model, int max_step, nlohmann::json& state) {
  checkpoint_load_weights(dir, model);
  checkpoint_load_optimizer(dir, model);
  state = checkpoint_state(dir);
  return checkpoint_resume_step(dir, state, max_step);
}

void read_state_fields(const std::string& dir, const std::function<void()>& read) {
  try {
    read();
  } catch (const std::exception& e) {
    fail(path_join(dir, "state.json"), ": missing or invalid field (", e.what(), ")");
  }
}

}  // namespace chamber
