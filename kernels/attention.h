// Causal multi-head self-attention, plain C++ reference.
//
// Shapes: qkv (B,T,3C) laid out per position as [ q | k | v ], each C wide and split into NH heads
// of hs = C/NH channels (head h uses channels h*hs .. h*hs+hs-1 of its third). Scale s = 1/sqrt(hs).
//
//   forward, for each b, head h, query position t:
//     score[t2] = s * q[b,t,h] . k[b,t2,h]                 for t2 <= t (causal)
//     lse[b,h,t] = log sum_{t2<=t} exp(score[t2])          (natural log of the softmax normaliser)
//     p[t2] = exp(score[t2] - lse[b,h,t]) = softmax_t2(score)[t2]
//     out[b,t,h*hs + i] = sum_{t2<=t} p[t2] * v[b,t2,h*hs + i]
//   out (B,T,C) and lse (B,NH,T) are OVERWRITTEN. The log-sum-exp is all backward keeps of the
//   softmax: T floats per head instead of the T x T probabilities, which backward recomputes.
//
//   backward, per query row t (p recomputed as exp(score - lse)):
//     da[t2]   = dout[b,t,h] . v[b,t2,h]                                    (dL/dp)
//     dv[t2]  += p[t2] * dout[b,t,h]
//     ds[t2]   = p[t2] * (da[t2] - sum_{t3<=t} p[t3] da[t3])               (softmax backward)
//     dq[t]   += s * sum_{t2<=t} ds[t2] k[t2];     dk[t2] += s * ds[t2] q[t]
//   with dq, dk, dv summed from zero over the query rows: dqkv (B,T,3C) is OVERWRITTEN (the op
//   is its one producer). The row sum sum_t3 p[t3] da[t3] equals dout[b,t,h] . out[b,t,h]:
//   backward also takes the forward's `out` so that a backend can use that form (the GPU kernels
//   do, to avoid a pass over the keys); this reference sums p * da and leaves out unread.
//
// Parallel over (b, h) pairs: dk and dv of one head receive contributions from every later query
// position, so one thread owns a whole head and walks t in order (deterministic, no atomics).
//
// Templated over the scalar (float, double); the Ops table uses the float instantiation.
#pragma once
#include <cmath>
#include <cstddef>

namespace chamber {

// One query's attention row: p[j] = softmax_j(scale * q . k_j) for j < n, with key k_j at
// k0 + j * k_stride (hs values), the max subtracted before exp. Returns the row's log-sum-exp,
// log sum_j exp(scale * q . k_j). Shared by the training forward and the KV-cache decode
// references (kernels/attention_decode.cpp), which differ only in where the keys live, so both
// compute the same float probabilities.
template <typename Real>
inline Real attention_probabilities(Real* p, const Real* q, const Real* k0, size_t k_stride,
                                    int n, int hs, Real scale) {
  Real max_score = -INFINITY;
  for (int j = 0; j < n; j++) {
    const Real* k = k0 + j * k_stride;
    Real dot = 0;
    for (int c = 0; c < hs; c++) dot += q[c] * k[c];
    p[j] = dot * scale;
    if (p[j] > max_score) max_score = p[j];
  }
  Real sum = 0;
  for (int j = 0; j < n; j++) {
    p[j] = std::exp(p[j] - max_score);
    sum += p[j];
  }
  for (int j = 0; j < n; j++) p[j] /= sum;
  return max_score + std::log(sum);
}

template <typename Real>
void attention_forward_ref(Real* out, Real* lse, const Real* qkv, int B, int T, int C, int NH);

template <typename Real>
void attention_backward_ref(Real* dqkv, const Real* dout, const Real* qkv, const Real* out,
                            const Real* lse, int B, int T, int C, int NH);

// Which path the GPU takes (kernels/attention.cu): cuBLASLt products over the T x T scores held
// in a scratch buffer (the scores and their gradient: 2 x B x NH x T x T elements), which is
// possible while that scratch fits in kMaterializedAttentionMaxBytes, or the flash kernels. Here
// so that the analytic profile (train/roofline.cpp) predicts the path the GPU runs.
inline constexpr size_t kMaterializedAttentionMaxBytes = (size_t)2 << 30;
inline size_t attention_materialized_scratch_bytes(int B, int T, int NH, size_t element_bytes) {
  return 2 * (size_t)B * NH * T * T * element_bytes;
}
inline bool attention_materialized_fits(int B, int T, int NH, size_t element_bytes) {
  return attention_materialized_scratch_bytes(B, T, NH, element_bytes) <= kMaterializedAttentionMaxBytes;
}
// The GPU's own choice (no CHAMBER_ATTENTION preference) for aligned rows: in bf16 the flash
// kernels wherever they take the head size (a multiple of 8 up to 64), since they never write
// the T x T scores that the materialised path writes and reads again four times; in fp32 the
// materialised path while its scratch fits, since the TF32 (WMMA) flash kernels were measured
// slower (bench/RESULTS.md).
inline bool attention_auto_is_materialized(int B, int T, int NH, int hs, size_t element_bytes) {
  const bool flash_takes_it = hs % 8 == 0 && hs <= 64;
  if (element_bytes == 2 && flash_takes_it) return false;
  return attention_materialized_fits(B, T, NH, element_bytes);
}

}  // namespace chamber
