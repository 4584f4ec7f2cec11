// Causal attention through cuBLASLt products over the whole T x T score matrix: the math of
// attention.h, computed the way a reader would write it with a GEMM library, and measured faster
// than the flash kernels at GPT-2 shapes on an H200 (attention.cu has the figures), so
// attention.cu picks it whenever its scratch fits (attention_materialized_fits, attention.h).
//
//   forward:  att[b,h] = s Q K^T (one strided-batched product per sequence, the NH heads as the
//             batch); a warp per row turns its causal part into probabilities in place and writes
//             lse = max + log(sum exp(score - max)); out[b,:,h] = att[b,h] V.
//   backward: att is recomputed (the same product, then p = exp(score - lse) per row: one pass,
//             no max or sum, since lse is known) rather than kept per layer, which would cost
//             L x B x NH x T x T floats; then da = dO V^T, dV = att^T dO, ds = att * (da -
//             rowsum(att * da)), dQ = s ds K, dK = s ds^T Q, all products but the softmax
//             steps, each written with beta 0 (dqkv is overwritten: one product per block of it).
//
// Precision: att and datt are floatX like the activations (bf16 in the bf16 builds: the scores,
// probabilities and their gradients are rounded to bf16 between the products, as the products'
// operands must be floatX; each softmax step reads them as float and computes in float); lse is
// float. att and datt live in scratch_buffer (2 x B x NH x T x T floatX, overwritten by every call):
// nothing of them outlives the op. Products go through gemm(), so CHAMBER_TF32=0 makes this path
// strict fp32 too. Column-major reading of the row-major buffers (see matmul.cu): head h of Q, K,
// V, dout and dqkv is a (hs, T) matrix starting at column h*hs of its rows (leading dimension 3C,
// or C for dout), head h of att and datt the transpose of its (T, T) rows; one strided batch over
// the NH heads, hs (or T*T) elements apart. So S^T = K^T Q is gemm(K_T, Q, m=T, n=T, k=hs), and
// so on below. The masked upper half costs flops, not correctness: the softmax kernels write
// exact zeros above the diagonal in att and ds.
#include <cmath>

#include "kernels/cuda_launchers.h"

