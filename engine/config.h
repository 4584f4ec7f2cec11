// Config sections shared by every command: the model shape and the optimizer. Each has a reader
// (strict: unknown keys and bad values are errors naming the field and line) and a writer that
// emits the resolved values, stored in every checkpoint as config.yaml.
#pragma once
#include <yaml-cpp/yaml.h>

#include <string>

#include "engine/model.h"
#include "util/yaml_schema.h"

namespace chamber {

struct OptimConfig {
  float lr = 1e-3f;             // peak learning rate
  float min_lr = 1e-4f;         // cosine decays to this
  int warmup_steps = 100;       // linear warm-up from 0
  float weight_decay = 0.1f;    // decoupled, 2-D weights only
  float beta1 = 0.9f;
  float beta2 = 0.95f;
  float eps = 1e-8f;
  float grad_clip = 1.0f;       // global-norm clipping; 0 disables
};

ModelConfig read_model_config(YamlMap m);
YAML::Node model_config_yaml(const ModelConfig& cfg);
OptimConfig read_optim_config(YamlMap m);
YAML::Node optim_config_yaml(const OptimConfig& cfg);

// Warm-up then cosine from lr to min_lr over total_steps.
float lr_schedule(const OptimConfig& o, int step, int total_steps);

}  // namespace chamber
