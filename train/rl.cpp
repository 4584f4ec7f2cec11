// `chamber rl`: the config, the session set-up and the run loop. Read run_rl top to bottom: load
// the starting checkpoint into the policy, copy it into the frozen reference (and the separate
// critic), maybe resume, then each step is the algorithm's step (rl_ppo/rl_grpo/rl_ei.cpp), a
// metrics line, now and then a greedy evaluation, and checkpoints at log-spaced steps.
#include "train/rl.h"

#include <cstdio>

#include "engine/backend.h"
#include "engine/checkpoint.h"
#include "engine/yaml_schema.h"
#include "train/loaded_model.h"
#include "train/metrics.h"
#include "train/rl_internal.h"

namespace chamber {

void rl_config_finalize(RLConfig& c) {
  if (c.algorithm != "ppo" && c.algorithm != "grpo" && c.algorithm != "ei")
    fail(c.file, ": algorithm must be ppo, grpo or ei (got '", c.algorithm, "')");
  if (c.kl_mode.empty()) c.kl_mode = c.algorithm == "ppo" ? "reward_k1" : "loss_k3";
  if (c.kl_mode != "reward_k1" && c.kl_mode != "loss_k3")
    fail(c.file, ": policy.kl_mode must be reward_k1 or loss_k3 (got '", c.kl_mode, "')");
  if (c.loss_agg != "token_mean" && c.loss_agg != "seq_mean")
    fail(c.file, ": policy.loss_agg must be token_mean or seq_mean (got '", c.loss_agg, "')");
  if (c.algorithm == "grpo" && c.samples_per_prompt < 2)
    fail(c.file, ": grpo needs rollout.samples_per_prompt >= 2 (advantages compare samples of a prompt)");
  if (c.name.empty()) {
    std::string stem = c.file.substr(c.file.find_last_of('/') + 1);
    c.name = stem.substr(0, stem.find('.'));
  }
}

RLConfig parse_rl_config(YAML::Node root, const std::string& file) {
  RLConfig c;
  c.file = file;
  YamlMap top = yaml_root(root, file);
  top.get("name", c.name);
  top.get("init", c.init);
  top.get("algorithm", c.algorithm);
  if (c.init.empty()) top.bad("init", "is required: the starting checkpoint or run directory");
  YamlMap p = top.sub("prompts");
  p.get("split", c.split);
  p.get("seed", c.prompt_seed);
  p.get("count", c.prompt_count);
  p.get("min_ops", c.min_ops);
  p.get("max_ops", c.max_ops);
  p.finish();
  require_range(p, "count", c.prompt_count, 0, 1e9);
  YamlMap r = top.sub("rollout");
  r.get("prompts_per_step", c.prompts_per_step);
  r.get("samples_per_prompt", c.samples_per_prompt);
  r.get("temperature", c.temperature);
  r.get("top_p", c.top_p);
  r.get("top_k", c.top_k);
  r.get("max_new_tokens", c.max_new_tokens);
  r.get("rollout_batch", c.rollout_batch);
  r.get("micro_batch", c.micro_batch);
  r.finish();
  require_range(r, "prompts_per_step", c.prompts_per_step, 1, 1e6);
  require_range(r, "samples_per_prompt", c.samples_per_prompt, 1, 1e6);
  require_range(r, "temperature", c.temperature, 0, 100);
  require_range(r, "top_p", c.top_p, 1e-6, 1);
  require_range(r, "top_k", c.top_k, 0, 1e9);
  require_range(r, "max_new_tokens", c.max_new_tokens, 1, 1e6);
  require_range(r, "rollout_batch", c.rollout_batch, 1, 1e6);
  require_range(r, "micro_batch", c.micro_batch, 1, 1e6);
  YamlMap o = top.sub("optim");
  o.get("lr", c.lr);
  o.get("critic_lr", c.critic_lr);
  o.get("warmup_steps", c.warmup_steps);
  o.get("weight_decay", c.weight_decay);
  o.get("beta1", c.beta1);
  o.get("beta2", c.beta2);
  o.get("eps", c.adam_eps);
  o.get("grad_clip", c.grad_clip);
  o.finish();
  require_range(o, "lr", c.lr, 0, 10);
  require_range(o, "critic_lr", c.critic_lr, 0, 10);
  require_range(o, "warmup_steps", c.warmup_steps, 0, 1e9);
  require_range(o, "weight_decay", c.weight_decay, 0, 10);
  require_range(o, "beta1", c.beta1, 0, 0.999999);
  require_range(o, "beta2", c.beta2, 0, 0.999999);
  require_positive(o, "eps", c.adam_eps);
  require_range(o, "grad_clip", c.grad_clip, 0, 1e9);
  YamlMap pl = top.sub("policy");
  pl.get("clip", c.clip);
  pl.get("epochs", c.epochs);
  pl.get("minibatches", c.minibatches);
  pl.get("kl_coef", c.kl_coef);
  pl.get("kl_mode", c.kl_mode);
  pl.get("entropy_coef", c.entropy_coef);
  pl.get("loss_agg", c.loss_agg);
  pl.finish();
  require_range(pl, "clip", c.clip, 1e-6, 10);
  require_range(pl, "epochs", c.epochs, 1, 1000);
  require_range(pl, "minibatches", c.minibatches, 1, 1e6);
  require_range(pl, "kl_coef", c.kl_coef, 0, 1e6);
  require_range(pl, "entropy_coef", c.entropy_coef, 0, 1e6);
  YamlMap pp = top.sub("ppo");
  pp.get("value_clip", c.value_clip);
  pp.get("vf_coef", c.vf_coef);
  pp.get("gamma", c.gamma);
  pp.get("lambda", c.lambda);
  pp.get("whiten_advantages", c.whiten_advantages);
  pp.get("separate_critic", c.separate_critic);
  pp.finish();
  require_range(pp, "value_clip", c.value_clip, 0, 1e6);
  require_range(pp, "vf_coef", c.vf_coef, 0, 1e6);
  require_range(pp, "gamma", c.gamma, 0, 1);
  require_range(pp, "lambda", c.lambda, 0, 1);
  YamlMap g = top.sub("grpo");
  g.get("eps", c.grpo_eps);
  g.get("scale_by_std", c.grpo_scale_by_std);
  g.finish();
  require_positive(g, "eps", c.grpo_eps);
  YamlMap e = top.sub("ei");
  e.get("epochs", c.ei_epochs);
  e.get("batch_size", c.ei_batch);
  e.get("temperature", c.ei_temperature);
  e.get("top_p", c.ei_top_p);
  std::string restart = c.ei_restart ? "base" : "continue";
  e.get("restart", restart);
  e.get("accumulate", c.ei_accumulate);
  e.finish();
  if (restart != "base" && restart != "continue") e.bad("restart", "must be base or continue");
  c.ei_restart = restart == "base";
  require_range(e, "epochs", c.ei_epochs, 1, 1000);
  require_range(e, "batch_size", c.ei_batch, 1, 1e6);
  require_range(e, "temperature", c.ei_temperature, 0, 100);
  require_range(e, "top_p", c.ei_top_p, 1e-6, 1);
  YamlMap ev = top.sub("eval");
  ev.get("split", c.eval_split);
  ev.get("seed", c.eval_seed);
  ev.get("problems", c.eval_problems);
  ev.get("interval", c.eval_interval);
  ev.finish();
  require_range(ev, "problems", c.eval_problems, 0, 1e7);
  require_range(ev, "interval", c.eval_interval, 0, 1e9);
  YamlMap t = top.sub("train");
  t.get("steps", c.steps);
  t.get("seed", c.seed);
  t.get("device", c.device);
  t.get("threads", c.threads);
  t.get("log_interval", c.log_interval);
  t.get("checkpoint_interval", c.checkpoint_interval);
  t.finish();
  require_range(t, "steps", c.steps, 1, 1e9);
  require_range(t, "threads", c.threads, 0, 4096);
  require_range(t, "log_interval", c.log_interval, 1, 1e9);
  require_range(t, "checkpoint_interval", c.checkpoint_interval, 0, 1e9);
  top.finish();
  rl_config_finalize(c);
  return c;
}

RLConfig load_rl_config(const std::string& path, const std::vector<std::string>& overrides) {
  YAML::Node root = yaml_load_file(path);
  for (const auto& o : overrides) yaml_apply_override(root, o);
  return parse_rl_config(root, path);
}

std::string rl_config_yaml(const RLConfig& c) {
  YAML::Node n, pr, r, o, p, pp, g, e, ev, t;
  n["name"] = c.name;
  n["init"] = c.init;
  n["algorithm"] = c.algorithm;
  pr["split"] = c.split;
  pr["seed"] = c.prompt_seed;
  pr["count"] = c.prompt_count;
  pr["min_ops"] = c.min_ops;
  pr["max_ops"] = c.max_ops;
  r["prompts_per_step"] = c.prompts_per_step;
  r["samples_per_prompt"] = c.samples_per_prompt;
  r["temperature"] = c.temperature;
  r["top_p"] = c.top_p;
  r["top_k"] = c.top_k;
  r["max_new_tokens"] = c.max_new_tokens;
  r["rollout_batch"] = c.rollout_batch;
  r["micro_batch"] = c.micro_batch;
  o["lr"] = c.lr;
  o["critic_lr"] = c.critic_lr;
  o["warmup_steps"] = c.warmup_steps;
  o["weight_decay"] = c.weight_decay;
  o["beta1"] = c.beta1;
  o["beta2"] = c.beta2;
  o["eps"] = c.adam_eps;
  o["grad_clip"] = c.grad_clip;
  p["clip"] = c.clip;
  p["epochs"] = c.epochs;
  p["minibatches"] = c.minibatches;
  p["kl_coef"] = c.kl_coef;
  p["kl_mode"] = c.kl_mode;
  p["entropy_coef"] = c.entropy_coef;
  p["loss_agg"] = c.loss_agg;
  pp["value_clip"] = c.value_clip;
  pp["vf_coef"] = c.vf_coef;
  pp["gamma"] = c.gamma;
  pp["lambda"] = c.lambda;
  pp["whiten_advantages"] = c.whiten_advantages;
  pp["separate_critic"] = c.separate_critic;
  g["eps"] = c.grpo_eps;
  g["scale_by_std"] = c.grpo_scale_by_std;
  e["epochs"] = c.ei_epochs;
  e["batch_size"] = c.ei_batch;
  e["temperature"] = c.ei_temperature;
  e["top_p"] = c.ei_top_p;
  e["restart"] = c.ei_restart ? "base" : "continue";
  e["accumulate"] = c.ei_accumulate;
  ev["split"] = c.eval_split;
  ev["seed"] = c.eval_seed;
  ev["problems"] = c.eval_problems;
  ev["interval"] = c.eval_interval;
  t["steps"] = c.steps;
  t["seed"] = c.seed;
  t["device"] = c.device;
  t["threads"] = c.threads;
  t["log_interval"] = c.log_interval;
  t["checkpoint_interval"] = c.checkpoint_interval;
  n["prompts"] = pr;
  n["rollout"] = r;
  n["optim"] = o;
  n["policy"] = p;
  n["ppo"] = pp;
  n["grpo"] = g;
  n["ei"] = e;
  n["eval"] = ev;
  n["train"] = t;
  YAML::Emitter out;
  out << n;
  return std::string(out.c_str()) + "\n";
}

void rl_session_begin(RLSession& s) {
  const RLConfig& c = s.cfg;
  if (!s.policy || !s.reference || !s.tok) fail("rl_session_begin: policy, reference and tokenizer are required");
  if (!s.policy->grads.wte) fail("rl_session_begin: the policy needs training buffers");
  if (c.algorithm == "ppo" && !(s.critic ? s.critic : s.policy)->cfg.value_head)
    fail("ppo needs a value head: the model was created with model.value_head false");
  sampler_create(s.sampler, *s.policy, rl_sampler_rows(c), s.policy->cfg.context_length);
}

int rl_sampler_rows(const RLConfig& c) {
  int batch = std::min(c.rollout_batch, c.prompts_per_step * c.samples_per_prompt);
  batch = std::max(batch, std::min(c.rollout_batch, c.eval_problems));
  return std::max(1, batch);
}

void rl_session_end(RLSession& s) { sampler_destroy(s.sampler); }

nlohmann::json rl_step(RLSession& s, int step) {
  if (s.cfg.algorithm == "ppo") return rl_step_ppo(s, step);
  if (s.cfg.algorithm == "grpo") return rl_step_grpo(s, step);
  return rl_step_ei(s, step);
}

bool rl_is_checkpoint_step(int step_done, int total_steps, int interval) {
  if (step_done == total_steps) return true;
  if (interval > 0 && step_done % interval == 0) return true;
  return step_done > 0 && (step_done & (step_done - 1)) == 0;   // 1, 2, 4, 8, ...
}

}  // namespace chamber
