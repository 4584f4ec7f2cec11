// Counterfactual controls: the `control:` section of the RL config, the control's reward, and the
// opening that forced_style puts after the prompt. See rl_controls.h.
#include "train/rl_controls.h"

#include <algorithm>
#include <cctype>

#include "data/mathworld.h"
#include "train/rl.h"

namespace chamber {

const char* control_kind_name(ControlKind k) {
  switch (k) {
    case ControlKind::none: return "none";
    case ControlKind::random: return "random";
    case ControlKind::format_only: return "format_only";
    case ControlKind::style_masked: return "style_masked";
    case ControlKind::forced_style: return "forced_style";
  }
  return "?";
}

// The labels data/grader.h gives a completion: what style_masked can name.
static const char* const kGraderLabels[] = {"tinygsm", "omi1", "text"};

void read_control_section(YamlMap& map, RLControl& c) {
  std::string kind = control_kind_name(c.kind);
  map.get("kind", kind);
  bool known = false;
  for (ControlKind k : {ControlKind::none, ControlKind::random, ControlKind::format_only,
                        ControlKind::style_masked, ControlKind::forced_style})
    if (kind == control_kind_name(k)) {
      c.kind = k;
      known = true;
    }
  if (!known)
    map.bad("kind", "must be none, random, format_only, style_masked or forced_style (got '" + kind + "')");

  double p = c.p;
  if (map.number("p", p) && p != -1.0 && !(p >= 0.0 && p <= 1.0))
    map.bad("p", "must be in [0, 1], or -1 to measure the base model's success rate at step 0 (got " +
                     format_number(p) + ")");
  map.get("p", c.p);
  map.get("styles", c.styles);
  for (const std::string& s : c.styles)
    if (std::find_if(std::begin(kGraderLabels), std::end(kGraderLabels),
                     [&](const char* l) { return s == l; }) == std::end(kGraderLabels))
      map.bad("styles", "names grader labels tinygsm, omi1 or text (got '" + s + "')");
  map.get("style", c.style);
  if (!c.style.empty() && !math_style_known(c.style))
    map.bad("style", "must be a math-world style: tinygsm, tinygsm_short, omi1, omi2, omi2_steps, gsm8k or mathtext (got '" +
                         c.style + "')");
  map.finish();

  if (c.kind == ControlKind::style_masked && c.styles.empty())
    map.bad("kind", "style_masked needs control.styles, the grader labels whose correct answers get 0, e.g. "
                    "styles: [tinygsm]");
  if (c.kind == ControlKind::forced_style && c.style.empty())
    map.bad("kind", "forced_style needs control.style, the math-world style every rollout starts in, e.g. "
                    "style: tinygsm");
}

void write_control_section(YAML::Node& root, const RLControl& c) {
  if (c.kind == ControlKind::none) return;
  YAML::Node map;
  map["kind"] = control_kind_name(c.kind);
  map["p"] = c.p;
  YAML::Node styles(YAML::NodeType::Sequence);
  for (const std::string& s : c.styles) styles.push_back(s);
  map["styles"] = styles;
  map["style"] = c.style;
  root["control"] = map;
}

float control_reward(const RLControl& c, const RLReward& truth, double p, Rng& draw) {
  switch (c.kind) {
    case ControlKind::none:
    case ControlKind::forced_style:   // the prompt does the forcing; the reward is the grader's
      return truth.reward;
    case ControlKind::random:
      return draw.uniform_double() < p ? 1.0f : 0.0f;
    case ControlKind::format_only:
      return truth.parsed ? 1.0f : 0.0f;
    case ControlKind::style_masked:
      if (truth.correct && std::find(c.styles.begin(), c.styles.end(), truth.label) != c.styles.end())
        return 0.0f;
      return truth.reward;
  }
  return truth.reward;
}

Rng control_draw_stream(int64_t run_seed, int64_t first_index) {
  // A constant apart from the sampler's seed (which is the run's seed itself), mixed with the
  // step's first prompt: each step's draws are a fresh stream, so resuming needs no state.
  uint64_t x = (uint64_t)run_seed * 0x9E3779B97F4A7C15ull ^ 0xC0A7'0115'5EED'0001ull;
  x ^= (uint64_t)first_index * 0xD1B54A32D192ED03ull;
  return Rng(x);
}

void rl_apply_control(RLSession& s, std::vector<Rollout>& rollouts, int64_t first_index,
                      int samples_per_prompt) {
  const RLControl& c = s.cfg.control;
  if (c.kind == ControlKind::none) return;
  // Over the whole batch: every rank's share of it when data parallel.
  double sums[3] = {0.0, 0.0, (double)rollouts.size()};   // true reward, correct, rollouts
  for (const Rollout& r : rollouts) {
    sums[0] += r.reward.reward;
    sums[1] += r.reward.correct;
  }
  rl_sum_over_ranks(s, sums, 3);
  const double true_reward = sums[0], correct = sums[1], n = std::max(1.0, sums[2]);
  if (c.kind == ControlKind::random && s.control_p < 0)
    s.control_p = c.p >= 0 ? c.p : correct / n;   // the base model's success rate, at step 0
  // One stream per step, keyed by the step's first prompt. A data-parallel rank holds a share of
  // the step's prompts (share.first prompts in) and skips the draws of the shares before it, so
  // every rollout of the step gets the same draw on any number of ranks.
  const int64_t share_first = first_index % s.cfg.prompts_per_step;
  Rng draw = control_draw_stream(s.cfg.seed, first_index - share_first);
  if (c.kind == ControlKind::random)
    for (int64_t i = 0; i < share_first * samples_per_prompt; i++) draw.uniform_double();
  for (Rollout& r : rollouts) r.reward.reward = control_reward(c, r.reward, s.control_p, draw);
  s.control_line["reward_true"] = true_reward / n;
  if (c.kind == ControlKind::random) s.control_line["control_p"] = s.control_p;
}

bool rl_rollout_rewarded(const RLConfig& cfg, const Rollout& r) {
  if (cfg.control.kind == ControlKind::none) return r.reward.correct;
  return r.reward.reward > 0.0f;
}

std::string forced_style_opening(const MathProblem& p, const std::string& style) {
  std::string text = mathworld_solution(p, style);
  size_t end = text.find('\n');
  if (end == std::string::npos) end = text.size();
  for (size_t i = 0; i < end; i++)
    if (std::isdigit((unsigned char)text[i])) {
      end = i;
      break;
    }
  while (end > 0 && std::isspace((unsigned char)text[end - 1])) end--;
  return text.substr(0, end);
}

}  // namespace chamber
