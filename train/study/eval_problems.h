// Per-problem results of an evaluation, for the report's bootstrap (train/study/bootstrap.h).
//
// `chamber eval` (train/eval.h) writes every generation to generations.jsonl with its set, problem
// id, sample number (-1 greedy), style label, answer and correctness, so each number of eval.json
// can be recomputed per problem without a new file (and runs evaluated before the report had
// intervals get them too). A metric is sum(numerator) / sum(denominator) over the problems:
//   SET.pass@1_greedy                     greedy answer correct            / 1
//   SET.pass@K                            1 - C(n-c, K) / C(n, K)          / 1   (unbiased, per problem)
//   SET.maj@K                             majority of the first K correct  / 1
//   SET.sample_accuracy                   correct samples                  / samples
//   SET.styles_samples.STYLE.share        samples in STYLE                 / samples
//   SET.styles_samples.STYLE.accuracy     correct samples in STYLE         / samples in STYLE
//   SET.styles_greedy.STYLE.share|accuracy  the same for the greedy answer
// so the ratio over all problems is exactly eval.json's number (but for 0/0, a style no answer used,
// where eval.json writes 0 and the report keeps that). An empty label counts as "text",
// as in evaluate_set.
#pragma once
#include <map>
#include <string>
#include <vector>

namespace chamber {

struct PerProblem {
  std::vector<double> numerator, denominator;   // one per problem, in the evaluation's order
};

// The per-problem form of each key of `eval_flat` (an eval.json flattened as the report does:
// "SET.pass@8", ...) that is one of the metrics above, from the generations file beside it.
// A missing or unreadable file gives an empty map (the report then has the numbers only).
std::map<std::string, PerProblem> read_eval_problems(const std::string& generations_path,
                                                     const std::map<std::string, double>& eval_flat);

}  // namespace chamber
