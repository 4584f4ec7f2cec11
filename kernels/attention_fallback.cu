// Causal attention for any head size: plain SIMT kernels (floatX in global memory, float in
// registers and shared memory, so the bf16 builds run them unchanged), what kernels/attention.cu's
// launchers run when the flash kernels' tensor-core tiles do not fit the head (hs not a multiple
// of 8, or above 64). Same contract (attention.h) and algorithm as the flash kernels, in base-2
// scores: an online softmax in the forward (running max m and sum l, the accumulator rescaled by
// exp2(m_old - m_new)), lse = (m + log2 l) ln 2 saved; backward recomputes p = exp2(x - lse2) and
// takes ds = p (dp - D) with D = rowsum(dO * O) computed by the caller.
//
// One warp per row: a query row for the forward and dQ, a key row for dK and dV (each gradient
// row has exactly one writer: deterministic, no atomics). The lanes take 32 keys (or queries) at a
// time, one each, for the dot products over hs; then the lanes split the hs channels and sum over
// those 32 with the chunk's probabilities (or score gradients) read from shared memory. Per warp
// in shared memory: its fp32 accumulators (hs, or 2 hs for dK and dV) and that chunk. Reads of
// K and V rows are strided across lanes, so this is slower than the flash kernels; correctness for
// every head size is its job.
#include <cmath>

#include "util/util.h"
#include "kernels/cuda_launchers.h"

