// Fused classifier reference; the contract (and the online-softmax identities) are in classifier.h.
#include "kernels/classifier.h"

#include <cassert>
#include <cmath>
#include <cstddef>

namespace chamber {

template <typename Real>
void classifier_forward_backward_ref(Real* logits, Real* losses, Real* entropy, const int* targets,
                                     const Real* token_weights, int N, int V, int Vp,
                                     bool write_grad) {
  assert(V >= 1 && V <= Vp);
  assert(!write_grad || token_weights != nullptr);
#pragma omp parallel for schedule(static)
  for (int i = 0; i < N; i++) {
    Real* x = logits + (size_t)i * Vp;
    int target = targets[i];
    if (target < 0) {  // ignored row: no loss, no entropy, no gradient
      losses[i] = 0;
      if (entropy) entropy[i] = 0;
      if (write_grad)
        for (int j = 0; j < Vp; j++) x[j] = 0;
      continue;
    }
    assert(target < V);

    // One read of the row: running max m, S = sum e^(x-m), A = sum e^(x-m) (x-m).
    // When x_j exceeds m, the sums so far are re-expressed relative to the new max:
    //   S' = r S,  A' = r (A + (m - m') S),  r = e^(m - m').
    Real m = x[0], S = 1, A = 0;
    for (int j = 1; j < V; j++) {
      if (x[j] > m) {
        Real r = std::exp(m - x[j]);
        A = r * (A + (m - x[j]) * S);
        S = r * S + 1;  // the new maximum contributes e^0 = 1 and (x - m') = 0
        m = x[j];
      } else {
        Real e = std::exp(x[j] - m);
        S += e;
        A += e * (x[j] - m);
      }
    }
    Real log_S = std::log(S);
    losses[i] = log_S - (x[target] - m);
    if (entropy) entropy[i] = log_S - A / S;

    if (write_grad) {
      Real w = token_weights[i];
      for (int j = 0; j < V; j++) {
        Real p = std::exp(x[j] - m) / S;
        x[j] = w * (p - (j == target ? Real(1) : Real(0)));
      }
      for (int j = V; j < Vp; j++) x[j] = 0;
    }
  }
}

template <typename Real>
void loss_sum_ref(double* total, const Real* losses, const Real* token_weights, const int* targets,
                  int N) {
  double sum = 0.0;
  for (int i = 0; i < N; i++)
    if (targets[i] >= 0) sum += (token_weights ? (double)token_weights[i] : 1.0) * (double)losses[i];
  *total += sum;
}

template void loss_sum_ref<float>(double*, const float*, const float*, const int*, int);
template void loss_sum_ref<double>(double*, const double*, const double*, const int*, int);
template void classifier_forward_backward_ref<float>(float*, float*, float*, const int*, const float*, int, int, int, bool);
template void classifier_forward_backward_ref<double>(double*, double*, double*, const int*, const double*, int, int, int, bool);

}  // namespace chamber
