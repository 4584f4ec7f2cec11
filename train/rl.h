// RL post-training: the config of `chamber rl`, the session that one run holds (policy, frozen
// reference, optional separate critic, sampler, task) and the step of each algorithm.
//
// One step of every algorithm starts the same way: take the step's prompts from the task, sample
// `samples_per_prompt` completions of each with the KV-cache sampler and reward each completion
// (train/rl_rollout.cpp), then score every sequence with full forward passes (train/rl_score.cpp:
// log-probs of the current policy = "old" log-probs for the PPO ratio, of the frozen reference for
// the KL, and values). Then:
//   ppo  (rl_ppo.cpp)   per-token rewards (final reward, minus kl_coef * k1 when kl_mode is
//                       reward_k1), GAE, whitening, then epochs x minibatches of clipped policy
//                       loss + vf_coef * clipped value loss (+ k3 KL loss, + entropy bonus)
//   grpo (rl_grpo.cpp)  group-normalised sequence advantages, clipped surrogate + kl_coef * k3
//   ei   (rl_ei.cpp)    one round: keep the correct completions (de-duplicated), supervised
//                       fine-tuning on them for `epochs` epochs, from the base model or continuing
// PPO and GRPO share the update (rl_update.cpp). The losses are the pure functions of
// train/rl_losses.h; they reach the model through the classifier's token weights
// (w_t = -dL/dlogp_t, policy_token_weights) and gpt_backward's dvalues (value_token_grads).
// Metrics and the greedy evaluation are in rl_eval.cpp, the whole run in rl_run.cpp.
//
// The task is pluggable (prompts and a reward function) so the same loop trains on math-world
// problems graded by data/grader.h (`chamber rl`) and on toy tasks in the tests.
// A counterfactual control (`control:`, train/rl_controls.h) rewrites the task's rewards at the
// end of rl_generate (random, format_only, style_masked) or appends a style's opening to the math
// task's prompts (forced_style); with none, nothing changes.
// Under mpirun the ranks split each step's prompts (train/rl_data_parallel.cpp); with one process
// every data-parallel hook is the identity.
#pragma once
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <yaml-cpp/yaml.h>

#include "data/tokenizer.h"
#include "engine/model.h"
#include "engine/sampler.h"
#include "train/rl_controls.h"
#include "train/run_dir.h"
#include "train/rl_losses.h"
#include "util/util.h"

namespace chamber {

// The config's choices, held as enums: the parser turns the YAML's names into these once
// (rl_config_finalize checks how they combine) and the step code compares enums, never strings.
// *_name gives the name the YAML uses, which rl_config_yaml writes back.
enum class RLAlgorithm { ppo, grpo, ei };
// How the KL to the frozen reference enters: k1 as a per-token reward penalty, or k3 as a loss
// term. by_algorithm (written "") resolves to reward_k1 for ppo and loss_k3 otherwise.
enum class KLMode { by_algorithm, reward_k1, loss_k3 };
// ei.restart: each round continues training the policy, or restarts from the base model.
enum class EIRestart { continue_policy, base };
const char* rl_algorithm_name(RLAlgorithm a);   // ppo | grpo | ei
const char* kl_mode_name(KLMode m);             // reward_k1 | loss_k3 | ""
const char* loss_agg_name(LossAgg a);           // token_mean | seq_mean
const char* ei_restart_name(EIRestart r);       // continue | base

struct RLConfig {
  std::string file;                  // where it came from
  std::string name;                  // run name (default: the file's stem)
  std::string init;                  // starting checkpoint (or run directory); also the reference
  RLAlgorithm algorithm = RLAlgorithm::grpo;

  // prompts: math-world problems of a split, problem index = (step * prompts_per_step + i) % count
  std::string split = "easy";
  int64_t prompt_seed = 1;
  int prompt_count = 0;              // 0 = never repeat (a fresh problem every time)
  int min_ops = 0, max_ops = 0;      // 0 = the split's default range

  // rollouts
  int prompts_per_step = 64;
  int samples_per_prompt = 8;
  float temperature = 0.7f;
  float top_p = 1.0f;
  int top_k = 0;
  int max_new_tokens = 256;
  int rollout_batch = 64;            // sequences per sampler call (KV cache size)
  int micro_batch = 16;              // sequences per training forward/backward