namespace chamber::CHAMBER_GPU_NS {

namespace {

constexpr int kWarps = 4;
constexpr float kLog2e = 1.4426950408889634f;  // scores in base 2, as in attention.cu

__device__ float head_dot(const floatX* a, const floatX* b, int hs) {
  float dot = 0.0f;
  for (int c = 0; c < hs; c++) dot += (float)a[c] * (float)b[c];
  return dot;
}

__global__ void attention_forward_simt_kernel(floatX* out, float* lse, const floatX* qkv, int B,
                                              int T, int C, int NH) {
  CHAMBER_DYNAMIC_SHARED(float, smem);
  const int hs = C / NH, warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int row = blockIdx.x * kWarps + warp;  // (b, h, t)
  if (row >= B * NH * T) return;
  const int t = row % T, bh = row / T, h = bh % NH, b = bh / NH;
  const size_t stride = (size_t)3 * C;
  const floatX* q = qkv + ((size_t)b * T + t) * stride + h * hs;
  const floatX* k_head = qkv + (size_t)b * T * stride + C + h * hs;
  const floatX* v_head = k_head + C;
  const float scale_log2 = kLog2e / sqrtf((float)hs);
  float* acc = smem + warp * (hs + 32);
  float* p_chunk = acc + hs;
  for (int c = lane; c < hs; c += 32) acc[c] = 0.0f;

  float m = -INFINITY, l = 0.0f;
  for (int j0 = 0; j0 <= t; j0 += 32) {
    int j = j0 + lane;
    float x = j <= t ? head_dot(q, k_head + (size_t)j * stride, hs) * scale_log2 : -INFINITY;
    float m_new = fmaxf(m, warp_max(x));  // finite: lane 0's key j0 <= t
    float p = j <= t ? exp2f(x - m_new) : 0.0f;
    float alpha = exp2f(m - m_new);
    l = l * alpha + warp_sum(p);
    m = m_new;
    p_chunk[lane] = p;
    __syncwarp();
    int n = t - j0 + 1 < 32 ? t - j0 + 1 : 32;
    for (int c = lane; c < hs; c += 32) {
      float a = acc[c] * alpha;
      for (int s = 0; s < n; s++) a += p_chunk[s] * (float)v_head[(size_t)(j0 + s) * stride + c];
      acc[c] = a;
    }
    __syncwarp();  // p_chunk is rewritten next
  }
  floatX* y = out + ((size_t)b * T + t) * C + h * hs;
  for (int c = lane; c < hs; c += 32) y[c] = (floatX)(acc[c] / l);
  if (lane == 0) lse[row] = (m + log2f(l)) / kLog2e;
}

// dQ of one query row per warp: dq = s sum_j dS_j k_j over keys j <= t.
__global__ void attention_backward_dq_simt_kernel(floatX* dqkv, const floatX* dout,
                                                  const floatX* qkv, const float* lse,
                                                  const float* D, int B, int T, int C, int NH) {
  CHAMBER_DYNAMIC_SHARED(float, smem);
  const int hs = C / NH, warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int row = blockIdx.x * kWarps + warp;
  if (row >= B * NH * T) return;
  const int t = row % T, bh = row / T, h = bh % NH, b = bh / NH;
  const size_t stride = (size_t)3 * C;
  const floatX* q = qkv + ((size_t)b * T + t) * stride + h * hs;
  const floatX* dy = dout + ((size_t)b * T + t) * C + h * hs;
  const floatX* k_head = qkv + (size_t)b * T * stride + C + h * hs;
  const floatX* v_head = k_head + C;
  const float scale = 1.0f / sqrtf((float)hs), scale_log2 = scale * kLog2e;
  const float lse2 = lse[row] * kLog2e, d_row = D[row];
  float* acc = smem + warp * (hs + 32);
  float* ds_chunk = acc + hs;
  for (int c = lane; c < hs; c += 32) acc[c] = 0.0f;

  for (int j0 = 0; j0 <= t; j0 += 32) {
    int j = j0 + lane;
    float ds = 0.0f;
    if (j <= t) {
      float p = exp2f(head_dot(q, k_head + (size_t)j * stride, hs) * scale_log2 - lse2);
      ds = p * (head_dot(dy, v_head + (size_t)j * stride, hs) - d_row);
    }
    ds_chunk[lane] = ds;
    __syncwarp();
    int n = t - j0 + 1 < 32 ? t - j0 + 1 : 32;
    for (int c = lane; c < hs; c += 32) {
      float a = acc[c];
      for (int s = 0; s < n; s++) a += ds_chunk[s] * (float)k_head[(size_t)(j0 + s) * stride + c];
      acc[c] = a;
    }
    __syncwarp();
  }
  floatX* dq = dqkv + ((size_t)b * T + t) * stride + h * hs;
  for (int c = lane; c < hs; c += 32) dq[c] = (floatX)(scale * acc[c]);
}

// dK and dV of one key row per warp: dv = sum p dO_t, dk = sum s dS q_t over queries t >= j.
__global__ void attention_backward_dkdv_simt_kernel(floatX* dqkv, const floatX* dout,
                                                    const floatX* qkv, const float* lse,
                                                    const float* D, int B, int T, int C, int NH) {
  CHAMBER_DYNAMIC_SHARED(float, smem);
  const int hs = C / NH, warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int row = blockIdx.x * kWarps + warp;
  if (row >= B * NH * T) return;
  const int j = row % T, bh = row / T, h = bh % NH, b = bh / NH;
  const size_t stride = (size_t)3 * C;
  const floatX* q_head = qkv + (size_t)b * T * stride + h * hs;
  const floatX* k = q_head + (size_t)j * stride + C;
  const floatX* v = k + C;
  const floatX* do_head = dout + (size_t)b * T * C + h * hs;
  const float scale = 1.0f / sqrtf((float)hs), scale_log2 = scale * kLog2e;
  float* dk_acc = smem + warp * (2 * hs + 64);
  float* dv_acc = dk_acc + hs;
  float* p_chunk = dv_acc + hs;
  float* ds_chunk = p_chunk + 32;
  for (int c = lane; c < hs; c += 32) dk_acc[c] = dv_acc[c] = 0.0f;

  for (int t0 = j; t0 < T; t0 += 32) {
    int t = t0 + lane;
    float p = 0.0f, ds = 0.0f;
    if (t < T) {
      p = exp2f(head_dot(q_head + (size_t)t * stride, k, hs) * scale_log2 -
                lse[bh * T + t] * kLog2e);
      ds = p * (head_dot(do_head + (size_t)t * C, v, hs) - D[bh * T + t]);
    }
    p_chunk[lane] = p;
    ds_chunk[lane] = ds;
    __syncwarp();
    int n = T - t0 < 32 ? T - t0 : 32;
    for (int c = lane; c < hs; c += 32) {
      float a = dv_acc[c], g = dk_acc[c];
      for (int s = 0; s < n; s++) {
        a += p_chunk[s] * (float)do_head[(size_t)(t0 + s) * C + c];
        g += ds_chunk[s] * (float)q_head[(size_t)(t0 + s) * stride + c];
      }
      dv_acc[c] = a;
      dk_acc[c] = g;
    }
    __syncwarp();
  }
  floatX* dk = dqkv + ((size_t)b * T + j) * stride + C + h * hs;
  floatX* dv = dk + C;
  for (int c = lane; c < hs; c += 32) {
    dk[c] = (floatX)(scale * dk_acc[c]);
    dv[c] = (floatX)dv_acc[c];
  }
}

// Shared bytes of a kernel whose warps each keep `floats_per_warp`; a head too wide for the
// 48 KiB default is a clear error rather than a launch failure.
size_t shared_bytes(size_t floats_per_warp) {
  size_t bytes = kWarps * floats_per_warp * sizeof(float);
  if (bytes > 48 * 1024) fail("attention: head size too large for the SIMT attention kernels");
  return bytes;
}

}  // namespace

void attention_forward_fallback(floatX* out, float* lse, const floatX* qkv, int B, int T, int C,
                                int NH, cudaStream_t stream) {
  int rows = B * NH * T, hs = C / NH;
  CHAMBER_LAUNCH(attention_forward_simt_kernel, ceil_div(rows, kWarps), kWarps * 32,
                 shared_bytes(hs + 32), stream, out, lse, qkv, B, T, C, NH);
}

void attention_backward_fallback(floatX* dqkv, const floatX* dout, const floatX* qkv,
                                 const float* lse, const float* D, int B, int T, int C, int NH,
                                 cudaStream_t stream) {
  int rows = B * NH * T, hs = C / NH;
  CHAMBER_LAUNCH(attention_backward_dkdv_simt_kernel, ceil_div(rows, kWarps), kWarps * 32,
                 shared_bytes(2 * hs + 64), stream, dqkv, dout, qkv, lse, D, B, T, C, NH);
  CHAMBER_LAUNCH(attention_backward_dq_simt_kernel, ceil_div(rows, kWarps), kWarps * 32,
                 shared_bytes(hs + 32), stream, dqkv, dout, qkv, lse, D, B, T, C, NH);
}

}  // namespace chamber::CHAMBER_GPU_NS
