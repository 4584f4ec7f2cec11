// The SIMT emulator itself (kernels/simt.h): block barriers and shared memory, warp shuffles and
// votes (including a partial last warp and sub-warp widths), atomics across blocks, dynamic
// shared memory and its opt-in limit, 16-bit and TF32 conversions, the tensor-core fragment API
// (kernels/simt_wmma.h: TF32 m16n16k8) against a plain matmul, the raw
// bf16 mma.sync m16n8k16 (kernels/simt_mma.h) against the PTX ISA's register layout, and the
// misuses it must report as errors instead of hanging or silently computing garbage.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <iterator>
#include <type_traits>
#include <vector>

#include "util/util.h"
#include "kernels/cuda_common.h"
#include "tests/test_util.h"

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


// ---- tensor cores (simt_wmma.h) ----

namespace wmma = nvcuda::wmma;

uint32_t bits_of(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

TEST(SimtEmulator, Tf32RoundsToNearestTiesAwayFromZero) {
  const float ulp = std::ldexp(1.0f, -10);  // TF32's at 1.0
  EXPECT_EQ(wmma::__float_to_tf32(1.0f), 1.0f);
  EXPECT_EQ(wmma::__float_to_tf32(1.0f + ulp / 4), 1.0f);
  EXPECT_EQ(wmma::__float_to_tf32(1.0f + ulp / 2), 1.0f + ulp);            // tie: away from zero
  EXPECT_EQ(wmma::__float_to_tf32(-(1.0f + ulp / 2)), -(1.0f + ulp));
  EXPECT_EQ(wmma::__float_to_tf32(1.0f + 3 * ulp / 2), 1.0f + 2 * ulp);    // tie, odd: still away
  EXPECT_EQ(wmma::__float_to_tf32(1.0f + 3 * ulp / 4), 1.0f + ulp);
  EXPECT_EQ(bits_of(wmma::__float_to_tf32(0.1f)) & 0x1fffu, 0u);  // low 13 bits cleared
  EXPECT_TRUE(std::isinf(wmma::__float_to_tf32(INFINITY)));
  EXPECT_TRUE(std::isnan(wmma::__float_to_tf32(NAN)));
}

// D (32 x 16) = 0.5 * (A (32 x 16) B (16 x 16) + C) over two warps of 16 rows, k in two steps of 8.
// A is row-major with leading dimension 24 (or column-major, 40), B column-major (20) or
// row-major (16), C read column-major (36), D written row-major (16): the strides and layouts all
// differ so a mix-up shows.
constexpr int kLda = 24, kLdaCol = 40, kLdbCol = 20, kLdb = 16, kLdc = 36, kLdd = 16;
template <typename Element, typename LayoutA, typename LayoutB>
__global__ void wmma_matmul_kernel(float* d, const float* a, const float* b, const float* c) {
  constexpr bool a_rows = std::is_same_v<LayoutA, wmma::row_major>;
  constexpr bool b_rows = std::is_same_v<LayoutB, wmma::row_major>;
  int row0 = threadIdx.x / 32 * 16;
  wmma::fragment<wmma::accumulator, 16, 16, 8, float> acc;
  wmma::load_matrix_sync(acc, c + row0, kLdc, wmma::mem_col_major);
  for (int k0 = 0; k0 < 16; k0 += 8) {
    wmma::fragment<wmma::matrix_a, 16, 16, 8, Element, LayoutA> fa;
    wmma::fragment<wmma::matrix_b, 16, 16, 8, Element, LayoutB> fb;
    wmma::load_matrix_sync(fa, a_rows ? a + row0 * kLda + k0 : a + k0 * kLdaCol + row0,
                           a_rows ? kLda : kLdaCol);
    wmma::load_matrix_sync(fb, b_rows ? b + k0 * kLdb : b + k0, b_rows ? kLdb : kLdbCol);
    wmma::mma_sync(acc, fa, fb, acc);
  }
  for (int i = 0; i < acc.num_elements; i++) acc.x[i] *= 0.5f;
  wmma::store_matrix_sync(d + row0 * kLdd, acc, kLdd, wmma::mem_row_major);
}

struct alignas(64) MatmulBuffers {
  float a[40 * 32], b[20 * 16], c[36 * 16], d[32 * 16];
  float A(int r, int k, bool rows) const { return rows ? a[r * kLda + k] : a[k * kLdaCol + r]; }
  float B(int k, int n, bool rows) const { return rows ? b[k * kLdb + n] : b[n * kLdbCol + k]; }
};

// Fills a, b, c with values from [-2, 2) passed through `prepare`, runs the kernel, and returns
// the worst |D - want| against a double matmul of what `product_input` makes of A and B, relative
// to the sum of the magnitudes of its terms (so cancellation does not inflate it).
template <typename Element, typename LayoutA, typename LayoutB, typename Prepare, typename Input>
double wmma_matmul_error(Prepare prepare, Input product_input) {
  constexpr bool a_rows = std::is_same_v<LayoutA, wmma::row_major>;
  constexpr bool b_rows = std::is_same_v<LayoutB, wmma::row_major>;
  MatmulBuffers m;
  auto fill = [&](float* x, size_t n, uint64_t seed) {
    auto v = testing::random_vector(n, seed, -2.0f, 2.0f);
    for (size_t i = 0; i < n; i++) x[i] = prepare(v[i]);
  };
  fill(m.a, std::size(m.a), 1);
  fill(m.b, std::size(m.b), 2);
  fill(m.c, std::size(m.c), 3);
  CHAMBER_LAUNCH((wmma_matmul_kernel<Element, LayoutA, LayoutB>), 1, 64, 0, nullptr, m.d,
                 (const float*)m.a, (const float*)m.b, (const float*)m.c);
  double worst = 0;
  for (int r = 0; r < 32; r++)
    for (int n = 0; n < 16; n++) {
      double want = m.c[n * kLdc + r], size = std::fabs(want);
      for (int k = 0; k < 16; k++) {
        double term = (double)product_input(m.A(r, k, a_rows)) * product_input(m.B(k, n, b_rows));
        want += term;
        size += std::fabs(term);
      }
      double err = std::fabs(m.d[r * kLdd + n] - 0.5 * want) / (0.5 * size);
      if (!(err <= worst)) worst = err;  // NaN sticks
    }
  return worst;
}

TEST(SimtEmulator, WmmaMatchesAPlainMatmul) {
  auto same = [](float x) { return x; };
  auto round = [](float x) { return wmma::__float_to_tf32(x); };
  auto truncate = [](float x) {
    uint32_t u = bits_of(x) & 0xffffe000u;
    float t;
    std::memcpy(&t, &u, 4);
    return t;
  };
  // Rounded TF32 inputs multiply exactly; the only error is fp32 accumulation of 17 terms
  // (<= 17 * 2^-24 ~ 1e-6 of their magnitudes).
  EXPECT_LT((wmma_matmul_error<wmma::precision::tf32, wmma::row_major, wmma::col_major>(round, same)), 2e-6);
  EXPECT_LT((wmma_matmul_error<wmma::precision::tf32, wmma::col_major, wmma::row_major>(round, same)), 2e-6);
  // Unrounded inputs to TF32 fragments: the low 13 bits are dropped, as the hardware reads them.
  EXPECT_LT((wmma_matmul_error<wmma::precision::tf32, wmma::row_major, wmma::row_major>(same, truncate)), 2e-6);
  EXPECT_GT((wmma_matmul_error<wmma::precision::tf32, wmma::row_major, wmma::row_major>(same, same)), 2e-6);
  // The emulator's fp32 fragments multiply the full values.
  EXPECT_LT((wmma_matmul_error<float, wmma::col_major, wmma::col_major>(same, same)), 2e-6);
}

__global__ void wmma_partial_warp_kernel(const float* a) {
  wmma::fragment<wmma::matrix_a, 16, 16, 8, wmma::precision::tf32, wmma::row_major> fa;
  wmma::load_matrix_sync(fa, a, 8);
}
__global__ void wmma_divergent_kernel(const float* a) {
  wmma::fragment<wmma::matrix_a, 16, 16, 8, wmma::precision::tf32, wmma::row_major> fa;
  if (threadIdx.x < 16) wmma::load_matrix_sync(fa, a, 8);
  else __syncwarp();
}
__global__ void wmma_lane_pointer_kernel(const float* a) {
  wmma::fragment<wmma::matrix_a, 16, 16, 8, wmma::precision::tf32, wmma::row_major> fa;
  wmma::load_matrix_sync(fa, a + threadIdx.x % 2 * 8, 16);
}
__global__ void wmma_early_exit_kernel(const float* a) {
  if (threadIdx.x >= 16) return;
  wmma::fragment<wmma::matrix_a, 16, 16, 8, wmma::precision::tf32, wmma::row_major> fa;
  wmma::load_matrix_sync(fa, a, 8);
}
__global__ void big_shared_kernel(float* out) {
  CHAMBER_DYNAMIC_SHARED(float, buffer);
  buffer[threadIdx.x] = 1.0f;
  out[threadIdx.x] = buffer[threadIdx.x];
}

TEST(SimtEmulator, WmmaMisusesAreErrors) {
  alignas(64) static float a[16 * 32] = {};
  EXPECT_THROW(CHAMBER_LAUNCH(wmma_partial_warp_kernel, 1, 16, 0, nullptr, (const float*)a), Error);
  EXPECT_THROW(CHAMBER_LAUNCH(wmma_partial_warp_kernel, 1, 32, 0, nullptr, (const float*)(a + 1)),
               Error);  // not 32-byte aligned
  EXPECT_THROW(CHAMBER_LAUNCH(wmma_divergent_kernel, 1, 32, 0, nullptr, (const float*)a), Error);
  EXPECT_THROW(CHAMBER_LAUNCH(wmma_lane_pointer_kernel, 1, 32, 0, nullptr, (const float*)a), Error);
  EXPECT_THROW(CHAMBER_LAUNCH(wmma_early_exit_kernel, 1, 32, 0, nullptr, (const float*)a), Error);
  CHAMBER_LAUNCH(wmma_partial_warp_kernel, 1, 64, 0, nullptr, (const float*)a);  // still usable
}

// ---- the raw bf16 mma.sync m16n8k16 (simt_mma.h) ----

// Each lane builds its registers from row-major A (16 x 16), B (16 x 8) and C (16 x 8) by the PTX
// ISA's table for mma.m16n8k16 (written out again here, apart from the emulator's), runs one mma,
// and stores D by the same table. `lanes` below 32 makes the warp partial, an error.
__global__ void mma_m16n8k16_kernel(float* d, const __nv_bfloat16* a, const __nv_bfloat16* b,
                                    const float* c) {
  const int g = threadIdx.x / 4, t = threadIdx.x % 4;
  auto bits = [](__nv_bfloat16 v) { return (uint32_t)v.bits; };
  auto pair = [&](__nv_bfloat16 lo, __nv_bfloat16 hi) { return bits(lo) | bits(hi) << 16; };
  const uint32_t ra[4] = {pair(a[g * 16 + 2 * t], a[g * 16 + 2 * t + 1]),
                          pair(a[(g + 8) * 16 + 2 * t], a[(g + 8) * 16 + 2 * t + 1]),
                          pair(a[g * 16 + 2 * t + 8], a[g * 16 + 2 * t + 9]),
                          pair(a[(g + 8) * 16 + 2 * t + 8], a[(g + 8) * 16 + 2 * t + 9])};
  const uint32_t rb[2] = {pair(b[(2 * t) * 8 + g], b[(2 * t + 1) * 8 + g]),
                          pair(b[(2 * t + 8) * 8 + g], b[(2 * t + 9) * 8 + g])};
  float acc[4] = {c[g * 8 + 2 * t], c[g * 8 + 2 * t + 1], c[(g + 8) * 8 + 2 * t],
                  c[(g + 8) * 8 + 2 * t + 1]};
  chamber::simt::mma_m16n8k16_bf16(acc, ra, rb, acc);
  d[g * 8 + 2 * t] = acc[0];
  d[g * 8 + 2 * t + 1] = acc[1];
  d[(g + 8) * 8 + 2 * t] = acc[2];
  d[(g + 8) * 8 + 2 * t + 1] = acc[3];
}

// D = A B + C exactly as float sums in k order (products of two bf16 are exact in float): a lane
// reading the wrong element anywhere in the table changes D.
TEST(SimtEmulator, MmaM16n8k16FollowsThePtxLayout) {
  auto af = testing::random_vector(16 * 16, 7, -2.0f, 2.0f);
  auto bf = testing::random_vector(16 * 8, 8, -2.0f, 2.0f);
  auto c = testing::random_vector(16 * 8, 9, -2.0f, 2.0f);
  std::vector<__nv_bfloat16> a(af.begin(), af.end()), b(bf.begin(), bf.end());
  std::vector<float> d(16 * 8, NAN);
  CHAMBER_LAUNCH(mma_m16n8k16_kernel, 1, 32, 0, nullptr, d.data(),
                 (const __nv_bfloat16*)a.data(), (const __nv_bfloat16*)b.data(),
                 (const float*)c.data());
  for (int r = 0; r < 16; r++)
    for (int n = 0; n < 8; n++) {
      float want = c[r * 8 + n];
      for (int k = 0; k < 16; k++) want += (float)a[r * 16 + k] * (float)b[k * 8 + n];
      EXPECT_EQ(d[r * 8 + n], want) << "row " << r << " column " << n;
    }
  // A warp of 16 lanes cannot run it.
  EXPECT_THROW(CHAMBER_LAUNCH(mma_m16n8k16_kernel, 1, 16, 0, nullptr, d.data(),
                              (const __nv_bfloat16*)a.data(), (const __nv_bfloat16*)b.data(),
                              (const float*)c.data()),
               Error);
}

TEST(SimtEmulator, DynamicSharedMemoryAbove48KiBNeedsTheAttribute) {
  std::vector<float> out(32);
  const size_t bytes = 64 * 1024;
  EXPECT_THROW(CHAMBER_LAUNCH(big_shared_kernel, 1, 32, bytes, nullptr, out.data()), Error);
  EXPECT_EQ(cudaFuncSetAttribute(big_shared_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                 (int)bytes),
            cudaSuccess);
  CHAMBER_LAUNCH(big_shared_kernel, 1, 32, bytes, nullptr, out.data());
  EXPECT_EQ(out[31], 1.0f);
  EXPECT_NE(cudaFuncSetAttribute(big_shared_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                 1 << 20),
            cudaSuccess);  // beyond any GPU
}

}  // namespace
}  // namespace chamber::cuda_emulated
