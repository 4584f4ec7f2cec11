// Token sampling reference; the contract is in sample.h.
#include "kernels/sample.h"

#include <cmath>
#include <cstddef>
#include <type_traits>

namespace chamber {

int sample_row_ref(const float* logits, int n_draw, float temperature, double uniform) {
  int best = 0;
  for (int j = 1; j < n_draw; j++)
    if (logits[j] > logits[best]) best = j;
  if (temperature <= 0.0f) return best;
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

double logprob_row_ref(const float* logits, int V, int id) {
  double mx = logits[0];
  for (int j = 1; j < V; j++) mx = std::fmax(mx, (double)logits[j]);
  double sum = 0.0;
  for (int j = 0; j < V; j++) sum += std::exp((double)logits[j] - mx);
  return (double)logits[id] - mx - std::log(sum);
}

template <typename Real>
void sample_tokens_ref(int* ids, float* logprobs, const Real* logits, const double* uniforms,
                       int N, int n_draw, int V, int Vp, float temperature) {
  static_assert(std::is_same_v<Real, float>, "the draw is defined on float logits");
#pragma omp parallel for schedule(static) if (N >= 8)
  for (int i = 0; i < N; i++) {
    const float* row = logits + (size_t)i * Vp;
    ids[i] = sample_row_ref(row, n_draw, temperature, temperature > 0.0f ? uniforms[i] : 0.0);
    logprobs[i] = (float)logprob_row_ref(row, V, ids[i]);
  }
}

template void sample_tokens_ref<float>(int*, float*, const float*, const double*, int, int, int, int,
                                       float);

}  // namespace chamber
