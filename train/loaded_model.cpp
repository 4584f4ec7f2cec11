#include "train/loaded_model.h"

#include "engine/backend.h"
#include "engine/checkpoint.h"
#include "util/util.h"

namespace chamber {

void load_model(LoadedModel& out, const std::string& path, const std::string& device, int max_B,
                int max_T, bool with_training, const std::string& dtype) {
  const Ops& ops = select_backend(device, dtype);
  out.dir = checkpoint_resolve(path);
  ModelConfig cfg = checkpoint_model_config(out.dir);
  std::string tok_path = path_join(out.dir, "tokenizer.json");
  if (!file_exists(tok_path)) fail(out.dir, ": tokenizer.json is missing (incomplete checkpoint?)");
  out.tokenizer = tokenizer_load(tok_path);
  if (out.tokenizer.vocab_size() > cfg.vocab_size)
    fail(out.dir, ": tokenizer.json has ", out.tokenizer.vocab_size(), " tokens but the model only ", cfg.vocab_size);
  if (max_T <= 0) max_T = cfg.context_length;
  check_device_memory(device, gpt_arena_sizes(cfg, max_B, max_T, with_training, {}, ops.compute_bytes).total() +
                                  device_scratch_bytes(device, max_B, max_T, cfg.n_embd, cfg.n_head, ops.compute_bytes),
                      "the model of " + out.dir, "Use a smaller batch, or --device cpu.");
  gpt_create(out.model, cfg, ops, max_B, max_T, with_training);
  checkpoint_load_weights(out.dir, out.model);
}

}  // namespace chamber
