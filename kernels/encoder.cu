// Token + position embedding on the GPU; the contract is in encoder.h:
//   forward:  out[b,t,:] = wte[tokens[b,t],:] + wpe[t,:]        out (B,T,C) OVERWRITTEN
//   backward: dwte[tokens[b,t],:] += dout[b,t,:]                dwte (V,C) ACCUMULATES
//             dwpe[t,:] += sum_b dout[b,t,:]                    dwpe (T,C) ACCUMULATES
// Types: out, wte, wpe, dout floatX; dwte, dwpe float (parameter gradients), added to in float.
//
// Forward is a gather: one thread per output element, coalesced along C.
// Backward, dwpe: one thread per (t, c) sums the B rows in order.
// Backward, dwte is a scatter in which repeated tokens collide. Instead of atomics (whose order,
// and so whose rounding, changes from run to run) the vocabulary is split into kSlices classes
// (token % kSlices) and each warp owns one class for 32 channels: it walks all positions in
// order, 32 tokens at a time, picks out its class with a ballot and adds those rows. Exactly one
// warp writes any element of dwte, in position order, so the result is deterministic. Each warp
// reads all B*T tokens (cheap: 4 bytes per position, broadcast) and 1/kSlices of dout.
#include "kernels/cuda_launchers.h"

namespace chamber::CHAMBER_GPU_NS {

namespace {

constexpr int kBlock = 256;
constexpr int kSlices = 64;          // vocabulary classes; slices x channel chunks = warps
constexpr int kWarpsPerBlock = 4;

__global__ void encoder_forward_kernel(floatX* out, const int* tokens, const floatX* wte,
                                       const floatX* wpe, int N, int T, int C) {
  size_t idx = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
  if (idx >= (size_t)N * C) return;
  int bt = (int)(idx / C), c = (int)(idx % C);
  int t = bt % T;
  out[idx] = (floatX)((float)wte[(size_t)tokens[bt] * C + c] + (float)wpe[(size_t)t * C + c]);
}

__global__ void encoder_backward_wpe_kernel(float* dwpe, const floatX* dout, int B, int T, int C) {
  size_t idx = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
  if (idx >= (size_t)T * C) return;
  float acc = 0.0f;
  for (int b = 0; b < B; b++) acc += (float)dout[(size_t)b * T * C + idx];
  dwpe[idx] += acc;
}

// grid (ceil(C/32), kSlices / kWarpsPerBlock), block (32, kWarpsPerBlock): warp y of block
// (x, s) owns channels x*32 .. x*32+31 and tokens with token % kSlices == s*kWarpsPerBlock + y.
__global__ void encoder_backward_wte_kernel(float* dwte, const floatX* dout, const int* tokens,
                                            int N, int C) {
  int lane = threadIdx.x;
  int c = blockIdx.x * 32 + lane;
  int slice = blockIdx.y * kWarpsPerBlock + threadIdx.y;
  for (int base = 0; base < N; base += 32) {
    int position = base + lane;
    int token = position < N ? tokens[position] : -1;
    unsigned mine = __ballot_sync(0xffffffffu, token >= 0 && token % kSlices == slice);
    while (mine) {  // uniform across the warp: every lane walks the same positions in order
      int src_lane = __ffs(mine) - 1;
      mine &= mine - 1;
      int row_token = __shfl_sync(0xffffffffu, token, src_lane);
      if (c < C) {
        size_t dst = (size_t)row_token * C + c;
        dwte[dst] += (float)dout[(size_t)(base + src_lane) * C + c];
      }
    }
  }
}

}  // namespace

void encoder_forward(floatX* out, const int* tokens, const floatX* wte, const floatX* wpe, int B,
                     int T, int C, cudaStream_t stream) {
  size_t total = (size_t)B * T * C;
  if (total == 0) return;
  CHAMBER_LAUNCH(encoder_forward_kernel, ceil_div(total, kBlock), kBlock, 0, stream, out, tokens,
                 wte, wpe, B * T, T, C);
}

void encoder_backward(float* dwte, float* dwpe, const floatX* dout, const int* tokens, int B,
                      int T, int C, cudaStream_t stream) {
  if ((size_t)B * T * C == 0) return;
  static_assert(kSlices % kWarpsPerBlock == 0, "slices fill whole blocks");
  CHAMBER_LAUNCH(encoder_backward_wpe_kernel, ceil_div((size_t)T * C, kBlock), kBlock, 0, stream,
                 dwpe, dout, B, T, C);
  CHAMBER_LAUNCH(encoder_backward_wte_kernel, dim3(ceil_div(C, 32), kSlices / kWarpsPerBlock),
                 dim3(32, kWarpsPerBlock), 0, stream, dwte, dout, tokens, B * T, C);
}

}  // namespace chamber::CHAMBER_GPU_NS
