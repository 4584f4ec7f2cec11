// Sampling-free instruments of an RL run: they read the policy with full forward passes (the
// scoring path of train/rl_score.cpp) and never sample, so they are exact where sampled style
// shares are noisy, and they leave the run's RNG and sampler untouched.
//
//   style probes     For each of a fixed set of held-out prompts (problems 0..probe_prompts-1 of
//                    the eval split and seed) and each answer style of the pretraining mixture,
//                    the opening of that style's answer: the solution the math-world renderer
//                    writes for the problem, tokenized as in a pretraining document, up to its
//                    first digit and at most probe_tokens tokens (at least one): the style's frame
//                    (`def simple_math_problem() ->`, `Let's solve this with Python.`) or first
//                    words (`There are`), before the problem's numbers. probe_logp_<style> is the
//                    mean over prompts of log p(opening | prompt); probe_share_<style> the softmax
//                    over styles of those means, the share each style's opening would get if the
//                    policy had to start with one of them. (A prose opening's words vary with the
//                    problem where a code header does not, so prose pays some log-probability for
//                    content; read the shares' movement over steps more than their level.)
//   per-source NLL   nll_<source>: the policy's mean next-token loss on each pretraining source's
//                    held-out shard (data/dataset.h, heldout_shards), in windows of the context
//                    length; at step 0 it is the pretrained model's.
//
// The pretraining data is found through `init`: the run directory above its checkpoint holds
// data/manifest.json (an RL checkpoint's state.json names its own init, which is followed).
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "data/mathworld.h"
#include "data/tokenizer.h"
#include "train/rl.h"

namespace chamber {

struct RLProbeSet {
  std::vector<std::string> styles;               // probed answer styles, e.g. tinygsm, omi1, omi2
  std::vector<std::vector<Rollout>> openings;    // [style][prompt]: eot + prompt + opening
  std::vector<std::string> sources;              // pretraining sources with a held-out shard
  std::vector<std::vector<Rollout>> windows;     // [source]: windows of its held-out tokens
  bool empty() const { return styles.empty() && sources.empty(); }
};

// The data directory (holding manifest.json) of the pretraining run behind checkpoint `dir`, or ""
// when none is found.
std::string rl_find_pretraining_data(const std::string& dir);

// The answer styles a pretraining data spec (a manifest's "spec") teaches: synthetic sources'
// styles and jsonl importers that are math-world styles, once each, in order; mathtext, which
// answers no question, is left out.
std::vector<std::string> probe_styles_of_spec(const nlohmann::json& spec);

// The opening of `style`'s solution of `p` (above: up to the first digit, at most n tokens), as
// its tokens follow the prompt in a pretraining document (prompt tokens are encode_prompt's).
std::vector<int> probe_opening_tokens(const Tokenizer& tok, const MathProblem& p, const std::string& style, int n);

// Builds the probe sequences and held-out windows for a run from `init_dir` (the resolved init
// checkpoint). Probes are off (an empty set) when cfg.probe_interval is 0. Prints one note when
// the held-out shards cannot be found (unless quiet).
RLProbeSet rl_probes_prepare(const RLConfig& cfg, const Tokenizer& tok, const std::string& init_dir,
                             const ModelConfig& model, bool quiet);

// Scores the probes with the current policy: {"probe_logp_<style>", "probe_share_<style>",
// "nll_<source>", "probe_s"}. The step's timers (s.score_s) are left as they were.
nlohmann::json rl_probes_measure(RLSession& s, RLProbeSet& probes);

}  // namespace chamber
