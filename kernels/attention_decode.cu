// Attention against a KV cache (sampling) on the GPU; the contract is in attention_decode.h:
//   first WRITE the Tn new keys/values of row i into cache slot slots[i] at positions
//   pos[i]..pos[i]+Tn-1, then each new token (position p) attends over its slot's positions 0..p:
//   out[i,j,h] = softmax_t2(s q . k_cache[t2]) v_cache[t2]          out (N,Tn,C) OVERWRITTEN
//   k_cache, v_cache (S, NH, max_len, hs).
// qkv, out and the KV cache are floatX (bf16 in the bf16 builds: new keys and values are copied
// into the cache unrounded, since they already are bf16); scores and sums are float.
//
// One block per (row, head): its threads first copy the new keys and values into the cache, a
// block barrier makes them visible, then each warp takes new tokens in turn. A warp keeps its
// token's scores in shared memory (max_len floats): lanes stride over cached positions for the
// dot products (each key row is hs contiguous floats), the max and the sum are warp reductions,
// and for the weighted sum the lanes stride over the hs output channels, reading each value row
// coalesced. Decoding is latency bound (few tokens, long caches), so the point is to keep every
// cached position's k and v read exactly once per query, not to use tensor cores.
#include <cmath>

#include "util/util.h"
#include "kernels/cuda_launchers.h"

namespace chamber::CHAMBER_GPU_NS {

namespace {

constexpr size_t kMaxSharedBytes = 48 * 1024;

__global__ void attention_decode_kernel(floatX* out, floatX* k_cache, floatX* v_cache,
                                        const floatX* qkv, const int* slots, const int* pos, int Tn,
                                        int C, int NH, int max_len) {
  CHAMBER_DYNAMIC_SHARED(float, scores_all);
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
  __syncthreads();

  int lane = threadIdx.x % 32, warp = threadIdx.x / 32, num_warps = blockDim.x / 32;
  float* scores = scores_all + (size_t)warp * max_len;
  for (int j = warp; j < Tn; j += num_warps) {
    int t = first + j;
    const floatX* q = rows + (size_t)j * 3 * C + h * hs;
    float max_score = -INFINITY;
    for (int t2 = lane; t2 <= t; t2 += 32) {
      const floatX* k = kc + (size_t)t2 * hs;
      float dot = 0.0f;
      for (int c = 0; c < hs; c++) dot += (float)q[c] * (float)k[c];
      scores[t2] = dot * scale;
      max_score = fmaxf(max_score, dot * scale);
    }
    max_score = warp_max(max_score);
    float sum = 0.0f;
    for (int t2 = lane; t2 <= t; t2 += 32) {
      float e = expf(scores[t2] - max_score);
      scores[t2] = e;
      sum += e;
    }
    float inv_sum = 1.0f / warp_sum(sum);
    __syncwarp();
    floatX* y = out + ((size_t)i * Tn + j) * C + h * hs;
    for (int c = lane; c < hs; c += 32) {
      float acc = 0.0f;
      for (int t2 = 0; t2 <= t; t2++) acc += scores[t2] * inv_sum * (float)vc[(size_t)t2 * hs + c];
      y[c] = (floatX)acc;
    }
    __syncwarp();  // every lane is done with `scores` before the next token overwrites it
  }
}

}  // namespace

void attention_decode(floatX* out, floatX* k_cache, floatX* v_cache, const floatX* qkv,
                      const int* slots, const int* pos, int N, int Tn, int C, int NH, int max_len,
                      cudaStream_t stream) {
  if (N <= 0 || Tn <= 0) return;
  size_t per_warp = (size_t)max_len * sizeof(float);
  if (per_warp > kMaxSharedBytes)
    fail("attention_decode: max_len ", max_len, " needs ", per_warp,
         " bytes of shared memory per warp; the limit is ", kMaxSharedBytes);
  int warps = (int)(kMaxSharedBytes / per_warp);
  if (warps > 4) warps = 4;
  if (warps > Tn) warps = Tn;
  CHAMBER_LAUNCH(attention_decode_kernel, N * NH, warps * 32, warps * per_warp, stream, out,
                 k_cache, v_cache, qkv, slots, pos, Tn, C, NH, max_len);
}

}  // namespace chamber::CHAMBER_GPU_NS
