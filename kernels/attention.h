// Causal multi-head self-attention, plain C++ reference.
//
// Shapes: qkv (B,T,3C) laid out per position as [ q | k | v ], each C wide and split into NH heads
// of hs = C/NH channels (head h uses channels h*hs .. h*hs+hs-1 of its third). Scale s = 1/sqrt(hs).
//
//   forward, for each b, head h, query position t:
//     score[t2] = s * q[b,t,h] . k[b,t2,h]                 for t2 <= t (causal)
//     att[b,h,t,t2] = softmax_t2(score)[t2]                for t2 <= t;  0 for t2 > t
//     out[b,t,h*hs + i] = sum_{t2<=t} att[b,h,t,t2] * v[b,t2,h*hs + i]
//   out (B,T,C) and att (B,NH,T,T) are OVERWRITTEN; att (probabilities) is kept for backward.
//
//   backward (uses the saved att, no recomputation of scores):
//     da[t2]   = dout[b,t,h] . v[b,t2,h]                                    (dL/datt)
//     dv[t2]  += att[t,t2] * dout[b,t,h]
//     ds[t2]   = att[t,t2] * (da[t2] - sum_{t3<=t} att[t,t3] da[t3])       (softmax backward)
//     dq[t]   += s * sum_{t2<=t} ds[t2] k[t2];     dk[t2] += s * ds[t2] q[t]
//   dqkv (B,T,3C) ACCUMULATES. datt (B,NH,T,T) is scratch: OVERWRITTEN with ds (0 above the
//   diagonal).
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
// k0 + j * k_stride (hs values), the max subtracted before exp. Shared by the training forward
// and the KV-cache decode references (kernels/attention_decode.cpp), which differ only in where
// the keys live.
template <typename Real>
inline void attention_probabilities(Real* p, const Real* q, const Real* k0, size_t k_stride,
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
}

template <typename Real>
void attention_forward_ref(Real* out, Real* att, const Real* qkv, int B, int T, int C, int NH);

template <typename Real>
void attention_backward_ref(Real* dqkv, Real* datt, const Real* dout, const Real* qkv,
                            const Real* att, int B, int T, int C, int NH);

}  // namespace chamber
