// Fused classifier on the GPU: softmax, cross-entropy, entropy and the logits gradient in one
// kernel; the contract and the online-softmax identities are in classifier.h:
//   losses[i] = log S - (x_t - m),  entropy[i] = log S - A/S,  logits[i,:] = w_i (p - onehot(t))
//   with m = max x, S = sum e^(x-m), A = sum e^(x-m)(x-m) over the V real columns; padding -> 0.
//
// One block per row (V ~ 50k columns, far more than a warp). Each thread keeps a running
// (m, S, A) over its strided columns; the triples are merged across the warp with shuffles and
// across warps through shared memory, all with the same rule:
//   m = max(m1, m2), r_k = e^(m_k - m):  S = r1 S1 + r2 S2,  A = r1 (A1 + (m1-m) S1) + r2 (A2 + (m2-m) S2)
// Then a second read of the row overwrites it with the gradient. The row is read twice and
// written once; probabilities are never stored anywhere (they are recomputed from m and S).
//
// loss_sum adds the step's weighted loss to a device double, so the training step never reads
// the losses back: one block (N is a batch's positions, a few thousand to 65k), each thread a
// strided sum in double, then block_sum. The order is fixed by N alone: deterministic.
#include <cmath>

#include "util/util.h"
#include "kernels/cuda_launchers.h"

namespace chamber::CHAMBER_GPU_NS {

namespace {

constexpr int kBlock = 512;

struct SoftmaxStats {
  float m, S, A;  // running max, sum of e^(x-m), sum of e^(x-m)(x-m); S == 0 means empty
};

__device__ __forceinline__ SoftmaxStats merge(SoftmaxStats a, SoftmaxStats b) {
  if (a.S == 0.0f) return b;
  if (b.S == 0.0f) return a;
  float m = fmaxf(a.m, b.m);
  float ra = expf(a.m - m), rb = expf(b.m - m);
  return {m, ra * a.S + rb * b.S, ra * (a.A + (a.m - m) * a.S) + rb * (b.A + (b.m - m) * b.S)};
}

__device__ SoftmaxStats warp_merge(SoftmaxStats s) {
  for (int offset = 16; offset > 0; offset /= 2) {
    SoftmaxStats other{__shfl_xor_sync(0xffffffffu, s.m, offset),
                       __shfl_xor_sync(0xffffffffu, s.S, offset),
                       __shfl_xor_sync(0xffffffffu, s.A, offset)};
    s = merge(s, other);
  }
  return s;
}

__global__ void classifier_kernel(floatX* logits, float* losses, float* entropy, const int* targets,
                                  const float* token_weights, int V, int Vp, bool write_grad) {
  __shared__ float shared_m[32], shared_S[32], shared_A[32];
  int row = blockIdx.x;
  floatX* x = logits + (size_t)row * Vp;
  int target = targets[row];
  if (target < 0) {  // ignored row (the whole block takes this branch)
    if (threadIdx.x == 0) {
      losses[row] = 0.0f;
      if (entropy) entropy[row] = 0.0f;
    }
    if (write_grad)
      for (int j = threadIdx.x; j < Vp; j += blockDim.x) x[j] = (floatX)0.0f;
    return;
  }

  SoftmaxStats s{-INFINITY, 0.0f, 0.0f};
  for (int j = threadIdx.x; j < V; j += blockDim.x) {
    float v = (float)x[j];
    if (s.S == 0.0f) {
      s = {v, 1.0f, 0.0f};
    } else if (v > s.m) {
      float r = expf(s.m - v);
      s = {v, r * s.S + 1.0f, r * (s.A + (s.m - v) * s.S)};
    } else {
      float e = expf(v - s.m);
      s.S += e;
      s.A += e * (v - s.m);
    }
  }
  s = warp_merge(s);
  int lane = threadIdx.x % 32, warp = threadIdx.x / 32, num_warps = blockDim.x / 32;
  if (lane == 0) {
    shared_m[warp] = s.m;
    shared_S[warp] = s.S;
    shared_A[warp] = s.A;
  }
  __syncthreads();
  s = lane < num_warps ? SoftmaxStats{shared_m[lane], shared_S[lane], shared_A[lane]}
                       : SoftmaxStats{-INFINITY, 0.0f, 0.0f};
  s = warp_merge(s);  // every warp now holds the row's (m, S, A)

  float log_S = logf(s.S);
  if (threadIdx.x == 0) {
    losses[row] = log_S - ((float)x[target] - s.m);
    if (entropy) entropy[row] = log_S - s.A / s.S;
  }
  if (!write_grad) return;
  __syncthreads();  // x[target] is read above before any thread overwrites it
  float w = token_weights[row];
  float inv_S = 1.0f / s.S;
  for (int j = threadIdx.x; j < Vp; j += blockDim.x) {
    float grad = 0.0f;
    if (j < V) grad = w * (expf((float)x[j] - s.m) * inv_S - (j == target ? 1.0f : 0.0f));
    x[j] = (floatX)grad;
  }
}

constexpr int kLossSumBlock = 1024;

__global__ void loss_sum_kernel(double* total, const float* losses, const float* token_weights,
                                const int* targets, int N) {
  __shared__ double shared[32];
  double acc = 0.0;
  for (int i = threadIdx.x; i < N; i += blockDim.x)
    if (targets[i] >= 0) acc += (token_weights ? (double)token_weights[i] : 1.0) * (double)losses[i];
  double sum = block_sum(acc, shared);
  if (threadIdx.x == 0) *total += sum;
}

}  // namespace

void loss_sum(double* total, const float* losses, const float* token_weights, const int* targets,
              int N, cudaStream_t stream) {
  if (N <= 0) return;
  CHAMBER_LAUNCH(loss_sum_kernel, 1, kLossSumBlock, 0, stream, total, losses, token_weights,
                 targets, N);
}

void classifier_forward_backward(floatX* logits, float* losses, float* entropy, const int* targets,
                                 const float* token_weights, int N, int V, int Vp,
                                 bool write_grad, cudaStream_t stream) {
  if (N <= 0) return;
  if (V < 1 || V > Vp) fail("classifier: need 1 <= V <= Vp (V=", V, ", Vp=", Vp, ")");
  if (write_grad && !token_weights) fail("classifier: write_grad needs token_weights");
  CHAMBER_LAUNCH(classifier_kernel, N, kBlock, 0, stream, logits, losses, entropy, targets,
                 token_weights, V, Vp, write_grad);
}

}  // namespace chamber::CHAMBER_GPU_NS
