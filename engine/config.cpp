#include "engine/config.h"

#include <cmath>

namespace chamber {

ModelConfig read_model_config(YamlMap m) {
  ModelConfig c;
  m.get("vocab_size", c.vocab_size);
  m.get("n_layer", c.n_layer);
  m.get("n_head", c.n_head);
  m.get("n_embd", c.n_embd);
  m.get("context_length", c.context_length);
  m.get("tied_embeddings", c.tied_embeddings);
  m.get("value_head", c.value_head);
  m.finish();
  if (c.vocab_size < 0) m.bad("vocab_size", "must be >= 0 (0 = from the tokenizer)");
  require_range(m, "n_layer", c.n_layer, 1, 256);
  require_range(m, "n_head", c.n_head, 1, 256);
  require_range(m, "n_embd", c.n_embd, 1, 65536);
  require_range(m, "context_length", c.context_length, 2, 1 << 20);
  if (c.n_embd % c.n_head != 0)
    m.bad("n_embd", "(" + std::to_string(c.n_embd) + ") must be divisible by n_head (" +
                        std::to_string(c.n_head) + ")");
  return c;
}

YAML::Node model_config_yaml(const ModelConfig& c) {
  YAML::Node n;
  n["vocab_size"] = c.vocab_size;
  n["n_layer"] = c.n_layer;
  n["n_head"] = c.n_head;
  n["n_embd"] = c.n_embd;
  n["context_length"] = c.context_length;
  n["tied_embeddings"] = c.tied_embeddings;
  n["value_head"] = c.value_head;
  return n;
}

OptimConfig read_optim_config(YamlMap m) {
  OptimConfig o;
  m.get("lr", o.lr);
  m.get("min_lr", o.min_lr);
  m.get("warmup_steps", o.warmup_steps);
  m.get("weight_decay", o.weight_decay);
  m.get("beta1", o.beta1);
  m.get("beta2", o.beta2);
  m.get("eps", o.eps);
  m.get("grad_clip", o.grad_clip);
  m.finish();
  require_range(m, "lr", o.lr, 0, 10);
  require_range(m, "min_lr", o.min_lr, 0, o.lr);
  require_range(m, "warmup_steps", o.warmup_steps, 0, 1e9);
  require_range(m, "weight_decay", o.weight_decay, 0, 10);
  require_range(m, "beta1", o.beta1, 0, 0.999999);
  require_range(m, "beta2", o.beta2, 0, 0.999999);
  require_positive(m, "eps", o.eps);
  require_range(m, "grad_clip", o.grad_clip, 0, 1e9);
  return o;
}

YAML::Node optim_config_yaml(const OptimConfig& o) {
  YAML::Node n;
  n["lr"] = o.lr;
  n["min_lr"] = o.min_lr;
  n["warmup_steps"] = o.warmup_steps;
  n["weight_decay"] = o.weight_decay;
  n["beta1"] = o.beta1;
  n["beta2"] = o.beta2;
  n["eps"] = o.eps;
  n["grad_clip"] = o.grad_clip;
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
