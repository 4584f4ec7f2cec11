// Evaluation of a model on math problems, the paper's way: greedy pass@1, and from n samples at a
// temperature the unbiased pass@k and majority@k, with every generation labelled by style
// (tinygsm / omi1 / text, data/grader.h) so the share of each style and its accuracy can be
// followed over RL.
//
//   pass@1     the greedy completion is correct (mean over problems)
//   pass@k     1 - C(n-c, k) / C(n, k) per problem with c of n samples correct (unbiased; the
//              product form of data/grader.h's pass_at_k never overflows), mean over problems
//   maj@k      the most common extracted answer among the first k samples (ties: the answer seen
//              first; samples with no answer do not vote) is correct, mean over problems
//   styles     per label: share of generations and accuracy within them, separately for the
//              greedy and the sampled generations
// Problems whose prompt leaves no room for a completion in the context count as wrong (and are
// reported as too_long), so metrics stay comparable across sets.
//
// Generations use the KV-cache sampler (engine/sampler.h); a set's samples are drawn in batches
// of batch_size rows, each row from its own stream seeded in order, so results do not depend on
// the batch size. train/rl*.cpp call evaluate_set during training; `chamber eval` wraps it.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "data/tokenizer.h"
#include "engine/comm.h"
#include "engine/model.h"
#include "util/yaml_schema.h"

namespace chamber {

struct EvalConfig {
  // Named sets: "synthetic:SPLIT" (math world, data/mathworld.h; SPLIT train|rl|test|easy|hard|longer),
  // or "gsm8k:PATH" / "math:PATH" (jsonl, data/importers.h).
  std::vector<std::string> sets = {"synthetic:test"};
  int count = 200;                // problems per set (the first `count`; 0 = a file's every problem)
  bool greedy = true;             // greedy pass@1
  int n_samples = 8;              // samples per problem for pass@k / maj@k (0 = none)
  std::vector<int> k = {1, 8};    // k values for pass@k and maj@k, each 1..n_samples
  float temperature = 0.7f;
  int top_k = 0;
  float top_p = 1.0f;
  int max_new_tokens = 256;       // also capped by the context
  std::vector<std::string> stop_strings;  // besides <|endoftext|>
  int batch_size = 64;            // sequences per sampler call
  int64_t seed = 1;               // sampling
  int64_t problem_seed = 1;       // the math world's seed (which problems a synthetic set holds)
};
// Limits: every generation of a set is kept in memory (and written to generations.jsonl).
inline constexpr int kMaxEvalProblems = 1'000'000;        // count, and a file set's problems
inline constexpr int kMaxEvalSamples = 100'000;           // n_samples
inline constexpr int64_t kMaxEvalGenerations = 2'000'000; // problems x (greedy + n_samples), per set

// Reads an `eval:` map strictly (unknown keys are errors naming the key and line).
EvalConfig read_eval_config(YamlMap m);

struct EvalProblem {
  std::string id;                 // "SET#INDEX"
  std::string prompt;             // question + "\n\n"
  std::string gold;
};
std::vector<EvalProblem> load_eval_set(const std::string& spec, int count, int64_t seed);

// The tokens a model is prompted with, as RL's rollouts are (train/rl_rollout.cpp): the
// end-of-text token that precedes every pretraining document, then the prompt encoded as it
// appears inside a document (encode_prompt). Without the leading end-of-text a model pretrained
// on packed documents sees a question where no document starts (measured: greedy pass@1 0.25
// against 0.48 for the same checkpoint on the same 64 problems).
std::vector<int> eval_prompt_tokens(const Tokenizer& tok, const std::string& prompt);
// Tokens of a prompt that ends in whitespace, split the way that whitespace is split inside a
// pretraining document (where the solution follows it), not as a trailing piece.
std::vector<int> encode_prompt(const Tokenizer& tok, const std::string& prompt);

// One generation, as written to generations.jsonl.
struct EvalGeneration {
  std::string set, id;
  int sample = -1;                // -1 greedy, else 0..n_samples-1
  std::string prompt, completion, label, answer, gold;
  bool correct = false;
  double logprob_sum = 0.0;       // sum of the completion tokens' logprobs (untempered)
  int num_tokens = 0;
  std::string finish_reason;      // eot | stop | length | too_long
};
// Key order as listed above. Completions may hold invalid UTF-8 (a cut multi-byte character):
// dump with nlohmann::json::error_handler_t::replace.
nlohmann::ordered_json generation_json(const EvalGeneration& g);

struct StyleStats {
  int64_t count = 0, correct = 0;
};
// Per label (always tinygsm, omi1, text): {count, share, accuracy}.
nlohmann::json style_json(const std::map<std::string, StyleStats>& styles);

struct EvalSetResult {
  std::string set;
  int problems = 0, too_long = 0;
  double pass1_greedy = 0.0;            // when greedy
  double sample_accuracy = 0.0;         // mean over all samples (pass@1 estimated from samples)
  std::map<int, double> pass_at, maj_at;
  std::map<std::string, StyleStats> greedy_styles, sample_styles;
  double mean_completion_tokens = 0.0;  // over every generation
  double seconds = 0.0;
  int64_t generated_tokens = 0;
};
nlohmann::json eval_result_json(const EvalSetResult& r);

// Majority vote among answers (in sample order) whose correctness is known: true when the most
// common non-empty answer (ties: the one seen first) is a correct one.
bool majority_correct(const std::vector<std::string>& answers, const std::vector<bool>& correct);

// Generates, grades and scores one set. Appends every generation to `generations` if not null.
// With `comm` (data parallel, engine/comm.h) each rank generates a share of the set, and every
// rank returns the whole result, equal to one process's (each row's sampling stream is the same).
EvalSetResult evaluate_set(GPT& model, const Tokenizer& tok, const std::string& set_name,
                           const std::vector<EvalProblem>& problems, const EvalConfig& cfg,
                           std::vector<EvalGeneration>* generations, const Comm* comm = nullptr);

// Loads a checkpoint (on `device`), evaluates it on every set of cfg, and writes OUT/eval.json
// ({"checkpoint", "device", "config", "sets": {NAME: eval_result_json}}) and OUT/generations.jsonl
// (OUT empty: CHECKPOINT/eval). Returns the eval.json object. Used by `chamber eval` and `chamber run`.
// With `comm`, every rank evaluates its share of each set and rank 0 writes the files.
nlohmann::ordered_json evaluate_checkpoint(const EvalConfig& cfg, const std::string& checkpoint,
                                           const std::string& device, std::string out, bool quiet,
                                           Comm* comm = nullptr);

}  // namespace chamber
