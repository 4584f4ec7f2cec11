#include "engine/config.h"

#include <cmath>

namespace chamber {

// The model section: shapes, and which heads the layout has.
static const std::vector<ConfigField<ModelConfig>> kModelFields = {
    {"vocab_size", &ModelConfig::vocab_size, 0, kUnbounded, false, "0 = from the tokenizer"},
    {"n_layer", &ModelConfig::n_layer, 1, 256},
    {"n_head", &ModelConfig::n_head, 1, 256},
    {"n_embd", &ModelConfig::n_embd, 1, 65536},
    {"context_length", &ModelConfig::context_length, 2, 1 << 20},
    {"tied_embeddings", &ModelConfig::tied_embeddings},
    {"value_head", &ModelConfig::value_head},
};

ModelConfig read_model_config(YamlMap m) {
  ModelConfig c;
  yaml_read_fields(m, c, kModelFields);
  if (c.n_embd % c.n_head != 0)
    m.bad("n_embd", "(" + std::to_string(c.n_embd) + ") must be divisible by n_head (" +
                        std::to_string(c.n_head) + ")");
  return c;
}

YAML::Node model_config_yaml(const ModelConfig& c) {
  YAML::Node n;
  yaml_write_fields(n, c, kModelFields);
  return n;
}

// The optimizer section: AdamW and the warm-up + cosine schedule.
static const std::vector<ConfigField<OptimConfig>> kOptimFields = {
    {"lr", &OptimConfig::lr, 0, 10},
    {"min_lr", &OptimConfig::min_lr, 0, 10, false, "the cosine's floor, at most lr"},
    {"warmup_steps", &OptimConfig::warmup_steps, 0, 1e9},
    {"weight_decay", &OptimConfig::weight_decay, 0, 10},
    {"beta1", &OptimConfig::beta1, 0, 0.999999},
    {"beta2", &OptimConfig::beta2, 0, 0.999999},
    {"eps", &OptimConfig::eps, 0, 0, true},
    {"grad_clip", &OptimConfig::grad_clip, 0, 1e9, false, "0 = no clipping"},
};

OptimConfig read_optim_config(YamlMap m) {
  OptimConfig o;
  yaml_read_fields(m, o, kOptimFields);
  require_range(m, "min_lr", o.min_lr, 0, o.lr, "the cosine's floor, at most lr");
  return o;
}

YAML::Node optim_config_yaml(const OptimConfig& o) {
  YAML::Node n;
  yaml_write_fields(n, o, kOptimFields);
  return n;
}

float lr_schedule(const OptimConfig& o, int step, int total_steps) {
  if (step < o.warmup_steps) return o.lr * (float)(step + 1) / (float)o.warmup_steps;
  int decay_steps = std::max(1, total_steps - o.warmup_steps);
  float progress = std::min(1.0f, (float)(step - o.warmup_steps) / (float)decay_steps);
  float cosine = 0.5f * (1.0f + std::cos((float)M_PI * progress));
  return o.min_lr + cosine * (o.lr - o.min_lr);
}

}  // namespace chamber
