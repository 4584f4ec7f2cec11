// The two-level bootstrap: see bootstrap.h.
#include "train/study/bootstrap.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "util/util.h"

namespace chamber {

const char* const kBootstrapMethod =
    "Intervals are 95% percentile bootstraps (1000 resamples, fixed generator seed 1): each resample "
    "draws the seeds with replacement, then each drawn seed's evaluation problems with replacement "
    "(per-problem unbiased pass@k, maj@k and style counts, from the evaluation's generations), and "
    "averages the seeds; numbers logged during RL, which have no per-problem results, resample the "
    "seeds only.";

// Per-problem results count when they are there and their denominators are not all zero (the
// accuracy within a style no answer used is 0/0; eval.json writes 0 for it, which is kept).
static bool by_problem(const SeedResult& r) {
  double den = 0;
  for (double d : r.denominator) den += d;
  return !r.numerator.empty() && den > 0;
}

double seed_score(const SeedResult& r) {
  if (!by_problem(r)) return r.score;
  double num = 0, den = 0;
  for (size_t i = 0; i < r.numerator.size(); i++) num += r.numerator[i], den += r.denominator[i];
  return num / den;
}

namespace {

// One seed's score on a resample of its problems (its own score when it has none). NaN when no
// drawn problem counts (a rare style): the caller leaves that resample out.
double resampled_score(const SeedResult& r, bool problems, Rng& rng) {
  if (!problems) return r.score;
  size_t n = r.numerator.size();
  double num = 0, den = 0;
  for (size_t i = 0; i < n; i++) {
    size_t pick = (size_t)rng.below(n);
    num += r.numerator[pick], den += r.denominator[pick];
  }
  return den > 0 ? num / den : NAN;
}

// The value at fraction q of sorted values, linearly interpolated between ranks.
double quantile(const std::vector<double>& sorted, double q) {
  double at = q * (double)(sorted.size() - 1);
  size_t below = (size_t)std::floor(at);
  size_t above = std::min(below + 1, sorted.size() - 1);
  return sorted[below] + (at - (double)below) * (sorted[above] - sorted[below]);
}

}  // namespace

Interval bootstrap_interval_of_groups(const std::vector<std::vector<SeedResult>>& groups, int resamples,
                                      uint64_t rng_seed, double level) {
  // Keep the seeds that have the metric, and the groups that keep any.
  struct Kept {
    const SeedResult* result;
    bool problems;   // resample its problems
  };
  std::vector<std::vector<Kept>> kept;
  bool anything_to_resample = false;
  Interval iv;
  double sum_of_means = 0;
  for (const auto& group : groups) {
    std::vector<Kept> seeds;
    double sum = 0;
    for (const SeedResult& r : group) {
      double s = seed_score(r);
      if (!std::isfinite(s)) continue;
      seeds.push_back({&r, by_problem(r)});
      sum += s;
      anything_to_resample |= seeds.back().problems;
    }
    if (seeds.empty()) continue;
    anything_to_resample |= seeds.size() > 1;
    sum_of_means += sum / (double)seeds.size();
    iv.seeds += (int)seeds.size();
    kept.push_back(seeds);
  }
  if (kept.empty()) return iv;
  iv.mean = sum_of_means / (double)kept.size();
  if (!anything_to_resample) return iv;

  Rng rng(rng_seed);
  std::vector<double> values;
  values.reserve((size_t)resamples);
  for (int b = 0; b < resamples; b++) {
    double total = 0;
    for (const auto& seeds : kept) {
      double group_sum = 0;
      for (size_t j = 0; j < seeds.size(); j++) {
        const Kept& drawn = seeds[(size_t)rng.below(seeds.size())];
        group_sum += resampled_score(*drawn.result, drawn.problems, rng);
      }
      total += group_sum / (double)seeds.size();
    }
    if (std::isfinite(total)) values.push_back(total / (double)kept.size());
  }
  if (values.empty()) return iv;
  std::sort(values.begin(), values.end());
  double tail = (1.0 - level) / 2.0;
  iv.lo = quantile(values, tail);
  iv.hi = quantile(values, 1.0 - tail);
  return iv;
}

Interval bootstrap_interval(const std::vector<SeedResult>& seeds, int resamples, uint64_t rng_seed, double level) {
  return bootstrap_interval_of_groups({seeds}, resamples, rng_seed, level);
}

std::string interval_text(const Interval& iv) {
  if (!std::isfinite(iv.mean)) return "-";
  // Three decimals, as the report's other numbers; large values (losses in the hundreds) whole.
  const char* format = std::fabs(iv.mean) >= 100 ? "%.0f" : "%.3f";
  char mean[32], lo[32], hi[32];
  std::snprintf(mean, sizeof mean, format, iv.mean);
  if (!std::isfinite(iv.lo)) return mean;
  std::snprintf(lo, sizeof lo, format, iv.lo);
  std::snprintf(hi, sizeof hi, format, iv.hi);
  return std::string(mean) + " [" + lo + ", " + hi + "]";
}

}  // namespace chamber
