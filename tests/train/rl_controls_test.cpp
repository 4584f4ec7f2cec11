// The counterfactual controls of `chamber rl` (train/rl_controls.h): each control's reward on
// hand-made grader results, the random control's rate and stream, the `control:` section's
// errors and resolved config, forced_style's opening in the prompt (never in the trained
// tokens), and short end-to-end runs under a control.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "data/mathworld.h"
#include "data/tokenizer.h"
#include "engine/backend.h"
#include "engine/checkpoint.h"
#include "tests/test_util.h"
#include "tests/train/tiny_rl_init.h"
#include "train/metrics.h"
#include "train/pretrain.h"
#include "train/rl.h"
#include "train/rl_controls.h"
#include "train/rl_internal.h"
#include "util/yaml.h"
#include "util/yaml_schema.h"

namespace chamber {
namespace {

using testing::contains;
using testing::error_of;

RLReward truth(bool correct, bool parsed, const char* label) {
  RLReward r;
  r.correct = correct;
  r.parsed = parsed;
  r.reward = correct ? 1.0f : 0.0f;
  r.label = label;
  return r;
}

RLControl control(ControlKind kind) {
  RLControl c;
  c.kind = kind;
  return c;
}

// Hand-made grader results: right tinygsm, right omi1, wrong but parsed text, nothing parsed.
const RLReward kCases[] = {truth(true, true, "tinygsm"), truth(true, true, "omi1"), truth(false, true, "text"),
                           truth(false, false, "text")};

std::vector<float> rewards_under(const RLControl& c) {
  Rng draw(1);
  std::vector<float> out;
  for (const RLReward& t : kCases) out.push_back(control_reward(c, t, 0.5, draw));
  return out;
}

TEST(RlControls, EachControlRewritesTheRewardAsSpecified) {
  EXPECT_EQ(rewards_under(control(ControlKind::none)), (std::vector<float>{1, 1, 0, 0}));
  EXPECT_EQ(rewards_under(control(ControlKind::format_only)), (std::vector<float>{1, 1, 1, 0}));
  RLControl masked = control(ControlKind::style_masked);
  masked.styles = {"tinygsm"};
  EXPECT_EQ(rewards_under(masked), (std::vector<float>{0, 1, 0, 0}));
  masked.styles = {"tinygsm", "omi1"};
  EXPECT_EQ(rewards_under(masked), (std::vector<float>{0, 0, 0, 0}));
  RLControl forced = control(ControlKind::forced_style);
  forced.style = "omi1";
  EXPECT_EQ(rewards_under(forced), (std::vector<float>{1, 1, 0, 0}));
  // random ignores the answer: p 0 never rewards, p 1 always does.
  Rng draw(2);
  for (const RLReward& t : kCases) {
    EXPECT_EQ(control_reward(control(ControlKind::random), t, 0.0, draw), 0.0f);
    EXPECT_EQ(control_reward(control(ControlKind::random), t, 1.0, draw), 1.0f);
  }
}

// The rate of random's reward is p within 4 standard errors over 20000 draws of a fixed stream,
// right and wrong answers alike; the same seed and step give the same draws, another step others.
TEST(RlControls, RandomRewardRateMatchesP) {
  const int n = 20000;
  for (double p : {0.05, 0.37, 0.9}) {
    SCOPED_TRACE(p);
    Rng draw = control_draw_stream(1, 0);
    double right = 0, wrong = 0;
    for (int i = 0; i < n; i++) {
      right += control_reward(control(ControlKind::random), kCases[0], p, draw);
      wrong += control_reward(control(ControlKind::random), kCases[3], p, draw);
    }
    const double bound = 4 * std::sqrt(p * (1 - p) / n);
    EXPECT_NEAR(right / n, p, bound);
    EXPECT_NEAR(wrong / n, p, bound);
  }
  Rng a = control_draw_stream(7, 64), b = control_draw_stream(7, 64), c = control_draw_stream(7, 128),
      d = control_draw_stream(8, 64);
  uint64_t x = a.next_u64();
  EXPECT_EQ(x, b.next_u64());
  EXPECT_NE(x, c.next_u64());
  EXPECT_NE(x, d.next_u64());
  EXPECT_NE(x, Rng(7).next_u64()) << "the sampler's stream (seeded with the run's seed) must differ";
}

// A step's batch rewarded whole (one process) and as two shares (what two data-parallel ranks
// hold, prompts 0-2 and 3-5 of the step) gets the same random draws, rollout for rollout.
TEST(RlControls, RandomDrawsAreTheStepsOnAnyNumberOfRanks) {
  const int prompts = 6, samples = 3, step = 5;
  RLSession s;
  s.cfg.seed = 17;
  s.cfg.prompts_per_step = prompts;
  s.cfg.control = control(ControlKind::random);
  s.cfg.control.p = 0.5;
  s.control_p = 0.5;
  auto rewards = [&](int first_prompt, int n_prompts) {
    std::vector<Rollout> rollouts((size_t)n_prompts * samples);
    for (Rollout& r : rollouts) r.reward = kCases[0];
    rl_apply_control(s, rollouts, (int64_t)step * prompts + first_prompt, samples);
    std::vector<float> out;
    for (const Rollout& r : rollouts) out.push_back(r.reward.reward);
    return out;
  };
  std::vector<float> whole = rewards(0, prompts);
  std::vector<float> shares = rewards(0, 3), second = rewards(3, 3);
  shares.insert(shares.end(), second.begin(), second.end());
  EXPECT_EQ(shares, whole);
  EXPECT_NE(std::count(whole.begin(), whole.end(), 1.0f), 0);
  EXPECT_NE(std::count(whole.begin(), whole.end(), 0.0f), 0);
}

const char* kRlHead = "init: runs/x\nalgorithm: grpo\n";

std::string config_error(const std::string& control_yaml) {
  return error_of([&] { parse_rl_config(yaml_parse(kRlHead + control_yaml, "r.yaml"), "r.yaml"); });
}

TEST(RlControls, ConfigErrorsNameFileLineAndFix) {
  struct Case {
    const char* yaml;
    const char* where;
    const char* fix;
  } cases[] = {
      {"control:\n  kind: randm\n", "r.yaml:4: 'control.kind'", "none, random, format_only, style_masked or forced_style"},
      {"control:\n  kind: random\n  prob: 0.5\n", "r.yaml:5", "prob"},
      {"control:\n  kind: random\n  p: 1.5\n", "r.yaml:5: 'control.p'", "[0, 1], or -1"},
      {"control:\n  kind: random\n  p: -0.5\n", "r.yaml:5: 'control.p'", "[0, 1], or -1"},
      {"control:\n  kind: style_masked\n", "r.yaml:4: 'control.kind'", "styles: [tinygsm]"},
      {"control:\n  kind: style_masked\n  styles: [tinygsm, omi2]\n", "r.yaml:5: 'control.styles'", "tinygsm, omi1 or text"},
      {"control:\n  kind: forced_style\n", "r.yaml:4: 'control.kind'", "style: tinygsm"},
      {"control:\n  kind: forced_style\n  style: python\n", "r.yaml:5: 'control.style'", "omi2, omi2_steps, gsm8k or mathtext"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.yaml);
    std::string msg = config_error(c.yaml);
    EXPECT_TRUE(contains(msg, c.where)) << msg;
    EXPECT_TRUE(contains(msg, c.fix)) << msg;
  }
  // Keys of another kind are allowed (a sweep over kind keeps them set) and ignored.
  EXPECT_EQ(config_error("control:\n  kind: none\n  styles: [tinygsm]\n  p: 0.3\n"), "");
}

TEST(RlControls, ResolvedConfigWritesTheControlOnlyWhenThereIsOne) {
  RLConfig none = parse_rl_config(yaml_parse(kRlHead, "r.yaml"), "r.yaml");
  EXPECT_EQ(none.control.kind, ControlKind::none);
  EXPECT_FALSE(contains(rl_config_yaml(none), "control"));
  RLConfig explicit_none = parse_rl_config(yaml_parse(std::string(kRlHead) + "control: {kind: none}\n", "r.yaml"), "r.yaml");
  EXPECT_EQ(rl_config_yaml(explicit_none), rl_config_yaml(none));
  for (const char* section : {"control: {kind: random, p: 0.25}\n", "control: {kind: style_masked, styles: [tinygsm, text]}\n",
                              "control: {kind: forced_style, style: omi1}\n", "control: {kind: format_only}\n"}) {
    SCOPED_TRACE(section);
    RLConfig c = parse_rl_config(yaml_parse(kRlHead + std::string(section), "r.yaml"), "r.yaml");
    std::string yaml = rl_config_yaml(c);
    EXPECT_TRUE(contains(yaml, "control:")) << yaml;
    RLConfig again = parse_rl_config(YAML::Load(yaml), "c.yaml");
    EXPECT_EQ(rl_config_yaml(again), yaml);
    EXPECT_EQ(again.control.kind, c.control.kind);
    EXPECT_EQ(again.control.styles, c.control.styles);
    EXPECT_EQ(again.control.style, c.control.style);
    EXPECT_EQ(again.control.p, c.control.p);
  }
  // --set, as a sweep sets a dotted key.
  YAML::Node root = yaml_parse(kRlHead, "r.yaml");
  yaml_apply_override(root, "control.kind=format_only");
  RLConfig swept = parse_rl_config(root, "r.yaml");
  EXPECT_EQ(swept.control.kind, ControlKind::format_only);
}

Tokenizer math_tokenizer() {
  std::vector<std::string> docs;
  for (const MathProblem& p : mathworld_generate("train", 40, 1, 1, 2))
    for (const char* style : {"tinygsm", "omi1", "omi2"}) docs.push_back(mathworld_document(p, style));
  return tokenizer_train(docs, 400);
}

TEST(RlControls, ForcedOpeningsComeFromTheRenderer) {
  MathProblem p = mathworld_problem("easy", 3, 1);
  EXPECT_EQ(forced_style_opening(p, "tinygsm"), "def simple_math_problem() -> int:");
  EXPECT_EQ(forced_style_opening(p, "omi1"), "Let's solve this with Python.");
  for (const char* style : {"omi2", "omi2_steps", "gsm8k", "mathtext"}) {
    std::string opening = forced_style_opening(p, style);
    SCOPED_TRACE(style + (": " + opening));
    EXPECT_EQ(mathworld_solution(p, style).rfind(opening, 0), 0u);
    EXPECT_EQ(opening.find_first_of("0123456789\n"), std::string::npos);
  }
}

// forced_style: the prompt ends with the style's opening, those tokens are prompt (no training
// target), and the grader sees opening + completion, so a completion that finishes the function
// is graded as tinygsm code.
TEST(RlControls, ForcedStyleOpeningIsPromptNotTrained) {
  Tokenizer tok = math_tokenizer();
  RLTask plain = math_rl_task("easy", 1, 0, 0, 0, tok);
  RLTask forced = math_rl_task("easy", 1, 0, 0, 0, tok, "tinygsm");
  std::vector<RLPrompt> a = plain.prompts(0, 4), b = forced.prompts(0, 4);
  for (int i = 0; i < 4; i++) {
    std::string plain_text = tokenizer_decode(tok, a[i].tokens.data() + 1, a[i].tokens.size() - 1);
    std::string forced_text = tokenizer_decode(tok, b[i].tokens.data() + 1, b[i].tokens.size() - 1);
    EXPECT_EQ(forced_text, plain_text + "def simple_math_problem() -> int:");
    EXPECT_EQ(b[i].opening, "def simple_math_problem() -> int:");
    EXPECT_EQ(std::vector<int>(b[i].tokens.begin(), b[i].tokens.begin() + a[i].tokens.size()), a[i].tokens)
        << "the question's tokens stay as they were";
  }
  Completion c;
  c.text = "\n    return " + b[0].gold + "\n";
  RLReward graded = forced.reward(b[0], c), ungraded = plain.reward(a[0], c);
  EXPECT_TRUE(graded.correct);
  EXPECT_EQ(graded.label, "tinygsm");
  EXPECT_EQ(ungraded.label, "text");

  // A rollout of the forced prompt: the opening lies before prompt_len, and the packed batch has
  // no target (no training signal) at any prompt position.
  ModelConfig mc = model_config_of(tok.vocab_size(), 1, 2, 16, 256);
  GPT policy, reference;
  gpt_create(policy, mc, select_backend("cpu"), 8, 256, true);
  gpt_init_parameters(policy, 3);
  gpt_create(reference, mc, select_backend("cpu"), 8, 256, false);
  RLSession s;
  s.cfg.prompts_per_step = 2;
  s.cfg.samples_per_prompt = 2;
  s.cfg.rollout_batch = 4;
  s.cfg.micro_batch = 4;
  s.cfg.max_new_tokens = 4;
  s.cfg.eval_problems = 0;
  s.cfg.control.kind = ControlKind::forced_style;
  s.cfg.control.style = "tinygsm";
  rl_config_finalize(s.cfg);
  s.policy = &policy;
  s.reference = &reference;
  s.tok = &tok;
  s.task = forced;
  rl_session_begin(s);
  std::vector<Rollout> rollouts = rl_generate(s, 0, 2, 2, rl_sampling_params(s.cfg, false));
  const std::vector<int> opening = tokenizer_encode(tok, "def simple_math_problem() -> int:");
  int idx[4] = {0, 1, 2, 3};
  PackedBatch packed = pack_rollouts(rollouts, idx, 4);
  for (int i = 0; i < 4; i++) {
    const Rollout& r = rollouts[i];
    EXPECT_EQ(r.prompt_len, (int)b[r.group].tokens.size());
    std::string prompt_text = tokenizer_decode(tok, r.tokens.data(), r.prompt_len);
    EXPECT_TRUE(prompt_text.ends_with("def simple_math_problem() -> int:")) << prompt_text;
    for (int t = 0; t + 1 < r.prompt_len; t++) EXPECT_EQ(packed.targets[(size_t)i * packed.T + t], -1) << t;
    EXPECT_NE(packed.targets[packed.position(i, r.prompt_len, 0)], -1) << "the response is trained";
  }
  rl_session_end(s);
  gpt_destroy(reference);
  gpt_destroy(policy);
}

// ---- end to end on a tiny checkpoint (as rl_run_test) ----

std::string tiny_checkpoint(const std::string& dir) { return testing::tiny_tinygsm_checkpoint(dir); }

RLConfig rl_config(const std::string& init, const std::string& algorithm, int steps, const std::string& control) {
  std::string yaml = "init: " + init + "\nalgorithm: " + algorithm + R"(
rollout: {prompts_per_step: 2, samples_per_prompt: 4, max_new_tokens: 6, micro_batch: 8, rollout_batch: 8}
eval: {problems: 2, interval: 2}
train: {device: cpu-ref, threads: 1, steps: )" + std::to_string(steps) + "}\n" + control;
  return parse_rl_config(YAML::Load(yaml), "r.yaml");
}

RLOptions quiet(const std::string& out, bool resume = false) { return testing::quiet_rl(out, resume); }

// random with p measured: the metrics carry the real correctness beside the control's reward and
// the p in use (the same every step), and a resumed run draws the same rewards.
TEST(RlControls, RandomControlRunsEndToEndAndResumesExactly) {
  std::string dir = testing::temp_dir("rl_control");
  std::string init = tiny_checkpoint(dir);
  const std::string control = "control: {kind: random}\n";
  run_rl(rl_config(init, "grpo", 4, control), quiet(dir + "/full"));
  auto a = metrics_read(dir + "/full/metrics.jsonl");
  ASSERT_EQ(a.size(), 5u);
  for (int i = 0; i < 4; i++) {
    for (const char* key : {"reward", "reward_true", "control_p", "correct"}) EXPECT_TRUE(a[i].contains(key)) << key;
    EXPECT_EQ(a[i]["control_p"], a[0]["control_p"]);
  }
  EXPECT_EQ(a[0]["control_p"].get<double>(), a[0]["correct"].get<double>()) << "p is step 0's correctness";
  EXPECT_TRUE(contains(read_file(dir + "/full/config.yaml"), "kind: random"));

  run_rl(rl_config(init, "grpo", 4, control), quiet(dir + "/cut"));
  for (const auto& d : checkpoint_list(dir + "/cut/checkpoints"))
    if (d.find("step_00000002") == std::string::npos) remove_all(d);
  run_rl(rl_config(init, "grpo", 4, control), quiet(dir + "/cut", true));
  auto b = metrics_read(dir + "/cut/metrics.jsonl");
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); i++)
    for (const char* key : {"reward", "reward_true", "control_p", "eval_pass1"})
      if (a[i].contains(key)) {
        EXPECT_EQ(a[i][key], b[i][key]) << key << " line " << i;
      }

  // forced_style and style_masked run too; no control writes no control metrics.
  run_rl(rl_config(init, "ppo", 2, "control: {kind: forced_style, style: tinygsm}\n"), quiet(dir + "/forced"));
  EXPECT_TRUE(metrics_read(dir + "/forced/metrics.jsonl")[0].contains("reward_true"));
  run_rl(rl_config(init, "ei", 2, "control: {kind: style_masked, styles: [tinygsm]}\n"), quiet(dir + "/masked"));
  EXPECT_TRUE(metrics_read(dir + "/masked/metrics.jsonl")[0].contains("reward_true"));
  run_rl(rl_config(init, "grpo", 1, ""), quiet(dir + "/none"));
  EXPECT_FALSE(metrics_read(dir + "/none/metrics.jsonl")[0].contains("reward_true"));
  EXPECT_FALSE(contains(read_file(dir + "/none/config.yaml"), "\ncontrol:"));
}

}  // namespace
}  // namespace chamber