  // optimiser (constant after a linear warm-up: RL needs the warm-up, see the paper notes)
  float lr = 1e-4f;                  // actor (policy trunk and LM head)
  float critic_lr = 1e-4f;           // value head, or the whole separate critic
  int warmup_steps = 10;
  float weight_decay = 0.0f;
  float beta1 = 0.9f, beta2 = 0.95f, adam_eps = 1e-8f;
  float grad_clip = 1.0f;            // global norm, per model; 0 = off

  // policy loss (ppo and grpo)
  float clip = 0.2f;
  int epochs = 1;                    // passes over each rollout batch
  int minibatches = 1;               // optimiser steps per epoch
  float kl_coef = 0.001f;
  KLMode kl_mode = KLMode::by_algorithm;   // rl_config_finalize resolves by_algorithm
  float entropy_coef = 0.0f;         // score-function surrogate (rl_losses.h)
  LossAgg loss_agg = LossAgg::token_mean;  // rl_losses.h

  // ppo
  float value_clip = 0.2f;
  float vf_coef = 0.5f;
  float gamma = 1.0f, lambda = 0.95f;
  bool whiten_advantages = true;
  bool separate_critic = false;      // a second GPT from the same checkpoint instead of the head

  // grpo
  float grpo_eps = 1e-4f;
  bool grpo_scale_by_std = true;

  // expert iteration (samples_per_prompt = k; ei uses its own sampling temperature/top_p)
  int ei_epochs = 2;
  int ei_batch = 16;                 // sequences per SFT step
  float ei_temperature = 1.0f;
  float ei_top_p = 0.95f;
  EIRestart ei_restart = EIRestart::continue_policy;
  bool ei_accumulate = false;        // keep earlier rounds' correct solutions in the SFT set

  // evaluation: greedy pass@1 on problems of a split (0 problems = off)
  std::string eval_split = "test";
  int64_t eval_seed = 2;             // differs from the prompts' seed: held-out problems
  int eval_problems = 64;
  int eval_interval = 10;            // steps; also at the start and the end
  // sampling-free instruments (train/rl_probes.h): style probes on problems 0..probe_prompts-1 of
  // the eval split and seed, and per-source held-out NLL
  int probe_interval = 10;           // steps; also at step 0 and the end; 0 = off
  int probe_prompts = 32;            // 0 = per-source NLL only
  int probe_tokens = 8;              // tokens of each style's opening

  // loop
  int steps = 100;
  int64_t seed = 1;
  std::string device = "cpu";
  int threads = 0;
  // fp32 | bf16 (mixed precision on --device cuda: policy, reference, critic and KV cache compute
  // in bf16 over fp32 master weights; see train.dtype in pretraining)
  std::string dtype = "fp32";
  int log_interval = 1;
  int checkpoint_interval = 0;       // extra checkpoints every N steps (log-spaced ones always)

