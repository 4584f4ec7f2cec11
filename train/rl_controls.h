// Counterfactual controls for `chamber rl` (the config's `control:` section). Each replaces or
// constrains the reward of a normal run so that a study can ask what RL amplifies when the reward
// carries less information than correctness:
//   none          the grader's reward (1 correct, 0 otherwise); every existing run
//   random        1 with probability p, independent of the answer (p = the base model's mean
//                 correctness on the first batch at step 0, or control.p). Isolates what the
//                 update does with a reward of the right rate but no information.
//   format_only   1 for any answer the grader can extract, right or not. Isolates the format.
//   style_masked  correct answers of control.styles (grader labels) get 0. Isolates how much of
//                 a style's growth is earned by that style's own correct answers.
//   forced_style  the grader's reward, but every rollout (and the evaluation) starts with the
//                 opening of control.style, appended to the prompt and not trained on. Gives each
//                 style's RL ceiling from the same base model.
// The task's reward is computed first (RLReward.correct stays the real correctness); the control
// then rewrites RLReward.reward. The random draws come from their own stream, seeded from the
// run's seed and the step's first prompt, so the sampler's stream is untouched and a resumed run
// draws the same rewards.
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <yaml-cpp/yaml.h>

#include "util/util.h"
#include "util/yaml_schema.h"

namespace chamber {

struct MathProblem;
struct RLReward;

enum class ControlKind { none, random, format_only, style_masked, forced_style };
const char* control_kind_name(ControlKind k);   // none | random | format_only | style_masked | forced_style

struct RLControl {
  ControlKind kind = ControlKind::none;
  float p = -1.0f;                   // random: the reward's probability; -1 = measure at step 0
  std::vector<std::string> styles;   // style_masked: grader labels (tinygsm, omi1, text)
  std::string style;                 // forced_style: a math-world style (data/mathworld.h)
};

// Reads the `control:` map strictly: unknown keys, an unknown kind or style, p outside [0, 1]
// (or -1), and a kind without the key it needs are errors naming the file, the line and the fix.
// Keys of other kinds are accepted and ignored, so a sweep over kind can keep them set.
void read_control_section(YamlMap& map, RLControl& c);
// Adds `control:` to the resolved config, only when the kind is not none (the config.yaml and
// the experiment hashes of runs without a control stay as they were).
void write_control_section(YAML::Node& root, const RLControl& c);

// The control's reward for one completion whose task reward is `truth` (truth.correct, .parsed
// and .label as the grader found them). `p` is random's probability, `draw` its stream (only
// random reads it).
float control_reward(const RLControl& c, const RLReward& truth, double p, Rng& draw);

// The stream of random's draws for the batch whose first prompt is `first_index`.
Rng control_draw_stream(int64_t run_seed, int64_t first_index);

// The opening that forced_style puts after the prompt: the first line of the problem's solution
// in `style`, cut before its first digit (no number of the solution is given away) and without
// trailing whitespace (so the prompt's last token is the one a document has there). E.g. tinygsm
// "def simple_math_problem() -> int:", omi1 "Let's solve this with Python.", omi2 and gsm8k the
// first step's words before its first number.
std::string forced_style_opening(const MathProblem& p, const std::string& style);

}  // namespace chamber
