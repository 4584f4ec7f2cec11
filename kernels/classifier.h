// Fused classifier: softmax, cross-entropy loss, entropy and the logits gradient in one call;
// plain C++ reference.
//
// logits (N,Vp): the first V columns are the vocabulary, columns V..Vp-1 are padding (never read).
// For each row i with targets[i] >= 0 (targets[i] < V), with p = softmax(logits[i, 0..V)):
//     losses[i]  = -log p[targets[i]]                       (the token's negative log-prob)
//     entropy[i] = -sum_j p_j log p_j                       (only if entropy != null)
//     if write_grad: logits[i,:] is OVERWRITTEN with
//         d(sum_i w_i losses[i]) / dlogits[i,:] = token_weights[i] * (p - onehot(targets[i]))
//       and 0 in the padding columns.
// Rows with targets[i] < 0 get loss 0, entropy 0 and (if write_grad) an all-zero gradient row.
// losses (N) and entropy (N) are OVERWRITTEN. token_weights (N) may be null only when
// write_grad is false; weights may have any sign (RL policy gradients use this).
//
// Numerics: with m = max_j x_j, S = sum_j e^(x_j - m), A = sum_j e^(x_j - m) (x_j - m):
//     loss = log S - (x_t - m),   entropy = log S - A / S,   p_j = e^(x_j - m) / S.
// m, S and A are found in a single read of the row (an "online" softmax: when a new maximum
// appears the running sums are rescaled to it), then one more pass writes the gradient.
//
// Parallel over rows; each row is independent, so the result is deterministic.
//
// loss_sum: the training step's loss without reading the losses back to the host,
//     *total += sum over rows i with targets[i] >= 0 of w_i * losses[i]   (w = 1 without weights)
// the rows' sum formed in double, in row order, before it is added to *total.
// Templated over the scalar (float, double); the Ops table uses the float instantiation.
#pragma once

namespace chamber {

template <typename Real>
void classifier_forward_backward_ref(Real* logits, Real* losses, Real* entropy, const int* targets,
                                     const Real* token_weights, int N, int V, int Vp,
                                     bool write_grad);

template <typename Real>
void loss_sum_ref(double* total, const Real* losses, const Real* token_weights, const int* targets,
                  int N);

}  // namespace chamber