  // counterfactual control of the reward or the rollouts' opening (train/rl_controls.h)
  RLControl control;
};

RLConfig load_rl_config(const std::string& path, const std::vector<std::string>& overrides);
RLConfig parse_rl_config(YAML::Node root, const std::string& file);
std::string rl_config_yaml(const RLConfig& cfg);
// Fills the algorithm-dependent defaults (kl_mode) and checks combinations. Called by the parser;
// tests that build an RLConfig by hand call it too.
void rl_config_finalize(RLConfig& cfg);

// ---- the task ----
struct RLPrompt {
  std::vector<int> tokens;           // what the model is fed (starts with eot: a new document)
  std::string gold;                  // passed to the reward function
  std::string opening;               // forced_style: the style's opening, the prompt's last tokens;
                                     // the reward grades opening + completion
};
struct RLReward {
  float reward = 0.0f;
  bool correct = false;
  bool parsed = false;               // the grader extracted an answer (format_only rewards it)
  std::string label;                 // style label (math: grader's omi1 | tinygsm | text)
};
struct RLTask {
  std::function<std::vector<RLPrompt>(int64_t first_index, int count)> prompts;
  std::function<RLReward(const RLPrompt&, const Completion&)> reward;
};
// Math-world problems of a split graded by data/grader.h (reward 1 correct, 0 otherwise). Problem
// i of the task is problem (i % count) of the split (count 0: i). The prompt is eot + the problem's
// prompt (question + blank line); with a forced_style, followed by that style's opening
// (forced_style_opening). `tok` must outlive the task.
RLTask math_rl_task(const std::string& split, int64_t seed, int count, int min_ops, int max_ops,
                    const Tokenizer& tok, const std::string& forced_style = "");

// ---- one sampled sequence and everything the update needs about it ----
struct Rollout {
  int group = 0;                     // which prompt of the step (GRPO groups)
  std::vector<int> tokens;           // prompt + response (+ eot when the model ended it)
  int prompt_len = 0;                // response tokens are tokens[prompt_len..]
  std::vector<float> sampler_logprobs;
  RLReward reward;
  std::string text, finish;
  // per response token, filled by the scoring passes and the advantage computation
  std::vector<float> old_logprobs, ref_logprobs, values, entropy, advantages, returns;
  int response_len() const { return (int)tokens.size() - prompt_len; }
};

// ---- the session: models and state of one run ----
struct RLSession {
  RLConfig cfg;
  GPT* policy = nullptr;             // trained; created with training buffers
  GPT* reference = nullptr;          // frozen copy of the starting weights (no training buffers)
  GPT* critic = nullptr;             // separate critic (ppo with separate_critic), else null
  const Tokenizer* tok = nullptr;
  RLTask task;
  RLTask eval_task;                  // prompts null = no evaluation
  Sampler sampler;                   // created by rl_session_begin
  Rng rng{1};
  // Data parallel (engine/comm.h): the ranks sharing each step's prompts; null for one process.
  const Comm* comm = nullptr;
  // expert iteration's kept solutions (ei_accumulate): prompt+response token strings seen
  std::vector<Rollout> ei_data;
  std::set<std::vector<int>> ei_seen;
  // Counterfactual control: random's p once known (control.p, or measured on the first batch;
  // -1 before), and the last rl_generate's control metrics (reward_true, control_p) that rl_step
  // adds to the step's line.
  double control_p = -1;
  nlohmann::json control_line = nlohmann::json::object();
  // Seconds spent in the current step's phases: sampling and grading (rl_generate), scoring
  // (rl_score's forward passes). rl_step_times reports them and resets.
  double sample_s = 0, grade_s = 0, score_s = 0;
};

// Creates the sampler and checks the models agree. The caller owns the GPTs and the tokenizer.
void rl_session_begin(RLSession& s);
// Rows of the sampler's KV cache: one rollout batch, or one evaluation batch if that is larger.
int rl_sampler_rows(const RLConfig& cfg);
void rl_session_end(RLSession& s);

// One step of the configured algorithm; returns the metrics line (without eval metrics).
nlohmann::json rl_step(RLSession& s, int step);
nlohmann::json rl_step_ppo(RLSession& s, int step);    // train/rl_ppo.cpp
nlohmann::json rl_step_grpo(RLSession& s, int step);   // train/rl_grpo.cpp
nlohmann::json rl_step_ei(RLSession& s, int step);     // train/rl_ei.cpp

// ---- rollouts (train/rl_rollout.cpp) ----
// Samples `samples` completions of each of the step's prompts and rewards them (the task's
// reward, then the configured control's: rl_apply_control).
std::vector<Rollout> rl_generate(RLSession& s, int64_t first_index, int n_prompts, int samples,
                                 const SamplingParams& params);
SamplingParams rl_sampling_params(const RLConfig& cfg, bool for_ei);
// Rewrites the rewards of a batch whose first prompt is `first_index` (samples_per_prompt
// rollouts each, in prompt order) by cfg.control (nothing for none) and records its metrics in
// s.control_line; random's p is measured on the first batch that needs it (step 0) unless
// control.p gives it. On a data-parallel rank the batch is its share of the step
// (first_index = step * prompts_per_step + share.first); random's draws are the step's whatever
// the rank count.
void rl_apply_control(RLSession& s, std::vector<Rollout>& rollouts, int64_t first_index,
                      int samples_per_prompt);
// Whether expert iteration keeps a rollout: correct, or under a control, rewarded by it.
bool rl_rollout_rewarded(const RLConfig& cfg, const Rollout& r);

// ---- scoring (train/rl_score.cpp) ----
// Full forward passes in micro-batches over the given rollouts: fills each rollout's per-token
// log-probs (into old_logprobs or ref_logprobs, or none), entropy and values as asked.
enum class ScoreInto { old_logprobs, ref_logprobs, values_only };
void rl_score(RLSession& s, GPT& model, std::vector<Rollout>& rollouts, ScoreInto into,
              bool want_entropy, bool want_values);

// ---- the update (train/rl_update.cpp) ----
// The clipped-surrogate update shared by PPO and GRPO: epochs x minibatches over the rollouts
// (advantages, old/ref log-probs, and for PPO values/returns filled in). Adds loss, clip
// fraction, KL, entropy, grad norm (and value loss) to `line`.
void rl_policy_update(RLSession& s, std::vector<Rollout>& rollouts, int step, bool with_values,
                      nlohmann::json& line);
// Supervised fine-tuning on the response tokens of `data` (token-mean NLL); returns mean loss.
double rl_sft(RLSession& s, const std::vector<Rollout>& data, int epochs);
// AdamW with the actor learning rate on every parameter and value_lr on the value head; global-norm
// clipping. Returns the gradient norm before clipping.
// Under data parallelism the gradients are summed over the ranks first (rl_average_gradients).
double rl_optimizer_step(const RLSession& s, GPT& model, float lr, float value_lr);
// Linear warm-up over warmup_steps to `peak`, then constant.
float rl_learning_rate(const RLConfig& cfg, float peak, int step);

// ---- metrics and evaluation (train/rl_eval.cpp) ----
// Metrics of a rollout batch: reward, response length, correct share, style shares.
// Under data parallelism the counts are summed over the ranks (every rank gets the whole batch's).
void rl_rollout_metrics(const RLSession& s, const std::vector<Rollout>& rollouts, nlohmann::json& line);
// Writes the step's time per phase into `line`: sample_s, grade_s, score_s, update_s (the rest
// since step_start: losses, backward, optimiser) and step_s; resets the session's counters.
void rl_step_times(RLSession& s, double step_start, nlohmann::json& line);
// Greedy pass@1 and style shares of the current policy on cfg.eval_problems prompts of eval_task:
// {"eval_reward", "eval_pass1", "eval_style_<label>", "eval_s"}; empty when evaluation is off.
nlohmann::json rl_evaluate(RLSession& s);

// ---- data parallel (train/rl_data_parallel.cpp) ----
// The session's ranks (one process when s.comm is null).
const Comm& rl_comm(const RLSession& s);
// values[0..n) summed over the ranks, in place.
void rl_sum_over_ranks(const RLSession& s, double* values, int n);
// Counts keyed by name (per-style counts), summed over the ranks; keys any rank has.
void rl_sum_named_over_ranks(const RLSession& s, std::map<std::string, double>& counts);
// Every rank's rollouts (tokens and prompt_len only), in rank order, on every rank.
std::vector<Rollout> rl_gather_rollouts(const RLSession& s, const std::vector<Rollout>& mine);
// The sampling stream of `rank` at `step` when several ranks sample (one process keeps the run's
// single stream, s.rng, as before).
Rng rl_rank_step_stream(int64_t seed, int step, int rank);
// The global gradient of a loss each rank normalised by the whole batch's counts: the sum over
// ranks (the mean all-reduce times N). Returns its norm. One process: the norm.
double rl_average_gradients(const RLSession& s, GPT& model);

// ---- the whole run (train/rl_run.cpp) ----
using RLOptions = RunOptions;   // train/run_dir.h
// Steps with a log-spaced checkpoint: 1, 2, 4, 8, ... (and the last step).
bool rl_is_checkpoint_step(int step_done, int total_steps, int interval);
std::string run_rl(RLConfig cfg, const RLOptions& opt);

}  // namespace chamber
