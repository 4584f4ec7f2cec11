// LayerNorm on the GPU; the math and the accumulate rules are in layernorm.h:
//   forward:  mean, rstd = 1/sqrt(var + 1e-5) per row; out = (x - mean) * rstd * weight + bias
//             out (N,C), mean (N), rstd (N) OVERWRITTEN
//   backward: dinp += rstd * (g - mean(g) - xhat * mean(g * xhat)),  g = dout * weight
//             dweight += sum_i dout * xhat;  dbias += sum_i dout        all ACCUMULATE
//   residual_layernorm_forward: residual_out = a + b, then the forward of residual_out
//             residual_out, ln_out (N,C), mean, rstd (N) OVERWRITTEN
// Types: out, inp, weight, bias, dinp, dout, a, b, residual_out, ln_out floatX; mean, rstd,
// dweight, dbias float; all the arithmetic in float.
//
// Forward: a row (C ~ 768) is small, so one warp owns a row. Its 32 lanes stride over the
// channels (coalesced), reduce with shuffles, no shared memory or block barrier. The variance is a
// second pass over the row (it stays in L1), as in the reference, so a large mean does not cancel.
//
// residual_layernorm_forward (kernels/ops.h) is the residual add before a LayerNorm folded into
// its first pass: each lane adds its elements of a and b, stores them to residual_out (rounded to
// floatX, as residual_forward stores them) and sums what it stored; the variance and output passes
// then read the row back from residual_out (L1). The passes after the sum are the forward's own
// code (normalize_row), so the fused op gives the bits of residual_forward then
// layernorm_forward, and saves a launch and a read of the row from memory.
//
// Backward is one launch. Each block owns a contiguous range of rows and walks it in tiles of one
// row per warp:
//   - dinp: the warp of each row, as in the forward (two passes over the row, shuffles);
//   - dweight, dbias: one thread per channel sums the tile's rows in order (the rows the warps
//     have just read, so mostly L1 hits) into the block's partial sums, which live in scratch and
//     belong to that thread alone: no shared memory, no limit on C, no atomics on floats.
// Then the partials are summed across blocks inside the same launch by the last block to finish
// ("last block reduces"): every block makes its partial visible (__threadfence) and counts itself
// on an arrival counter; the block that sees every other one arrived does the sum, in block
// order, so the result is the same bit for bit on every run. One last block reading every
// partial would be a serial tail of blocks x 2C floats, so this happens twice: blocks are grouped
// by about sqrt(blocks), the last of each group sums its group into a group partial, and the last
// group to finish sums the groups and adds them into dweight and dbias. The counters are a
// __device__ array (zero when the module loads), and the block that finds a count complete sets
// it back to zero: every other block has already counted, so the next launch (or a CUDA graph's
// replay) starts from zero with no memset. That relies on the launches of one stream running one
// after another, as every op of the run does (cuda_common.h's run_stream).
#include "kernels/cuda_launchers.h"
#include "kernels/layernorm.h"

