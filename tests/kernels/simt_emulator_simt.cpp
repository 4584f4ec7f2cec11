// The SIMT emulator itself (kernels/simt.h): block barriers and shared memory, warp shuffles and
// votes (including a partial last warp and sub-warp widths), atomics across blocks, dynamic
// shared memory, 16-bit conversions, and the misuses it must report as errors instead of hanging
// or silently computing garbage.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "engine/util.h"
#include "kernels/cuda_common.h"

namespace chamber::cuda_emulated {
namespace {

// Reverses each block's slice through shared memory: wrong without a working __syncthreads.
__global__ void reverse_kernel(int* out, const int* in, int n) {
  __shared__ int tile[128];
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  tile[threadIdx.x] = i < n ? in[i] : -1;
  __syncthreads();
  int j = blockIdx.x * blockDim.x + (blockDim.x - 1 - threadIdx.x);
  if (j < n) out[j] = tile[threadIdx.x];
}

TEST(SimtEmulator, SyncthreadsOrdersSharedMemory) {
  const int n = 2 * 100;  // two blocks of 100 threads: the last warp of each has 4 lanes
  std::vector<int> in(n), out(n, -7);
  for (int i = 0; i < n; i++) in[i] = i * 3;
  CHAMBER_LAUNCH(reverse_kernel, 2, 100, 0, nullptr, out.data(), (const int*)in.data(), n);
  for (int b = 0; b < 2; b++)
    for (int t = 0; t < 100; t++) EXPECT_EQ(out[b * 100 + 99 - t], in[b * 100 + t]);
}

__global__ void shuffle_kernel(int* out) {
  int lane = threadIdx.x % 32;
  int v = 100 + (int)threadIdx.x;
  out[threadIdx.x * 5 + 0] = __shfl_xor_sync(0xffffffffu, v, 1);
  out[threadIdx.x * 5 + 1] = __shfl_down_sync(0xffffffffu, v, 3);
  out[threadIdx.x * 5 + 2] = __shfl_up_sync(0xffffffffu, v, 2);
  out[threadIdx.x * 5 + 3] = __shfl_sync(0xffffffffu, v, 5, 16);  // lane 5 of each 16-lane half
  out[threadIdx.x * 5 + 4] = (int)__ballot_sync(0xffffffffu, lane % 3 == 0);
}

TEST(SimtEmulator, ShufflesAndBallotFollowCudaRules) {
  std::vector<int> out(64 * 5);
  CHAMBER_LAUNCH(shuffle_kernel, 1, 64, 0, nullptr, out.data());
  unsigned every_third = 0;
  for (int l = 0; l < 32; l += 3) every_third |= 1u << l;
  for (int t = 0; t < 64; t++) {
    int lane = t % 32, base = t - lane;
    EXPECT_EQ(out[t * 5 + 0], 100 + base + (lane ^ 1));
    EXPECT_EQ(out[t * 5 + 1], 100 + base + (lane + 3 < 32 ? lane + 3 : lane));  // own if off the end
    EXPECT_EQ(out[t * 5 + 2], 100 + base + (lane >= 2 ? lane - 2 : lane));
    EXPECT_EQ(out[t * 5 + 3], 100 + base + (lane / 16) * 16 + 5);
    EXPECT_EQ((unsigned)out[t * 5 + 4], every_third);
  }
}

__global__ void warp_reduce_kernel(float* out, const float* in, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  float v = i < n ? in[i] : 0.0f;
  float total = warp_sum(v);
  if (threadIdx.x % 32 == 0) atomicAdd(out, total);
}

TEST(SimtEmulator, WarpSumsAndAtomicsAcrossBlocks) {
  const int n = 1000;
  std::vector<float> in(n);
  double want = 0;
  for (int i = 0; i < n; i++) want += (in[i] = 0.25f * (i % 7));
  float total = 0.0f;
  CHAMBER_LAUNCH(warp_reduce_kernel, ceil_div(n, 96), 96, 0, nullptr, &total, (const float*)in.data(), n);
  EXPECT_FLOAT_EQ(total, (float)want);
}

__global__ void dynamic_shared_kernel(float* out, int n) {
  CHAMBER_DYNAMIC_SHARED(float, buffer);
  if (threadIdx.x < (unsigned)n) buffer[threadIdx.x] = (float)threadIdx.x;
  __syncthreads();
  out[threadIdx.x] = buffer[threadIdx.x];
}

TEST(SimtEmulator, DynamicSharedMemoryIsPoisoned) {
  std::vector<float> out(40);
  CHAMBER_LAUNCH(dynamic_shared_kernel, 1, 40, 40 * sizeof(float), nullptr, out.data(), 30);
  for (int i = 0; i < 30; i++) EXPECT_EQ(out[i], (float)i);
  for (int i = 30; i < 40; i++) EXPECT_TRUE(std::isnan(out[i])) << "unwritten shared memory at " << i;
}

__global__ void divergent_barrier_kernel(int* out) {
  if (threadIdx.x < 16) __syncthreads();
  out[threadIdx.x] = 1;
}
__global__ void early_exit_barrier_kernel(int* out, int n) {
  if ((int)threadIdx.x >= n) return;
  __syncthreads();
  out[threadIdx.x] = 1;
}
__global__ void early_exit_shuffle_kernel(int* out, int n) {
  if ((int)threadIdx.x >= n) return;
  out[threadIdx.x] = warp_sum((int)threadIdx.x);
}
__global__ void throwing_kernel(int* out) {
  if (threadIdx.x == 3) fail("kernel-side failure");
  out[threadIdx.x] = 1;
}

TEST(SimtEmulator, MisusesAreErrorsNotHangs) {
  std::vector<int> out(64);
  EXPECT_THROW(CHAMBER_LAUNCH(divergent_barrier_kernel, 1, 64, 0, nullptr, out.data()), Error);
  EXPECT_THROW(CHAMBER_LAUNCH(early_exit_barrier_kernel, 1, 64, 0, nullptr, out.data(), 50), Error);
  EXPECT_THROW(CHAMBER_LAUNCH(early_exit_shuffle_kernel, 1, 64, 0, nullptr, out.data(), 50), Error);
  EXPECT_THROW(CHAMBER_LAUNCH(throwing_kernel, 1, 64, 0, nullptr, out.data()), Error);
  EXPECT_THROW(CHAMBER_LAUNCH(throwing_kernel, 1, 2048, 0, nullptr, out.data()), Error);
  EXPECT_THROW(CHAMBER_LAUNCH(dynamic_shared_kernel, 1, 32, 1 << 20, nullptr, (float*)nullptr, 0),
               Error);
  // The emulator is usable again after an error.
  CHAMBER_LAUNCH(early_exit_barrier_kernel, 1, 64, 0, nullptr, out.data(), 64);
  EXPECT_EQ(out[63], 1);
}

TEST(SimtEmulator, SixteenBitConversionsRoundToNearestEven) {
  EXPECT_EQ(__half2float(__float2half(1.0f)), 1.0f);
  EXPECT_EQ(__half2float(__float2half(65504.0f)), 65504.0f);
  EXPECT_TRUE(std::isinf(__half2float(__float2half(65520.0f))));
  EXPECT_EQ(__half2float(__float2half(1.0f + 1.0f / 2048)), 1.0f);  // tie -> even
  EXPECT_EQ(__half2float(__float2half(1.0f + 3.0f / 2048)), 1.0f + 2.0f / 1024);
  EXPECT_EQ(__half2float(__float2half(std::ldexp(1.0f, -24))), std::ldexp(1.0f, -24));  // subnormal
  EXPECT_TRUE(std::isnan(__half2float(__float2half(NAN))));
  EXPECT_EQ(__bfloat162float(__float2bfloat16(1.0f + 1.0f / 256)), 1.0f);  // tie -> even
  EXPECT_EQ(__bfloat162float(__float2bfloat16(-3.0f)), -3.0f);
  EXPECT_TRUE(std::isnan(__bfloat162float(__float2bfloat16(NAN))));
}

}  // namespace
}  // namespace chamber::cuda_emulated
