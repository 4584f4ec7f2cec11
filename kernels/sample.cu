// Token sampling on the GPU; the math is in sample.h:
//   greedy:       ids[i] = argmax_j x_j (lowest j among ties)
//   temperature:  ids[i] = first j with p_0 + ... + p_j > u_i * P,  p_j = exp((x_j - max)/T)
//   logprobs[i] = x_id - max_V - log sum_{j<V} exp(x_j - max_V)
//
// Logits are floatX (bf16 in the bf16 builds), read as float; sums in double as said below.
// One block per row: a row is V floats (tens of thousands), far more than a warp. The draw is an
// inverse-CDF search, a prefix sum in disguise, so each thread owns one contiguous run of ids:
//   1. strided pass: max over V, and (value, id) of the best over n_draw (ties -> lower id);
//   2. strided pass: sum over V of exp(x - max_V), for the log-probability;
//   3. each thread sums p_j over its own run; thread 0 turns the per-thread sums into an exclusive
//      prefix (blockDim values, sequentially: cheap, and in a fixed order);
//   4. each thread walks its run from its prefix and offers the first j past u * P to an
//      atomicMin, so the smallest such id over the whole row wins.
// Reductions are shared-memory trees (blockDim is a power of two). Sums are double, like the
// reference, so a draw agrees with it except when u * P sits on a boundary to ~1e-16. The row is
// read three or four times: negligible next to the LM-head matmul that produced it, and what it
// saves is copying every row of logits to the host each step.
#include <cmath>

#include "util/util.h"
#include "kernels/cuda_launchers.h"

namespace chamber::CHAMBER_GPU_NS {

namespace {

constexpr int kBlock = 256;  // a power of two, for the tree reductions

__global__ void sample_kernel(int* ids, float* logprobs, const floatX* logits,
                              const double* uniforms, int n_draw, int V, int Vp,
                              float temperature) {
  __shared__ float tree_max[kBlock];
  __shared__ float tree_best[kBlock];
  __shared__ int tree_best_id[kBlock];
  __shared__ double tree_sum[kBlock];
  __shared__ double target;  // u * P
  __shared__ int drawn;
  const int tid = threadIdx.x, row = blockIdx.x;
  const floatX* x = logits + (size_t)row * Vp;

  // 1. max over V; best (value, id) over the first n_draw.
  float mx = -INFINITY, best = -INFINITY;
  int best_id = n_draw;
  for (int j = tid; j < V; j += blockDim.x) {
    float v = (float)x[j];
    mx = fmaxf(mx, v);
    if (j < n_draw && (v > best || best_id == n_draw)) {  // strided j rise: first wins ties
      best = v;
      best_id = j;
    }
  }
  tree_max[tid] = mx;
  tree_best[tid] = best;
  tree_best_id[tid] = best_id;
  __syncthreads();
  for (int stride = blockDim.x / 2; stride > 0; stride /= 2) {
    if (tid < stride) {
      tree_max[tid] = fmaxf(tree_max[tid], tree_max[tid + stride]);
      float other = tree_best[tid + stride];
      int other_id = tree_best_id[tid + stride];
      if (other_id < n_draw && (tree_best_id[tid] == n_draw || other > tree_best[tid] ||
                                (other == tree_best[tid] && other_id < tree_best_id[tid]))) {
        tree_best[tid] = other;
        tree_best_id[tid] = other_id;
      }
    }
    __syncthreads();
  }
  const float max_all = tree_max[0], max_draw = tree_best[0];
  const int argmax = tree_best_id[0];

  // 2. the softmax normaliser over V.
  double sum = 0.0;
  for (int j = tid; j < V; j += blockDim.x) sum += exp((double)(float)x[j] - (double)max_all);
  tree_sum[tid] = sum;
  __syncthreads();
  for (int stride = blockDim.x / 2; stride > 0; stride /= 2) {
    if (tid < stride) tree_sum[tid] += tree_sum[tid + stride];
    __syncthreads();
  }
  const double log_normaliser = (double)max_all + log(tree_sum[0]);
  __syncthreads();  // every thread has read tree_sum[0] before step 3 reuses it

  int id = argmax;
  if (temperature > 0.0f) {
    // 3. each thread's run of ids and its share of P; an exclusive prefix over the threads.
    const int run = (n_draw + (int)blockDim.x - 1) / (int)blockDim.x;
    const int begin = tid * run < n_draw ? tid * run : n_draw;
    const int end = begin + run < n_draw ? begin + run : n_draw;
    double share = 0.0;
    for (int j = begin; j < end; j++)
      share += exp(((double)(float)x[j] - (double)max_draw) / temperature);
    tree_sum[tid] = share;
    __syncthreads();
    if (tid == 0) {
      double prefix = 0.0;
      for (int t = 0; t < (int)blockDim.x; t++) {
        double s = tree_sum[t];
        tree_sum[t] = prefix;
        prefix += s;
      }
      target = uniforms[row] * prefix;  // prefix is now P
      drawn = n_draw - 1;               // if rounding leaves no j past the target
    }
    __syncthreads();
    // 4. walk the run; the first j past the target, over all threads, is the draw.
    double cumulative = tree_sum[tid];
    for (int j = begin; j < end; j++) {
      cumulative += exp(((double)(float)x[j] - (double)max_draw) / temperature);
      if (cumulative > target) {
        atomicMin(&drawn, j);
        break;
      }
    }
    __syncthreads();
    id = drawn;
  }
  if (tid == 0) {
    ids[row] = id;
    logprobs[row] = (float)((double)(float)x[id] - log_normaliser);
  }
}

}  // namespace

void sample_tokens(int* ids, float* logprobs, const floatX* logits, const double* uniforms, int N,
                   int n_draw, int V, int Vp, float temperature, cudaStream_t stream) {
  if (N <= 0) return;
  if (n_draw < 1 || n_draw > V || V > Vp)
    fail("sample_tokens: need 1 <= n_draw <= V <= Vp (got ", n_draw, ", ", V, ", ", Vp, ")");
  CHAMBER_LAUNCH(sample_kernel, N, kBlock, 0, stream, ids, logprobs, logits, uniforms, n_draw, V,
                 Vp, temperature);
}

}  // namespace chamber::CHAMBER_GPU_NS
