// Confidence intervals for the report: a two-level percentile bootstrap over seeds and problems.
//
// A metric of one run (one seed) is a ratio over the evaluation's problems,
//   score = sum_i numerator_i / sum_i denominator_i,
// which is the mean over problems when every denominator is 1 (per-problem unbiased pass@k,
// maj@k, greedy correctness) and a pooled ratio otherwise (accuracy within a style: correct
// samples of that style over samples of that style). A run whose per-problem results are unknown
// (a number logged during RL) has only its score.
//
// One resample draws as many seeds as there are, with replacement; for each drawn seed it draws
// as many problems as it has, with replacement, and recomputes its score (a seed without
// per-problem results keeps its score); the resample's value is the mean of those scores. The
// interval is the 2.5th and 97.5th percentiles of kBootstrapResamples such values, drawn from a
// generator seeded with kBootstrapSeed, so a report is the same every time it is written. With
// several groups (the report's comparison tables average over the other axes' values), each
// group is resampled that way and a resample's value is the mean over the groups.
//
// Why two levels: seeds and problems are both samples (of training randomness, of the task), and
// a finding should hold beyond the particular ones drawn. With few seeds (3 seeds have only 10
// distinct resamples) the seed level dominates and the interval is at best a rough guide.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace chamber {

inline constexpr int kBootstrapResamples = 1000;
inline constexpr uint64_t kBootstrapSeed = 1;
inline constexpr double kBootstrapLevel = 0.95;

// The method in one sentence, for the report page.
extern const char* const kBootstrapMethod;

// One seed's result on one metric.
struct SeedResult {
  double score = 0.0 / 0.0;         // the metric as the run reported it (NaN: the run lacks it)
  std::vector<double> numerator;    // per problem (empty: per-problem results unknown)
  std::vector<double> denominator;  // per problem, same length
};

// A mean with its interval; lo and hi are NaN when there is nothing to resample (one seed without
// per-problem results) and every field is NaN when no seed has the metric.
struct Interval {
  double mean = 0.0 / 0.0, lo = 0.0 / 0.0, hi = 0.0 / 0.0;
  int seeds = 0;                    // seeds with the metric (over all groups)
};

// sum(numerator) / sum(denominator) when per-problem results are there, else `score` (also when
// every denominator is 0: the accuracy within a style that no answer used, which eval.json gives as 0).
double seed_score(const SeedResult& r);

// Mean over the seeds with the metric, and its bootstrap interval.
Interval bootstrap_interval(const std::vector<SeedResult>& seeds, int resamples = kBootstrapResamples,
                            uint64_t rng_seed = kBootstrapSeed, double level = kBootstrapLevel);
// Mean over groups of each group's mean over its seeds (groups without the metric left out), and
// its interval from resampling within every group.
Interval bootstrap_interval_of_groups(const std::vector<std::vector<SeedResult>>& groups,
                                      int resamples = kBootstrapResamples, uint64_t rng_seed = kBootstrapSeed,
                                      double level = kBootstrapLevel);

// "0.750 [0.680, 0.810]" (only the mean when there is no interval; "-" for NaN).
std::string interval_text(const Interval& iv);

}  // namespace chamber