namespace chamber::CHAMBER_GPU_NS {

namespace {

constexpr int kWarpsPerBlock = 8;          // forward: one row per warp
constexpr int kBackwardWarps = 16;         // backward: rows per tile, one per warp (512 threads)
constexpr int kBackwardMaxBlocks = 512;    // about 4 resident blocks per SM on an H100 or H200
constexpr int kBackwardMaxGroups = 32;     // groups of about sqrt(512) blocks: at most 23
constexpr float kEps = (float)kLayerNormEps;

// Backward's arrival counters: [0] counts the groups, [1 + g] the blocks of group g. Zero between
// launches (see the top of the file).
__device__ unsigned layernorm_backward_arrivals[1 + kBackwardMaxGroups] = {};

__device__ __forceinline__ int min_int(int a, int b) { return a < b ? a : b; }

// The forward's statistics and output for one row, from each lane's sum of its elements (lanes
// stride over the channels). Shared by the plain and the fused forward, so both give the same
// bits for the same row.
__device__ __forceinline__ void normalize_row(floatX* y, float* mean, float* rstd,
                                              const floatX* x, const floatX* weight,
                                              const floatX* bias, float lane_sum, int row, int C,
                                              int lane) {
  float m = warp_sum(lane_sum) / C;
  float sum_sq = 0.0f;
  for (int c = lane; c < C; c += 32) {
    float d = (float)x[c] - m;
    sum_sq += d * d;
  }
  float s = rsqrtf(warp_sum(sum_sq) / C + kEps);
  for (int c = lane; c < C; c += 32)
    y[c] = (floatX)(((float)x[c] - m) * s * (float)weight[c] + (float)bias[c]);
  if (lane == 0) {
    mean[row] = m;
    rstd[row] = s;
  }
}

__global__ void layernorm_forward_kernel(floatX* out, float* mean, float* rstd, const floatX* inp,
                                         const floatX* weight, const floatX* bias, int N, int C) {
  int lane = threadIdx.x % 32;
  int row = blockIdx.x * kWarpsPerBlock + threadIdx.x / 32;
  if (row >= N) return;  // the whole warp leaves together
  const floatX* x = inp + (size_t)row * C;
  float sum = 0.0f;
  for (int c = lane; c < C; c += 32) sum += (float)x[c];
  normalize_row(out + (size_t)row * C, mean, rstd, x, weight, bias, sum, row, C, lane);
}

__global__ void residual_layernorm_forward_kernel(floatX* residual_out, floatX* ln_out,
                                                  float* mean, float* rstd, const floatX* a,
                                                  const floatX* b, const floatX* weight,
                                                  const floatX* bias, int N, int C) {
  int lane = threadIdx.x % 32;
  int row = blockIdx.x * kWarpsPerBlock + threadIdx.x / 32;
  if (row >= N) return;
  size_t offset = (size_t)row * C;
  floatX* x = residual_out + offset;
  float sum = 0.0f;
  for (int c = lane; c < C; c += 32) {
    floatX r = (floatX)((float)a[offset + c] + (float)b[offset + c]);
    x[c] = r;
    sum += (float)r;
  }
  normalize_row(ln_out + offset, mean, rstd, x, weight, bias, sum, row, C, lane);
}

// dinp for one row, by one warp.
__device__ __forceinline__ void input_gradient_row(floatX* dx, const floatX* dy, const floatX* x,
                                                   const floatX* weight, float m, float s, int C,
                                                   int lane) {
  float sum_g = 0.0f, sum_g_xhat = 0.0f;
  for (int c = lane; c < C; c += 32) {
    float g = (float)dy[c] * (float)weight[c];
    sum_g += g;
    sum_g_xhat += g * ((float)x[c] - m) * s;
  }
  float mean_g = warp_sum(sum_g) / C;
  float mean_g_xhat = warp_sum(sum_g_xhat) / C;
  for (int c = lane; c < C; c += 32) {
    float xhat = ((float)x[c] - m) * s;
    float g = (float)dy[c] * (float)weight[c];
    dx[c] = (floatX)((float)dx[c] + s * (g - mean_g - xhat * mean_g_xhat));
  }
}

// Whether this block is the last of `count` blocks to arrive at `counter` (the same answer in
// every thread). What each thread wrote before the call is visible to the last block after it;
// the last block sets the counter back to zero, since everyone else has counted.
__device__ bool last_to_arrive(unsigned* counter, unsigned count) {
  __shared__ bool last;
  __threadfence();
  __syncthreads();
  if (threadIdx.x == 0) {
    last = atomicAdd(counter, 1u) == count - 1;
    if (last) *counter = 0;
  }
  __syncthreads();
  return last;
}

// sum[k] = sum over p of parts[p * width + k], p = 0..count-1 in order. The parts were written by
// other blocks: read from L2 (__ldcg), which they were fenced to, not from this SM's L1.
__device__ __forceinline__ float sum_parts(const float* parts, int count, int width, int k) {
  float total = 0.0f;
  for (int p = 0; p < count; p++) total += __ldcg(parts + (size_t)p * width + k);
  return total;
}

// One launch of blocks x kBackwardWarps warps; block b owns rows [b * rows_per_block, ...).
// partials: scratch of (blocks + groups, 2, C) floats, each (2, C) being a dweight then a dbias
// partial sum: first one per block, then one per group of blocks_per_group blocks.
__global__ void __launch_bounds__(kBackwardWarps * 32)
    layernorm_backward_kernel(floatX* dinp, float* dweight, float* dbias, const floatX* dout,
                              const floatX* inp, const floatX* weight, const float* mean,
                              const float* rstd, float* partials, int N, int C,
                              int rows_per_block, int blocks_per_group) {
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  const int row_begin = blockIdx.x * rows_per_block;
  const int row_end = min_int(row_begin + rows_per_block, N);
  const int width = 2 * C;
  float* block_part = partials + (size_t)blockIdx.x * width;

  for (int tile = row_begin; tile < row_end; tile += kBackwardWarps) {
    const int row = tile + warp;
    if (row < row_end) {  // the whole warp takes the same branch
      size_t offset = (size_t)row * C;
      input_gradient_row(dinp + offset, dout + offset, inp + offset, weight, mean[row], rstd[row],
                         C, lane);
    }
    const int tile_end = min_int(tile + kBackwardWarps, row_end);
    for (int c = threadIdx.x; c < C; c += blockDim.x) {
      float sum_w = 0.0f, sum_b = 0.0f;
      for (int i = tile; i < tile_end; i++) {
        float d = (float)dout[(size_t)i * C + c];
        sum_b += d;
        sum_w += d * ((float)inp[(size_t)i * C + c] - mean[i]) * rstd[i];
      }
      if (tile == row_begin) {
        block_part[c] = sum_w;
        block_part[C + c] = sum_b;
      } else {
        block_part[c] += sum_w;
        block_part[C + c] += sum_b;
      }
    }
  }

  // The last block of each group sums the group's partials, in block order.
  const int blocks = gridDim.x;
  const int groups = (blocks + blocks_per_group - 1) / blocks_per_group;
  const int group = blockIdx.x / blocks_per_group;
  const int first = group * blocks_per_group;
  const int in_group = min_int(first + blocks_per_group, blocks) - first;
  if (!last_to_arrive(&layernorm_backward_arrivals[1 + group], in_group)) return;
  float* group_parts = partials + (size_t)blocks * width;
  for (int k = threadIdx.x; k < width; k += blockDim.x)
    group_parts[(size_t)group * width + k] =
        sum_parts(partials + (size_t)first * width, in_group, width, k);

  // The last group sums the groups, in order, into the gradients.
  if (!last_to_arrive(&layernorm_backward_arrivals[0], groups)) return;
  for (int k = threadIdx.x; k < width; k += blockDim.x) {
    float total = sum_parts(group_parts, groups, width, k);
    if (k < C) dweight[k] += total;
    else dbias[k - C] += total;
  }
}

}  // namespace

void layernorm_forward(floatX* out, float* mean, float* rstd, const floatX* inp,
                       const floatX* weight, const floatX* bias, int N, int C, cudaStream_t stream) {
  if (N <= 0) return;
  CHAMBER_LAUNCH(layernorm_forward_kernel, ceil_div(N, kWarpsPerBlock), kWarpsPerBlock * 32, 0,
                 stream, out, mean, rstd, inp, weight, bias, N, C);
}

void residual_layernorm_forward(floatX* residual_out, floatX* ln_out, float* mean, float* rstd,
                                const floatX* a, const floatX* b, const floatX* weight,
                                const floatX* bias, int N, int C, cudaStream_t stream) {
  if (N <= 0) return;
  CHAMBER_LAUNCH(residual_layernorm_forward_kernel, ceil_div(N, kWarpsPerBlock),
                 kWarpsPerBlock * 32, 0, stream, residual_out, ln_out, mean, rstd, a, b, weight,
                 bias, N, C);
}

void layernorm_backward(floatX* dinp, float* dweight, float* dbias, const floatX* dout,
                        const floatX* inp, const floatX* weight, const float* mean,
                        const float* rstd, int N, int C, cudaStream_t stream) {
  if (N <= 0 || C <= 0) return;
  // Rows per block: whole tiles, and few enough blocks that they all fit on the GPU at once.
  int tiles_per_block = ceil_div(ceil_div(N, kBackwardMaxBlocks), kBackwardWarps);
  int rows_per_block = tiles_per_block * kBackwardWarps;
  int blocks = ceil_div(N, rows_per_block);
  int blocks_per_group = 1;
  while (blocks_per_group * blocks_per_group < blocks) blocks_per_group++;
  int groups = ceil_div(blocks, blocks_per_group);  // <= blocks_per_group <= 23
  float* partials = (float*)scratch_buffer((size_t)(blocks + groups) * 2 * C * sizeof(float));
  CHAMBER_LAUNCH(layernorm_backward_kernel, blocks, kBackwardWarps * 32, 0, stream, dinp, dweight,
                 dbias, dout, inp, weight, mean, rstd, partials, N, C, rows_per_block,
                 blocks_per_group);
}

}  // namespace chamber::CHAMBER_GPU_NS
