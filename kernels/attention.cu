// Causal multi-head self-attention on the GPU; the math and the accumulate rules are in
// attention.h. qkv (B,T,3C) holds [q | k | v] per position, NH heads of hs = C/NH; s = 1/sqrt(hs).
//   forward:  att[b,h] = causal_softmax(s q k^T)  (B,NH,T,T), out[b,:,h] = att[b,h] v  (B,T,C)
//             both OVERWRITTEN; att is 0 above the diagonal
//   backward: da = dout v^T;  dv += att^T dout;  ds = att * (da - rowsum(att * da));
//             dq += s ds k;  dk += s ds^T q        dqkv ACCUMULATES; datt (B,NH,T,T) scratch = ds
//
// A clear version rather than a fused flash kernel: the products are batched cuBLASLt matmuls
// (gemm.cu), one call per sequence b with the NH heads as the strided batch (head h starts h*hs
// floats into each qkv row, so the head stride is hs and the row stride 3C; no permuted copies of
// q, k, v are needed). Only the row softmax and its backward are hand-written: one warp per row
// of T, shuffles for the max and sums. The products are full T x T; the masked half costs flops,
// not correctness, because the softmax writes exact zeros above the diagonal in att and ds.
// Column-major reading of the row-major buffers (see matmul.cu): S^T = K Q^T is
// gemm(T, N, m=T, n=T, k=hs), and so on below.
#include <cmath>

#include "kernels/cuda_launchers.h"

namespace chamber::CHAMBER_GPU_NS {

namespace {

constexpr int kWarpsPerBlock = 8;

// In place over rows of length T: row r is query position t = r % T of some (b, h).
__global__ void causal_softmax_kernel(floatX* att, int rows, int T) {
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
  float inv_sum = 1.0f / warp_sum(sum);
  for (int t2 = lane; t2 < T; t2 += 32)
    p[t2] = (floatX)(t2 <= t ? expf((float)p[t2] - max_score) * inv_sum : 0.0f);
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

}  // namespace

void attention_forward(floatX* out, floatX* att, const floatX* qkv, int B, int T, int C, int NH,
                       cudaStream_t stream) {
  if (B <= 0 || T <= 0) return;
  int hs = C / NH;
  float scale = 1.0f / sqrtf((float)hs);
  long long TT = (long long)T * T;
  for (int b = 0; b < B; b++) {  // scores: att[b,h] = s q k^T  (upper triangle fixed below)
    const floatX* q = qkv + (size_t)b * T * 3 * C;
    gemm(true, false, T, T, hs, scale, q + C, 3 * C, hs, q, 3 * C, hs, 0.0f, att + b * NH * TT, T,
         TT, NH, nullptr, stream);
  }
  int rows = B * NH * T;
  CHAMBER_LAUNCH(causal_softmax_kernel, ceil_div(rows, kWarpsPerBlock), kWarpsPerBlock * 32, 0,
                 stream, att, rows, T);
  for (int b = 0; b < B; b++) {  // out[b,:,h] = att[b,h] v
    const floatX* v = qkv + (size_t)b * T * 3 * C + 2 * C;
    gemm(false, false, hs, T, T, 1.0f, v, 3 * C, hs, att + b * NH * TT, T, TT, 0.0f,
         out + (size_t)b * T * C, C, hs, NH, nullptr, stream);
  }
}

void attention_backward(floatX* dqkv, floatX* datt, const floatX* dout, const floatX* qkv,
                        const floatX* att, int B, int T, int C, int NH, cudaStream_t stream) {
  if (B <= 0 || T <= 0) return;
  int hs = C / NH;
  float scale = 1.0f / sqrtf((float)hs);
  long long TT = (long long)T * T;
  for (int b = 0; b < B; b++) {
    const floatX* q = qkv + (size_t)b * T * 3 * C;
    const floatX* dy = dout + (size_t)b * T * C;
    floatX* dq = dqkv + (size_t)b * T * 3 * C;
    // da = dout v^T into datt; dv += att^T dout.
    gemm(true, false, T, T, hs, 1.0f, q + 2 * C, 3 * C, hs, dy, C, hs, 0.0f, datt + b * NH * TT, T,
         TT, NH, nullptr, stream);
    gemm(false, true, hs, T, T, 1.0f, dy, C, hs, att + b * NH * TT, T, TT, 1.0f, dq + 2 * C,
         3 * C, hs, NH, nullptr, stream);
  }
  int rows = B * NH * T;
  CHAMBER_LAUNCH(causal_softmax_backward_kernel, ceil_div(rows, kWarpsPerBlock),
                 kWarpsPerBlock * 32, 0, stream, datt, att, rows, T);
  for (int b = 0; b < B; b++) {
    const floatX* q = qkv + (size_t)b * T * 3 * C;
    floatX* dq = dqkv + (size_t)b * T * 3 * C;
    const floatX* ds = datt + b * NH * TT;
    // dq += s ds k;  dk += s ds^T q.
    gemm(false, false, hs, T, T, scale, q + C, 3 * C, hs, ds, T, TT, 1.0f, dq, 3 * C, hs, NH,
         nullptr, stream);
    gemm(false, true, hs, T, T, scale, q, 3 * C, hs, ds, T, TT, 1.0f, dq + C, 3 * C, hs, NH,
         nullptr, stream);
  }
}

}  // namespace chamber::CHAMBER_GPU_NS