namespace chamber::CHAMBER_GPU_NS {

namespace {

constexpr int kWarpsPerBlock = 8;

// In place over rows of length T: row r is query position t = r % T of some (b, h). Scores in,
// probabilities out (0 above the diagonal); lse[r] = log sum_{t2<=t} exp(score).
__global__ void causal_softmax_lse_kernel(floatX* att, float* lse, int rows, int T) {
  int lane = threadIdx.x % 32;
  int row = blockIdx.x * kWarpsPerBlock + threadIdx.x / 32;
  if (row >= rows) return;
  int t = row % T;
  floatX* p = att + (size_t)row * T;
  float max_score = -INFINITY;
  for (int t2 = lane; t2 <= t; t2 += 32) max_score = fmaxf(max_score, (float)p[t2]);
  max_score = warp_max(max_score);
  float sum = 0.0f;
  for (int t2 = lane; t2 <= t; t2 += 32) sum += expf((float)p[t2] - max_score);
  sum = warp_sum(sum);
  float inv_sum = 1.0f / sum;
  for (int t2 = lane; t2 < T; t2 += 32)
    p[t2] = (floatX)(t2 <= t ? expf((float)p[t2] - max_score) * inv_sum : 0.0f);
  if (lane == 0) lse[row] = max_score + logf(sum);
}

// In place: scores in, p = exp(score - lse) out (0 above the diagonal). Elementwise over the
// rows, so a block of threads walks one row.
__global__ void causal_probabilities_kernel(floatX* att, const float* lse, int T) {
  int row = blockIdx.x;
  int t = row % T;
  float row_lse = lse[row];
  floatX* p = att + (size_t)row * T;
  for (int t2 = threadIdx.x; t2 < T; t2 += blockDim.x)
    p[t2] = (floatX)(t2 <= t ? expf((float)p[t2] - row_lse) : 0.0f);
}

// In place: datt holds da = dL/datt on entry and ds = att * (da - sum(att * da)) on exit.
__global__ void causal_softmax_backward_kernel(floatX* datt, const floatX* att, int rows, int T) {
  int lane = threadIdx.x % 32;
  int row = blockIdx.x * kWarpsPerBlock + threadIdx.x / 32;
  if (row >= rows) return;
  int t = row % T;
  floatX* d = datt + (size_t)row * T;
  const floatX* p = att + (size_t)row * T;
  float dot = 0.0f;
  for (int t2 = lane; t2 <= t; t2 += 32) dot += (float)p[t2] * (float)d[t2];
  dot = warp_sum(dot);
  for (int t2 = lane; t2 < T; t2 += 32)
    d[t2] = (floatX)(t2 <= t ? (float)p[t2] * ((float)d[t2] - dot) : 0.0f);
}

// att[b,h] = s q k^T for every head (the upper triangle is fixed by the kernels above).
void attention_scores(floatX* att, const floatX* qkv, int B, int T, int C, int NH,
                      cudaStream_t stream) {
  int hs = C / NH;
  float scale = 1.0f / sqrtf((float)hs);
  long long TT = (long long)T * T;
  for (int b = 0; b < B; b++) {
    const floatX* q = qkv + (size_t)b * T * 3 * C;
    GemmInput K_T{q + C, 3 * C, hs, true}, Q{q, 3 * C, hs, false};
    GemmOutput S{att + b * NH * TT, T, TT};
    gemm(K_T, Q, S, {T, T, hs, NH}, scale, 0.0f, nullptr, stream);
  }
}

}  // namespace

void attention_forward_materialized(floatX* out, float* lse, const floatX* qkv, int B, int T,
                                    int C, int NH, cudaStream_t stream) {
  if (B <= 0 || T <= 0) return;
  int hs = C / NH;
  long long TT = (long long)T * T;
  floatX* att = (floatX*)scratch_buffer(attention_materialized_scratch_bytes(B, T, NH, sizeof(floatX)));
  attention_scores(att, qkv, B, T, C, NH, stream);
  int rows = B * NH * T;
  CHAMBER_LAUNCH(causal_softmax_lse_kernel, ceil_div(rows, kWarpsPerBlock), kWarpsPerBlock * 32, 0,
                 stream, att, lse, rows, T);
  for (int b = 0; b < B; b++) {  // out[b,:,h] = att[b,h] v
    const floatX* v = qkv + (size_t)b * T * 3 * C + 2 * C;
    GemmInput V{v, 3 * C, hs, false}, P{att + b * NH * TT, T, TT, false};
    GemmOutput Y{out + (size_t)b * T * C, C, hs};
    gemm(V, P, Y, {hs, T, T, NH}, 1.0f, 0.0f, nullptr, stream);
  }
}

void attention_backward_materialized(floatX* dqkv, const floatX* dout, const floatX* qkv,
                                     const float* lse, int B, int T, int C, int NH,
                                     cudaStream_t stream) {
  if (B <= 0 || T <= 0) return;
  int hs = C / NH;
  float scale = 1.0f / sqrtf((float)hs);
  long long TT = (long long)T * T;
  floatX* att = (floatX*)scratch_buffer(attention_materialized_scratch_bytes(B, T, NH, sizeof(floatX)));
  floatX* datt = att + (size_t)B * NH * TT;
  int rows = B * NH * T;
  attention_scores(att, qkv, B, T, C, NH, stream);
  CHAMBER_LAUNCH(causal_probabilities_kernel, rows, 256, 0, stream, att, lse, T);
  for (int b = 0; b < B; b++) {
    const floatX* q = qkv + (size_t)b * T * 3 * C;
    const floatX* dy = dout + (size_t)b * T * C;
    floatX* dq = dqkv + (size_t)b * T * 3 * C;
    // da = dout v^T into datt; dv = att^T dout.
    GemmInput V_T{q + 2 * C, 3 * C, hs, true}, dY{dy, C, hs, false};
    GemmInput P_T{att + b * NH * TT, T, TT, true};
    GemmOutput dA{datt + b * NH * TT, T, TT}, dV{dq + 2 * C, 3 * C, hs};
    gemm(V_T, dY, dA, {T, T, hs, NH}, 1.0f, 0.0f, nullptr, stream);
    gemm(dY, P_T, dV, {hs, T, T, NH}, 1.0f, 0.0f, nullptr, stream);
  }
  CHAMBER_LAUNCH(causal_softmax_backward_kernel, ceil_div(rows, kWarpsPerBlock),
                 kWarpsPerBlock * 32, 0, stream, datt, att, rows, T);
  for (int b = 0; b < B; b++) {
    const floatX* q = qkv + (size_t)b * T * 3 * C;
    floatX* dq = dqkv + (size_t)b * T * 3 * C;
    const floatX* ds = datt + b * NH * TT;
    // dq = s ds k;  dk = s ds^T q.
    GemmInput K{q + C, 3 * C, hs, false}, Q{q, 3 * C, hs, false};
    GemmInput dS{ds, T, TT, false}, dS_T{ds, T, TT, true};
    GemmOutput dQ{dq, 3 * C, hs}, dK{dq + C, 3 * C, hs};
    gemm(K, dS, dQ, {hs, T, T, NH}, scale, 0.0f, nullptr, stream);
    gemm(Q, dS_T, dK, {hs, T, T, NH}, scale, 0.0f, nullptr, stream);
  }
}

}  // namespace chamber::CHAMBER_GPU_NS
