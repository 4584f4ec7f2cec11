// The config of `chamber rl`: read strictly from YAML (the choices resolved to enums once),
// checked and written back as the resolved config.yaml; and the session's begin, end and step.
#include "train/rl.h"

#include <algorithm>

#include "train/eval.h"
#include "train/run_dir.h"
#include "util/yaml_schema.h"

namespace chamber {

const char* rl_algorithm_name(RLAlgorithm a) {
  switch (a) {
    case RLAlgorithm::ppo: return "ppo";
    case RLAlgorithm::grpo: return "grpo";
    case RLAlgorithm::ei: return "ei";
  }
  return "?";
}

const char* kl_mode_name(KLMode m) {
  switch (m) {
    case KLMode::by_algorithm: return "";
    case KLMode::reward_k1: return "reward_k1";
    case KLMode::loss_k3: return "loss_k3";
  }
  return "?";
}

const char* loss_agg_name(LossAgg a) {
  return a == LossAgg::seq_mean ? "seq_mean" : "token_mean";
}

const char* ei_restart_name(EIRestart r) {
  return r == EIRestart::base ? "base" : "continue";
}

void rl_config_finalize(RLConfig& c) {
  if (c.kl_mode == KLMode::by_algorithm)
    c.kl_mode = c.algorithm == RLAlgorithm::ppo ? KLMode::reward_k1 : KLMode::loss_k3;
  if (c.algorithm == RLAlgorithm::grpo && c.samples_per_prompt < 2)
    fail(c.file, ": grpo needs rollout.samples_per_prompt >= 2 (advantages compare samples of a prompt)");
  if (c.name.empty()) c.name = run_name_from_file(c.file);
}

// The choices as the YAML spells them. A file's names are read with the other keys of their
// section and resolved to RLConfig's enums once the whole file is read.
namespace {
struct RLNames {
  std::string algorithm, kl_mode, loss_agg, ei_restart;
};
}  // namespace

static RLNames names_of(const RLConfig& c) {
  return {rl_algorithm_name(c.algorithm), kl_mode_name(c.kl_mode), loss_agg_name(c.loss_agg),
          ei_restart_name(c.ei_restart)};
}

// The value of `values` whose name is `text`; false when none is.
template <typename Enum, size_t N>
static bool enum_named(const std::string& text, const Enum (&values)[N], const char* (*name)(Enum),
                       Enum& out) {
  for (Enum v : values)
    if (text == name(v)) {
      out = v;
      return true;
    }
  return false;
}

static void resolve_names(const RLNames& n, RLConfig& c) {
  if (!enum_named(n.algorithm, {RLAlgorithm::ppo, RLAlgorithm::grpo, RLAlgorithm::ei}, rl_algorithm_name,
                  c.algorithm))
    fail(c.file, ": algorithm must be ppo, grpo or ei (got '", n.algorithm, "')");
  if (!enum_named(n.kl_mode, {KLMode::by_algorithm, KLMode::reward_k1, KLMode::loss_k3}, kl_mode_name,
                  c.kl_mode))
    fail(c.file, ": policy.kl_mode must be reward_k1 or loss_k3 (got '", n.kl_mode, "')");
  if (!enum_named(n.loss_agg, {LossAgg::token_mean, LossAgg::seq_mean}, loss_agg_name, c.loss_agg))
    fail(c.file, ": policy.loss_agg must be token_mean or seq_mean (got '", n.loss_agg, "')");
  if (!enum_named(n.ei_restart, {EIRestart::base, EIRestart::continue_policy}, ei_restart_name,
                  c.ei_restart))
    fail(c.file, ": ei.restart must be base or continue (got '", n.ei_restart, "')");
}

// The config file's sections, each a table of its keys in the order the resolved config writes
// them: a plain field of RLConfig (util/yaml_schema.h), or one of the names above.
namespace {
struct Field {
  ConfigField<RLConfig> plain;
  std::string RLNames::*name = nullptr;   // set for a name; plain.key is its key
  template <typename T>
  Field(const char* key, T RLConfig::*member, double lo = -kUnbounded, double hi = kUnbounded,
        bool positive = false, const char* note = "")
      : plain{key, member, lo, hi, positive, note} {}
  Field(const char* key, std::string RLNames::*n) : plain{key, {}}, name(n) {}
};
}  // namespace
using Fields = std::vector<Field>;
static const Fields kTopFields = {
    {"name", &RLConfig::name},
    {"init", &RLConfig::init},
    {"algorithm", &RLNames::algorithm},
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
    {"kl_mode", &RLNames::kl_mode},
    {"entropy_coef", &RLConfig::entropy_coef, 0, 1e6},
    {"loss_agg", &RLNames::loss_agg},
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
    {"restart", &RLNames::ei_restart},
    {"accumulate", &RLConfig::ei_accumulate},
};
static const Fields kEvalFields = {
    {"split", &RLConfig::eval_split},
    {"seed", &RLConfig::eval_seed},
    {"problems", &RLConfig::eval_problems, 0, kMaxEvalProblems, false, "0 = no evaluation"},
    {"interval", &RLConfig::eval_interval, 0, 1e9, false, "0 = only at the start and the end"},
    {"probe_interval", &RLConfig::probe_interval, 0, 1e9, false, "0 = no probes or per-source NLL"},
    {"probe_prompts", &RLConfig::probe_prompts, 0, 10000, false, "0 = per-source NLL only"},
    {"probe_tokens", &RLConfig::probe_tokens, 1, 1000},
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

static std::vector<ConfigField<RLConfig>> plain_fields(const Fields& fields) {
  std::vector<ConfigField<RLConfig>> plain;
  for (const Field& f : fields)
    if (!f.name) plain.push_back(f.plain);
  return plain;
}

// Reads the keys of `fields` in table order, so that the first bad key of a map is the one
// reported, as in yaml_read_fields (numbers out of range first).
static void get_fields(YamlMap& map, RLConfig& c, RLNames& names, const Fields& fields) {
  yaml_check_written_ranges(map, plain_fields(fields));
  for (const Field& f : fields) {
    if (f.name) map.get(f.plain.key, names.*f.name);
    else yaml_get_fields(map, c, {f.plain});
  }
}

RLConfig parse_rl_config(YAML::Node root, const std::string& file) {
  RLConfig c;
  c.file = file;
  RLNames names = names_of(c);
  YamlMap top = yaml_root(root, file);
  get_fields(top, c, names, kTopFields);
  if (c.init.empty()) top.bad("init", "is required: the starting checkpoint or run directory");
  for (const Section& section : kSections) {
    YamlMap map = top.sub(section.key);
    if (std::string(section.key) == "train") {
      // Not in kLoopFields: written back only when not fp32, so fp32 configs keep their resolved
      // YAML (and the experiment cache keys made from it).
      map.get("dtype", c.dtype);
      if (c.dtype != "fp32" && c.dtype != "bf16")
        map.bad("dtype", "must be fp32 or bf16 (bf16: mixed precision on --device cuda), got '" +
                             c.dtype + "'");
    }
    get_fields(map, c, names, *section.fields);
    // Unknown keys, and the range checks of the plain fields (reading them again changes nothing).
    yaml_read_fields(map, c, plain_fields(*section.fields));
  }
  YamlMap control = top.sub("control");
  read_control_section(control, c.control);
  top.finish();
  resolve_names(names, c);
  rl_config_finalize(c);
  return c;
}

RLConfig load_rl_config(const std::string& path, const std::vector<std::string>& overrides) {
  return parse_rl_config(yaml_load_config(path, overrides), path);
}

static void write_fields(YAML::Node& node, const RLConfig& c, const RLNames& names,
                         const Fields& fields) {
  for (const Field& f : fields) {
    if (f.name) node[f.plain.key] = names.*f.name;
    else yaml_write_fields(node, c, {f.plain});
  }
}

std::string rl_config_yaml(const RLConfig& c) {
  const RLNames names = names_of(c);
  YAML::Node root;
  write_fields(root, c, names, kTopFields);
  for (const Section& section : kSections) {
    YAML::Node map;
    write_fields(map, c, names, *section.fields);
    if (std::string(section.key) == "train" && c.dtype != "fp32") map["dtype"] = c.dtype;
    root[section.key] = map;
  }
  write_control_section(root, c.control);
  YAML::Emitter out;
  out << root;
  return std::string(out.c_str()) + "\n";
}

void rl_session_begin(RLSession& s) {
  const RLConfig& c = s.cfg;
  if (!s.policy || !s.reference || !s.tok) fail("rl_session_begin: policy, reference and tokenizer are required");
  if (!s.policy->grads.wte) fail("rl_session_begin: the policy needs training buffers");
  if (c.algorithm == RLAlgorithm::ppo && !(s.critic ? s.critic : s.policy)->cfg.value_head)
    fail("ppo needs a value head: the model was created with model.value_head false");
  sampler_create(s.sampler, *s.policy, rl_sampler_rows(c), s.policy->cfg.context_length);
}

int rl_sampler_rows(const RLConfig& c) {
  int batch = std::min(c.rollout_batch, c.prompts_per_step * c.samples_per_prompt);
  batch = std::max(batch, std::min(c.rollout_batch, c.eval_problems));
  return std::max(1, batch);
}

void rl_session_end(RLSession& s) { sampler_destroy(s.sampler); }

static nlohmann::json rl_algorithm_step(RLSession& s, int step) {
  switch (s.cfg.algorithm) {
    case RLAlgorithm::ppo: return rl_step_ppo(s, step);
    case RLAlgorithm::grpo: return rl_step_grpo(s, step);
    case RLAlgorithm::ei: return rl_step_ei(s, step);
  }
  fail("rl_step: unknown algorithm");
}

nlohmann::json rl_step(RLSession& s, int step) {
  s.control_line = nlohmann::json::object();
  nlohmann::json line = rl_algorithm_step(s, step);
  line.update(s.control_line);   // the control's metrics of the step's rollouts (none: nothing)
  return line;
}

}  // namespace chamber
