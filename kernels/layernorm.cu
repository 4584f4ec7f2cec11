// LayerNorm on the GPU; the math and the accumulate rules are in layernorm.h:
//   forward:  mean, rstd = 1/sqrt(var + 1e-5) per row; out = (x - mean) * rstd * weight + bias
//             out (N,C), mean (N), rstd (N) OVERWRITTEN
//   backward: dinp += rstd * (g - mean(g) - xhat * mean(g * xhat)),  g = dout * weight
//             dweight += sum_i dout * xhat;  dbias += sum_i dout        all ACCUMULATE
// Types: out, inp, weight, bias, dinp, dout floatX; mean, rstd, dweight, dbias float; all the
// arithmetic in float.
//
// Shape of the kernels: a row (C ~ 768) is small, so one warp owns a row. Its 32 lanes stride
// over the channels (coalesced), reduce with shuffles, no shared memory or block barrier. The
// variance is a second pass over the row (it stays in L1), as in the reference, so a large mean
// does not cancel. The parameter gradients are sums over rows: a separate kernel writes per-part
// partial sums that reduce.cu's add_partials adds in a fixed order (deterministic, no atomics).
#include "kernels/cuda_launchers.h"
#include "kernels/layernorm.h"
#include "kernels/reduce_parts.h"

namespace chamber::CHAMBER_GPU_NS {

namespace {

constexpr int kWarpsPerBlock = 8;
constexpr float kEps = (float)kLayerNormEps;

__global__ void layernorm_forward_kernel(floatX* out, float* mean, float* rstd, const floatX* inp,
                                         const floatX* weight, const floatX* bias, int N, int C) {
  int lane = threadIdx.x % 32;
  int row = blockIdx.x * kWarpsPerBlock + threadIdx.x / 32;
  if (row >= N) return;  // the whole warp leaves together
  const floatX* x = inp + (size_t)row * C;
  float sum = 0.0f;
  for (int c = lane; c < C; c += 32) sum += (float)x[c];
  float m = warp_sum(sum) / C;
  float sum_sq = 0.0f;
  for (int c = lane; c < C; c += 32) {
    float d = (float)x[c] - m;
    sum_sq += d * d;
  }
  float s = rsqrtf(warp_sum(sum_sq) / C + kEps);
  floatX* y = out + (size_t)row * C;
  for (int c = lane; c < C; c += 32)
    y[c] = (floatX)(((float)x[c] - m) * s * (float)weight[c] + (float)bias[c]);
  if (lane == 0) {
    mean[row] = m;
    rstd[row] = s;
  }
}

__global__ void layernorm_backward_input_kernel(floatX* dinp, const floatX* dout, const floatX* inp,
                                                const floatX* weight, const float* mean,
                                                const float* rstd, int N, int C) {
  int lane = threadIdx.x % 32;
  int row = blockIdx.x * kWarpsPerBlock + threadIdx.x / 32;
  if (row >= N) return;
  const floatX* x = inp + (size_t)row * C;
  const floatX* dy = dout + (size_t)row * C;
  float m = mean[row], s = rstd[row];
  float sum_g = 0.0f, sum_g_xhat = 0.0f;
  for (int c = lane; c < C; c += 32) {
    float g = (float)dy[c] * (float)weight[c];
    sum_g += g;
    sum_g_xhat += g * ((float)x[c] - m) * s;
  }
  float mean_g = warp_sum(sum_g) / C;
  float mean_g_xhat = warp_sum(sum_g_xhat) / C;
  floatX* dx = dinp + (size_t)row * C;
  for (int c = lane; c < C; c += 32) {
    float xhat = ((float)x[c] - m) * s;
    float g = (float)dy[c] * (float)weight[c];
    dx[c] = (floatX)((float)dx[c] + s * (g - mean_g - xhat * mean_g_xhat));
  }
}

// First pass of the parameter gradients: block (32 channels) x (kPartRowThreads row strides)
// sums one part of the rows; partials (parts, C) for dweight and for dbias.
__global__ void layernorm_param_partials_kernel(float* partial_dweight, float* partial_dbias,
                                                const floatX* dout, const floatX* inp,
                                                const float* mean, const float* rstd, int N, int C,
                                                int rows_per_part) {
  __shared__ float sums_w[kPartRowThreads][32];
  __shared__ float sums_b[kPartRowThreads][32];
  int c = blockIdx.x * 32 + threadIdx.x;
  int row_begin = blockIdx.y * rows_per_part;
  int row_end = min_int(row_begin + rows_per_part, N);
  float acc_w = 0.0f, acc_b = 0.0f;
  if (c < C) {
    for (int i = row_begin + threadIdx.y; i < row_end; i += kPartRowThreads) {
      float d = (float)dout[(size_t)i * C + c];
      acc_b += d;
      acc_w += d * ((float)inp[(size_t)i * C + c] - mean[i]) * rstd[i];
    }
  }
  sums_w[threadIdx.y][threadIdx.x] = acc_w;
  sums_b[threadIdx.y][threadIdx.x] = acc_b;
  __syncthreads();
  if (threadIdx.y == 0 && c < C) {
    float total_w = 0.0f, total_b = 0.0f;
    for (int y = 0; y < kPartRowThreads; y++) {
      total_w += sums_w[y][threadIdx.x];
      total_b += sums_b[y][threadIdx.x];
    }
    partial_dweight[(size_t)blockIdx.y * C + c] = total_w;
    partial_dbias[(size_t)blockIdx.y * C + c] = total_b;
  }
}

}  // namespace

void layernorm_forward(floatX* out, float* mean, float* rstd, const floatX* inp,
                       const floatX* weight, const floatX* bias, int N, int C, cudaStream_t stream) {
  if (N <= 0) return;
  CHAMBER_LAUNCH(layernorm_forward_kernel, ceil_div(N, kWarpsPerBlock), kWarpsPerBlock * 32, 0,
                 stream, out, mean, rstd, inp, weight, bias, N, C);
}

void layernorm_backward(floatX* dinp, float* dweight, float* dbias, const floatX* dout,
                        const floatX* inp, const floatX* weight, const float* mean,
                        const float* rstd, int N, int C, cudaStream_t stream) {
  if (N <= 0) return;
  CHAMBER_LAUNCH(layernorm_backward_input_kernel, ceil_div(N, kWarpsPerBlock), kWarpsPerBlock * 32,
                 0, stream, dinp, dout, inp, weight, mean, rstd, N, C);
  PartPlan plan = plan_parts(N);
  float* partial_dweight = (float*)scratch_buffer(2 * (size_t)plan.parts * C * sizeof(float));
  float* partial_dbias = partial_dweight + (size_t)plan.parts * C;
  CHAMBER_LAUNCH(layernorm_param_partials_kernel, dim3(ceil_div(C, 32), plan.parts),
                 dim3(32, kPartRowThreads), 0, stream, partial_dweight, partial_dbias, dout, inp,
                 mean, rstd, N, C, plan.rows_per_part);
  add_partials(dweight, partial_dweight, plan.parts, C, stream);
  add_partials(dbias, partial_dbias, plan.parts, C, stream);
}

}  // namespace chamber::CHAMBER_GPU_NS
