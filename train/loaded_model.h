// Opening a checkpoint for use: the model (weights on the chosen backend) and its tokenizer.
#pragma once
#include <string>

#include "data/tokenizer.h"
#include "engine/model.h"

namespace chamber {

struct LoadedModel {
  std::string dir;      // the resolved checkpoint directory
  GPT model;
  Tokenizer tokenizer;
};

// `path` may be a checkpoint directory or a run directory (newest checkpoint). Activations are
// planned for (max_B, max_T) (max_T <= 0: the model's context length). with_training allocates
// gradients and AdamW state too (fine-tuning); the optimizer state is not loaded. dtype: fp32, or
// bf16 for mixed precision on the CUDA backend (engine/backend.h).
void load_model(LoadedModel& out, const std::string& path, const std::string& device, int max_B,
                int max_T, bool with_training = false, const std::string& dtype = "fp32");

}  // namespace chamber
