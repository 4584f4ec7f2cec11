// Attention against a KV cache (sampling) on the GPU; the contract is in attention_decode.h:
//   first WRITE the Tn new keys/values of row i into cache slot slots[i] at positions
//   pos[i]..pos[i]+Tn-1, then each new token (position p) attends over its slot's positions 0..p:
//   out[i,j,h] = softmax_t2(s q . k_cache[t2]) v_cache[t2]          out (N,Tn,C) OVERWRITTEN
//   k_cache, v_cache (S, NH, max_len, hs).
// qkv, out and the KV cache are floatX (bf16 in the bf16 builds: new keys and values are copied
// into the cache unrounded, since they already are bf16); scores and sums are float.
//
// One block of kThreads threads per (row, head): its threads first copy the new keys and values
// into the cache, a block barrier makes them visible, then the block takes the new tokens one at a
// time (one per call while decoding) and splits each one's cache along its length:
//   1. scores: the threads stride over cached positions 0..p, each a dot product of the query
//      (staged once in shared memory as float) with one key row (hs contiguous elements), into a
//      score row in shared memory (max_len floats);
//   2. softmax: the max and the sum of exponentials are block reductions;
//   3. the weighted sum over positions: the threads form groups of hs, one channel per thread; group
//      g sums positions g, g + groups, ... (each value row read coalesced by its group) and the
//      groups' partial sums are added in group order at the end. Heads wider than the block loop
//      over channels instead, one group.
// Decoding is latency bound (one new token against a long cache), so the point is to keep every
// cached position's k and v read exactly once per query by as many threads as possible: with the
// whole block on one query instead of one warp, a row of batch 256 at 512 cached positions
// spreads its work over 4x more threads, not tensor cores.
#include <cmath>

#include "util/util.h"
#include "kernels/cuda_launchers.h"

namespace chamber::CHAMBER_GPU_NS {

namespace {

constexpr int kThreads = 128;  // a multiple of 32 (block reductions) and of GPT-2's head sizes
constexpr size_t kMaxSharedBytes = 48 * 1024;

// Max over a block whose size is a multiple of 32; `shared` holds 32 floats. Ends with a barrier.
__device__ float block_max(float v, float* shared) {
  unsigned lane = threadIdx.x % 32, warp = threadIdx.x / 32, num_warps = blockDim.x / 32;
  v = warp_max(v);
  if (lane == 0) shared[warp] = v;
  __syncthreads();
  float m = lane < num_warps ? shared[lane] : -INFINITY;
  m = warp_max(m);
  __syncthreads();
  return m;
}

// Shared memory: the score row (max_len floats), the groups' partial sums (kThreads) and the query
// (hs), in that order.
size_t shared_bytes(int max_len, int hs) {
  return ((size_t)max_len + kThreads + hs) * sizeof(float);
}

__global__ void attention_decode_kernel(floatX* out, floatX* k_cache, floatX* v_cache,
                                        const floatX* qkv, const int* slots, const int* pos, int Tn,
                                        int C, int NH, int max_len) {
  CHAMBER_DYNAMIC_SHARED(float, shared);
  __shared__ float reduce_buf[32];
  float* scores = shared;
  float* partial = shared + max_len;
  float* q = partial + kThreads;
  int i = blockIdx.x / NH, h = blockIdx.x % NH;
  int hs = C / NH;
  float scale = 1.0f / sqrtf((float)hs);
  size_t head_base = ((size_t)slots[i] * NH + h) * max_len * hs;
  floatX* kc = k_cache + head_base;
  floatX* vc = v_cache + head_base;
  const floatX* rows = qkv + (size_t)i * Tn * 3 * C;
  int first = pos[i];

  for (int e = threadIdx.x; e < Tn * hs; e += blockDim.x) {  // append the new keys and values
    int j = e / hs, c = e % hs;
    const floatX* r = rows + (size_t)j * 3 * C;
    kc[(size_t)(first + j) * hs + c] = r[C + h * hs + c];
    vc[(size_t)(first + j) * hs + c] = r[2 * C + h * hs + c];
  }

  // The weighted sum's groups: blockDim / hs groups of hs threads, or one when the head is wider.
  const int groups = hs <= (int)blockDim.x ? (int)blockDim.x / hs : 1;
  for (int j = 0; j < Tn; j++) {
    int t = first + j;
    for (int c = threadIdx.x; c < hs; c += blockDim.x) q[c] = (float)rows[(size_t)j * 3 * C + h * hs + c];
    __syncthreads();  // the query, and (for j = 0) the appended keys and values, are visible

    float local_max = -INFINITY;
    for (int t2 = threadIdx.x; t2 <= t; t2 += blockDim.x) {
      const floatX* k = kc + (size_t)t2 * hs;
      float dot = 0.0f;
      for (int c = 0; c < hs; c++) dot += q[c] * (float)k[c];
      scores[t2] = dot * scale;
      local_max = fmaxf(local_max, dot * scale);
    }
    float max_score = block_max(local_max, reduce_buf);
    float local_sum = 0.0f;
    for (int t2 = threadIdx.x; t2 <= t; t2 += blockDim.x) {
      float e = expf(scores[t2] - max_score);
      scores[t2] = e;
      local_sum += e;
    }
    float inv_sum = 1.0f / block_sum(local_sum, reduce_buf);  // its barrier publishes the scores

    floatX* y = out + ((size_t)i * Tn + j) * C + h * hs;
    if (groups == 1) {
      for (int c = threadIdx.x; c < hs; c += blockDim.x) {
        float acc = 0.0f;
        for (int t2 = 0; t2 <= t; t2++) acc += scores[t2] * (float)vc[(size_t)t2 * hs + c];
        y[c] = (floatX)(acc * inv_sum);
      }
    } else {
      int g = threadIdx.x / hs, c = threadIdx.x % hs;
      if (g < groups) {
        float acc = 0.0f;
        for (int t2 = g; t2 <= t; t2 += groups) acc += scores[t2] * (float)vc[(size_t)t2 * hs + c];
        partial[threadIdx.x] = acc;
      }
      __syncthreads();
      if ((int)threadIdx.x < hs) {
        float acc = 0.0f;
        for (int gg = 0; gg < groups; gg++) acc += partial[gg * hs + threadIdx.x];
        y[threadIdx.x] = (floatX)(acc * inv_sum);
      }
    }
    __syncthreads();  // every thread is done with the scores, partials and query of this token
  }
}

}  // namespace

void attention_decode(floatX* out, floatX* k_cache, floatX* v_cache, const floatX* qkv,
                      const int* slots, const int* pos, int N, int Tn, int C, int NH, int max_len,
                      cudaStream_t stream) {
  if (N <= 0 || Tn <= 0) return;
  const int hs = C / NH;
  size_t shared = shared_bytes(max_len, hs);
  if (shared > kMaxSharedBytes)
    fail("attention_decode: max_len ", max_len, " and head size ", hs, " need ", shared,
         " bytes of shared memory per block; the limit is ", kMaxSharedBytes);
  CHAMBER_LAUNCH(attention_decode_kernel, N * NH, kThreads, shared, stream, out, k_cache, v_cache,
                 qkv, slots, pos, Tn, C, NH, max_len);
}

}  // namespace chamber::CHAMBER_GPU_NS
