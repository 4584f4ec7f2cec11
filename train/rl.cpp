// `chamber rl`: the config, the session set-up and the run loop. Read run_rl top to bottom: load
// the starting checkpoint into the policy, copy it into the frozen reference (and the separate
// critic), maybe resume, then each step is the algorithm's step (rl_ppo/rl_grpo/rl_ei.cpp), a
// metrics line, now and then a greedy evaluation, and checkpoints at log-spaced steps.
#include "train/rl.h"

#include <cstdio>

#include "engine/backend.h"
#include "engine/checkpoint.h"
#include "util/yaml_schema.h"
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
  if (c.ei_restart != "base" && c.ei_restart != "continue")
    fail(c.file, ": ei.restart must be base or continue (got '", c.ei_restart, "')");
  if (c.algorithm == "grpo" && c.samples_per_prompt < 2)
    fail(c.file, ": grpo needs rollout.samples_per_prompt >= 2 (advantages compare samples of a prompt)");
  if (c.name.empty()) {
    std::string stem = c.file.substr(c.file.find_last_of('/') + 1);
    c.name = stem.substr(0, stem.find('.'));
  }
}

// The config file's sections, each a table of its fields (util/yaml_schema.h).
using Fields = std::vector<ConfigField<RLConfig>>;
static const Fields kTopFields = {
    {"name", &RLConfig::name},
    {"init", &RLConfig::init},
    {"algorithm", &RLConfig::algorithm},
};
static const Fields kPromptFields = {
    {"split", &RLConfig::split},
    {"seed", &RLConfig::prompt_seed},
    {"count", &RLConfig::prompt_count, 0, 1e9, false, "0 = never repeat a problem"},
    {"min_ops", &RLConfig::min_ops, 0, 1000, false, "0 = the split's range"},
    {"max_ops", &RLConfig::max_ops, 0, 1000, false, "0 = the split's range"},
};
static const Fields kRolloutFields = {
    {"prompts_per_step", &RLConfig::prompts_per_step, 1, 1e6},
    {"samples_per_prompt", &RLConfig::samples_per_prompt, 1, 1e6},
    {"temperature", &RLConfig::temperature, 0, 100, false, "0 = greedy"},
    {"top_p", &RLConfig::top_p, 1e-6, 1},
    {"top_k", &RLConfig::top_k, 0, 1e9, false, "0 = off"},
    {"max_new_tokens", &RLConfig::max_new_tokens, 1, 1e6},
    {"rollout_batch", &RLConfig::rollout_batch, 1, 1e6},
    {"micro_batch", &RLConfig::micro_batch, 1, 1e6},
};
static const Fields kOptimFields = {
    {"lr", &RLConfig::lr, 0, 10},
    {"critic_lr", &RLConfig::critic_lr, 0, 10},
    {"warmup_steps", &RLConfig::warmup_steps, 0, 1e9},
    {"weight_decay", &RLConfig::weight_decay, 0, 10},
    {"beta1", &RLConfig::beta1, 0, 0.999999},
    {"beta2", &RLConfig::beta2, 0, 0.999999},
    {"eps", &RLConfig::adam_eps, 0, 0, true},
    {"grad_clip", &RLConfig::grad_clip, 0, 1e9, false, "0 = no clipping"},
};
static const Fields kPolicyFields = {
    {"clip", &RLConfig::clip, 1e-6, 10},
    {"epochs", &RLConfig::epochs, 1, 1000},
    {"minibatches", &RLConfig::minibatches, 1, 1e6},
    {"kl_coef", &RLConfig::kl_coef, 0, 1e6},
    {"kl_mode", &RLConfig::kl_mode},
    {"entropy_coef", &RLConfig::entropy_coef, 0, 1e6},
    {"loss_agg", &RLConfig::loss_agg},
};
static const Fields kPpoFields = {
    {"value_clip", &RLConfig::value_clip, 0, 1e6},
    {"vf_coef", &RLConfig::vf_coef, 0, 1e6},
    {"gamma", &RLConfig::gamma, 0, 1},
    {"lambda", &RLConfig::lambda, 0, 1},
    {"whiten_advantages", &RLConfig::whiten_advantages},
    {"separate_critic", &RLConfig::separate_critic},
};
static const Fields kGrpoFields = {
    {"eps", &RLConfig::grpo_eps, 0, 0, true},
    {"scale_by_std", &RLConfig::grpo_scale_by_std},
};
static const Fields kEiFields = {
    {"epochs", &RLConfig::ei_epochs, 1, 1000},
    {"batch_size", &RLConfig::ei_batch, 1, 1e6},
    {"temperature", &RLConfig::ei_temperature, 0, 100, false, "0 = greedy"},
    {"top_p", &RLConfig::ei_top_p, 1e-6, 1},
    {"restart", &RLConfig::ei_restart},
    {"accumulate", &RLConfig::ei_accumulate},
};
static const Fields kEvalFields = {
    {"split", &RLConfig::eval_split},
    {"seed", &RLConfig::eval_seed},
    {"problems", &RLConfig::eval_problems, 0, 1e7, false, "0 = no evaluation"},
    {"interval", &RLConfig::eval_interval, 0, 1e9, false, "0 = only at the start and the end"},
};
static const Fields kLoopFields = {
    {"steps", &RLConfig::steps, 1, 1e9},
    {"seed", &RLConfig::seed},
    {"device", &RLConfig::device},
    {"threads", &RLConfig::threads, 0, 4096, false, "0 = $CHAMBER_THREADS or all cores"},
    {"log_interval", &RLConfig::log_interval, 1, 1e9},
    {"checkpoint_interval", &RLConfig::checkpoint_interval, 0, 1e9, false, "0 = log-spaced only"},
};
struct Section {
  const char* key;
  const Fields* fields;
};
static const Section kSections[] = {
    {"prompts", &kPromptFields}, {"rollout", &kRolloutFields}, {"optim", &kOptimFields},
    {"policy", &kPolicyFields},  {"ppo", &kPpoFields},         {"grpo", &kGrpoFields},
    {"ei", &kEiFields},          {"eval", &kEvalFields},       {"train", &kLoopFields},
};

RLConfig parse_rl_config(YAML::Node root, const std::string& file) {
  RLConfig c;
  c.file = file;
  YamlMap top = yaml_root(root, file);
  yaml_get_fields(top, c, kTopFields);
  if (c.init.empty()) top.bad("init", "is required: the starting checkpoint or run directory");
  for (const Section& section : kSections) {
    YamlMap map = top.sub(section.key);
    yaml_read_fields(map, c, *section.fields);
  }
  top.finish();
  rl_config_finalize(c);
  return c;
}

RLConfig load_rl_config(const std::string& path, const std::vector<std::string>& overrides) {
  return parse_rl_config(yaml_load_config(path, overrides), path);
}

std::string rl_config_yaml(const RLConfig& c) {
  YAML::Node root;
  yaml_write_fields(root, c, kTopFields);
  for (const Section& section : kSections) {
    YAML::Node map;
    yaml_write_fields(map, c, *section.fields);
    root[section.key] = map;
  }
  YAML::Emitter out;
  out << root;
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
