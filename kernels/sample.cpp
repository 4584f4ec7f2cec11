// Token sampling reference; the contract is in sample.h.
#include "kernels/sample.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <numeric>
#include <type_traits>
#include <vector>

namespace chamber {

// Plain temperature sampling: inverse CDF over the ids in natural order, no sort needed.
static int sample_row_plain(const float* logits, int n_draw, float temperature, double uniform,
                            int best) {
  const double mx = logits[best];
  double total = 0.0;
  for (int j = 0; j < n_draw; j++) total += std::exp(((double)logits[j] - mx) / temperature);
  const double target = uniform * total;
  double cumulative = 0.0;
  for (int j = 0; j < n_draw; j++) {
    cumulative += std::exp(((double)logits[j] - mx) / temperature);
    if (cumulative > target) return j;
  }
  return n_draw - 1;
}

int sample_row_ref(const float* logits, int n_draw, float temperature, int top_k, float top_p,
                   double uniform) {
  int best = 0;
  for (int j = 1; j < n_draw; j++)
    if (logits[j] > logits[best]) best = j;
  if (temperature <= 0.0f) return best;
  const bool top_k_on = top_k > 0 && top_k < n_draw, top_p_on = top_p < 1.0f;
  if (!top_k_on && !top_p_on) return sample_row_plain(logits, n_draw, temperature, uniform, best);

  // Candidates ordered by logit, ties by lower id first; top-k keeps the first k.
  std::vector<int> ids(n_draw);
  std::iota(ids.begin(), ids.end(), 0);
  auto higher = [&](int a, int b) {
    return logits[a] > logits[b] || (logits[a] == logits[b] && a < b);
  };
  int kept = top_k_on ? top_k : n_draw;
  std::partial_sort(ids.begin(), ids.begin() + kept, ids.end(), higher);
  const double mx = logits[ids[0]];
  std::vector<double> prob(kept);
  double total = 0;
  for (int i = 0; i < kept; i++)
    total += prob[i] = std::exp(((double)logits[ids[i]] - mx) / temperature);
  if (top_p_on) {
    // Nucleus: the shortest prefix (in probability order) whose mass reaches top_p.
    double cumulative = 0, need = (double)top_p * total;
    int cut = kept;
    for (int i = 0; i < kept; i++) {
      cumulative += prob[i];
      if (cumulative >= need) {
        cut = i + 1;
        break;
      }
    }
    kept = cut;
    total = cumulative;
  }
  double r = uniform * total;
  for (int i = 0; i < kept; i++) {
    r -= prob[i];
    if (r < 0) return ids[i];
  }
  return ids[kept - 1];  // r landed on the total through rounding
}

double logprob_row_ref(const float* logits, int V, int id) {
  double mx = logits[0];
  for (int j = 1; j < V; j++) mx = std::fmax(mx, (double)logits[j]);
  double sum = 0.0;
  for (int j = 0; j < V; j++) sum += std::exp((double)logits[j] - mx);
  return (double)logits[id] - mx - std::log(sum);
}

template <typename Real>
void sample_tokens_ref(int* ids, float* logprobs, const Real* logits, const double* uniforms,
                       int N, int n_draw, int V, int Vp, float temperature, int top_k,
                       float top_p) {
  static_assert(std::is_same_v<Real, float>, "the draw is defined on float logits");
#pragma omp parallel for schedule(static) if (N >= 8)
  for (int i = 0; i < N; i++) {
    const float* row = logits + (size_t)i * Vp;
    ids[i] = sample_row_ref(row, n_draw, temperature, top_k, top_p,
                            temperature > 0.0f ? uniforms[i] : 0.0);
    logprobs[i] = (float)logprob_row_ref(row, V, ids[i]);
  }
}

template void sample_tokens_ref<float>(int*, float*, const float*, const double*, int, int, int, int,
                                       float, int, float);

}  // namespace chamber
