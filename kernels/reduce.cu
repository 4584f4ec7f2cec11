// Reductions used by several ops, deterministic by construction (fixed summation order for a
// given shape, no floating-point atomics), so a run on the same GPU repeats bit for bit:
//
//   column_sums_accumulate: out[c] += sum_i x[i,c] * s[i]  for x (N,C), s (N) or 1.   out ACCUMULATES
//     The bias gradients (matmul), the value head's dw and db. out and s are float, x floatX (or
//     float: the value head's db sums dvalues); sums in float. Two passes: the rows are cut into
//     parts of kRowsPerPart; a 32x8 block sums one part for 32 channels (lanes on consecutive
//     channels, so reads are coalesced; 8 row-strided threads per channel, combined in shared
//     memory in order) into a partial (P,C) in scratch; then one thread per channel adds the P
//     partials in order. One pass over N for each channel would leave the GPU mostly idle
//     (C ~ 768 threads), atomics would make the sum order vary.
//
//   sum_squares: sum_i g[i]^2 in double for float g (parameter gradients), left in device memory. A fixed grid (from n only) of
//     blocks, each thread striding over the array, block sums in shared memory to one partial per
//     block, then one block adds the partials.
#include "kernels/cuda_launchers.h"
#include "kernels/reduce_parts.h"

namespace chamber::CHAMBER_GPU_NS {

namespace {

constexpr int kSumSquaresBlock = 512;
constexpr int kSumSquaresMaxBlocks = 1024;

template <typename In>
__global__ void column_partial_sums_kernel(float* partials, const In* x, const float* row_scale,
                                           int N, int C, int rows_per_part) {
  __shared__ float sums[kPartRowThreads][32];
  int c = blockIdx.x * 32 + threadIdx.x;
  int row_begin = blockIdx.y * rows_per_part;
  int row_end = min_int(row_begin + rows_per_part, N);
  float acc = 0.0f;
  if (c < C) {
    for (int i = row_begin + threadIdx.y; i < row_end; i += kPartRowThreads) {
      float s = row_scale ? row_scale[i] : 1.0f;
      acc += (float)x[(size_t)i * C + c] * s;
    }
  }
  sums[threadIdx.y][threadIdx.x] = acc;
  __syncthreads();
  if (threadIdx.y == 0 && c < C) {
    float total = 0.0f;
    for (int y = 0; y < kPartRowThreads; y++) total += sums[y][threadIdx.x];
    partials[(size_t)blockIdx.y * C + c] = total;
  }
}

__global__ void add_partials_kernel(float* out, const float* partials, int parts, int C) {
  int c = blockIdx.x * blockDim.x + threadIdx.x;
  if (c >= C) return;
  float total = 0.0f;
  for (int p = 0; p < parts; p++) total += partials[(size_t)p * C + c];
  out[c] += total;
}

__global__ void sum_squares_partial_kernel(double* partials, const float* g, size_t n) {
  __shared__ double shared[32];
  double acc = 0.0;
  size_t stride = (size_t)gridDim.x * blockDim.x;
  for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
    double v = (double)g[i];
    acc += v * v;
  }
  double total = block_sum(acc, shared);
  if (threadIdx.x == 0) partials[blockIdx.x] = total;
}

__global__ void sum_partials_kernel(double* result, const double* partials, int count) {
  __shared__ double shared[32];
  double acc = 0.0;
  for (int i = threadIdx.x; i < count; i += blockDim.x) acc += partials[i];
  double total = block_sum(acc, shared);
  if (threadIdx.x == 0) *result = total;
}

}  // namespace

PartPlan plan_parts(int N) {
  PartPlan plan;
  plan.rows_per_part = kRowsPerPart;
  if (N / plan.rows_per_part >= 65535) plan.rows_per_part = N / 65535 + 1;  // grid.y limit
  plan.parts = N > 0 ? (N + plan.rows_per_part - 1) / plan.rows_per_part : 0;
  return plan;
}

void add_partials(float* out, const float* partials, int parts, int C, cudaStream_t stream) {
  CHAMBER_LAUNCH(add_partials_kernel, ceil_div(C, 256), 256, 0, stream, out, partials, parts, C);
}

namespace {

template <typename In>
void column_sums(float* out, const In* x, const float* row_scale, int N, int C,
                 cudaStream_t stream) {
  if (N <= 0 || C <= 0) return;
  PartPlan plan = plan_parts(N);
  float* partials = (float*)scratch_buffer((size_t)plan.parts * C * sizeof(float));
  CHAMBER_LAUNCH(column_partial_sums_kernel<In>, dim3(ceil_div(C, 32), plan.parts),
                 dim3(32, kPartRowThreads), 0, stream, partials, x, row_scale, N, C,
                 plan.rows_per_part);
  add_partials(out, partials, plan.parts, C, stream);
}

}  // namespace

void column_sums_accumulate(float* out, const floatX* x, const float* row_scale, int N, int C,
                            cudaStream_t stream) {
  column_sums(out, x, row_scale, N, C, stream);
}
#if defined(CHAMBER_BF16)
void column_sums_accumulate(float* out, const float* x, const float* row_scale, int N, int C,
                            cudaStream_t stream) {
  column_sums(out, x, row_scale, N, C, stream);
}
#endif

void sum_squares(double* sumsq, const float* g, size_t n, cudaStream_t stream) {
  if (n == 0) {
    CUDA_CHECK(cudaMemsetAsync(sumsq, 0, sizeof(double), stream));
    return;
  }
  unsigned blocks = ceil_div(n, (size_t)kSumSquaresBlock * 8);  // >= 8 elements per thread
  if (blocks > kSumSquaresMaxBlocks) blocks = kSumSquaresMaxBlocks;
  double* partials = (double*)scratch_buffer(blocks * sizeof(double));
  CHAMBER_LAUNCH(sum_squares_partial_kernel, blocks, kSumSquaresBlock, 0, stream, partials, g, n);
  // The result stays on the device, where AdamW reads it (no host round trip inside a step).
  CHAMBER_LAUNCH(sum_partials_kernel, 1, 1024, 0, stream, sumsq, (const double*)partials,
                 (int)blocks);
}

}  // namespace chamber::CHAMBER_GPU_NS
