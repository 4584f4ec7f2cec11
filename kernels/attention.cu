// Causal multi-head self-attention on the GPU; the math and the overwrite rule are in
// attention.h. qkv (B,T,3C) holds [q | k | v] per position, NH heads of hs = C/NH; s = 1/sqrt(hs).
//   forward:  S = s Q K^T (causal),  lse = log rowsum exp(S),  P = exp(S - lse),  O = P V
//             out (B,T,C) and lse (B,NH,T) OVERWRITTEN
//   backward: P recomputed from Q, K and lse;  D = rowsum(dO * O)  (= rowsum(P * dP));
//             dP = dO V^T;  dS = P * (dP - D);  dV = P^T dO;  dQ = s dS K;  dK = s dS^T Q
//             dqkv OVERWRITTEN (each element has one writer); D takes B*NH*T floats of scratch
//
// Flash attention (the FlashAttention-2 schedule): the T x T scores never reach device memory.
// Materialising them made attention memory-bound (B*NH*T*T floats written and read back several
// times per layer, and kept per layer for backward), so the kernels work on 64 x 64
// tiles of S held in shared memory and keep only the per-row log-sum-exp for backward.
//
//   forward   one block per (64-query tile, head, sequence), 4 warps of 16 query rows each. The
//             warp keeps its Q rows as tensor-core fragments and loops over the key tiles up to
//             the diagonal (tiles above it are all masked and skipped; on the diagonal tile a
//             warp stops at the keys of its own last row). Per tile: S = Q K^T on tensor cores
//             into the warp's rows of a shared score tile; an online softmax over those rows
//             (running max m and sum l per row; the accumulator is rescaled by exp(m_old - m_new)
//             when the max grows); O += P V on tensor cores. At the end out = O / l and
//             lse = m + log l.
//   backward  deterministic, no atomics: each output gradient has exactly one writer.
//             dK, dV: one block per 64-key tile; a warp owns 16 keys (K, V rows as fragments) and
//             loops over the query tiles at or below the diagonal: S^T = K Q^T, P^T from lse,
//             dV += P^T dO, dP^T = V dO^T, dS^T = P^T * (dP^T - D), dK += dS^T Q.
//             dQ: one block per 64-query tile, like the forward: S = Q K^T, P, dP = dO V^T,
//             dS = P * (dP - D), dQ += dS K. S and dP are computed twice over the two kernels
//             (7 tile products instead of 5), the price of not adding dQ across key blocks.
//             D = rowsum(dO * O) comes first from a small kernel, one warp per row.
//
// Precision. Global memory holds floatX (qkv, out, dout, dqkv) and lse and D are float; the
// outputs are rounded to floatX as they are stored. What the tensor cores take comes from one
// traits struct the kernels are templates over:
//   fp32 builds  Tf32Inputs (what "flash", AttentionKernels::kTensorCores, runs): TF32 m16n16k8
//                with fp32 accumulators, the precision of the engine's cuBLASLt GEMMs. Tiles are
//                staged into shared memory as float rounded to TF32 once; P and dS are rounded
//                to TF32 in place over the float score tiles.
//   emulator     Fp32Inputs (kTensorCoresFp32, the emulated fp32 build's automatic pick):
//                float tiles, fp32 products, so the emulated table matches the reference to
//                float rounding as its emulated gemm does.
// Everything else (the tiling, the online softmax, the masks) is the same code for every traits.
// The bf16 builds' kTensorCores is not these kernels: it is attention_bf16.cu's, on raw
// mma.sync with S and P in registers, which the WMMA API below cannot express.
//
// Tensor cores through the WMMA fragment API (portable, and emulated by kernels/simt_wmma.h).
// WMMA does not say which lane holds which element of a fragment, so row-wise work (softmax, the
// rescaling by per-row factors) goes through shared memory: a warp stores S, its lanes work on
// rows, and P is loaded back as a fragment. The accumulator O stays in registers; to scale its
// rows, each warp loads once a "row map" fragment whose every element holds its own row index
// (from a 16 x 16 table of row numbers), which tells each lane the row of each of its elements
// whatever the hardware's layout.
//
// Shapes: the fragments are sized for head sizes up to kMaxHs = 64 (GPT-2's hs at every size),
// any multiple of 8; heads narrower than 64 skip the unused k steps and fragments at run time,
// and their last 16 columns are zero-padded in shared memory. Rows past T in the ragged last
// tile are zero in shared memory and masked. Shared memory (SharedBytes): forward 51 KiB (K, V
// and the score tile), backward 69 KiB (two 64 x hs tiles and two score tiles). Above the 48 KiB
// default the launchers raise the kernel's limit once.
//
// Measured on an H200 (2026-11-30, fp32 build with TF32, B 8, T 1024, NH 12, hs 64;
// bench/RESULTS.md): these kernels take 540 us forward and 2499 us backward, against 553 us and
// 1504 us (the recompute included) for cuBLASLt over the materialised T x T scores
// (attention_materialized.cu); a GPT-2 124M step takes 70.9 ms with these and 58.7 ms with
// those. The WMMA shared-memory round trips and 2-4 blocks per SM leave the tensor cores mostly
// idle. So the GPU picks the materialised path while its scratch
// (2 x B x NH x T x T floatX) fits in 2 GiB and these kernels beyond that, where they are the
// only path whose memory does not grow with T^2. The bf16 builds choose by the same rule between
// the materialised path and attention_bf16.cu's kernels, which have not been timed yet.
//
// Other head sizes (not a multiple of 8, or above 64) take the SIMT kernels of
// attention_fallback.cu: plain fp32, the same online-softmax algorithm, any hs, slower; no shipped
// config needs them (configs/ use hs 16..64).
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <initializer_list>
#include <type_traits>

#if defined(__CUDACC__)
#include <mma.h>
#endif

// The WMMA flash kernels exist in the fp32 builds (TF32) and under the emulator (fp32 inputs); the
// bf16 GPU build runs attention_bf16.cu's instead.
#if !defined(CHAMBER_BF16) || !defined(__CUDACC__)
#define CHAMBER_WMMA_FLASH 1
#else
#define CHAMBER_WMMA_FLASH 0
#endif

#include "util/util.h"
#include "kernels/cuda_launchers.h"

namespace chamber::CHAMBER_GPU_NS {

namespace {

namespace wmma = nvcuda::wmma;

constexpr int kMaxHs = 64;              // widest head the flash kernels take

#if CHAMBER_WMMA_FLASH
constexpr int kTile = 64;               // query rows per block = keys per tile
constexpr int kWarps = kTile / 16;      // a warp owns 16 rows: one fragment's height
constexpr int kThreads = kWarps * 32;
constexpr int kSLd = kTile + 4;         // row stride (floats) of the float score tiles; the
                                        // 4-float skew spreads rows over the banks
constexpr float kLog2e = 1.4426950408889634f;  // scores are kept in base 2: exp2 is one instruction

// What the tensor cores take, one struct per input precision; the kernels are templates over it:
// TF32 in the fp32 builds, and under the emulator full fp32. Shared tiles are float in both.
//   Element  the A and B fragments' element type (m16n16k<kStep>, float accumulators);
//   kLd      the row stride (floats) of the staged 64 x hs tiles: a multiple of 16 bytes
//            (wmma's ldm rule) plus a 16-byte skew, so the 16-byte pieces of 8 consecutive rows
//            that a fragment load reads fall in different banks;
//   round    what a float becomes as it is written into a shared tile;
//   store4   four floats into a shared tile (16-byte aligned).
#if !defined(CHAMBER_BF16)
// The fp32 builds: fp32 storage rounded to TF32 (10-bit mantissa), m16n16k8.
struct Tf32Inputs {
  using Element = wmma::precision::tf32;
  static constexpr int kStep = 8;
  static constexpr int kLd = kMaxHs + 4;
  __device__ static float round(float x) { return wmma::__float_to_tf32(x); }
  __device__ static void store4(float* dst, float4 v) {
    *(float4*)dst = make_float4(round(v.x), round(v.y), round(v.z), round(v.w));
  }
};
#endif
#if !defined(__CUDACC__)
// Emulator only: full fp32 inputs (a simt_wmma.h extension), for the emulated Ops table.
struct Fp32Inputs {
  using Element = float;
  static constexpr int kStep = 8;
  static constexpr int kLd = kMaxHs + 4;
  static float round(float x) { return x; }
  static void store4(float* dst, float4 v) { *(float4*)dst = v; }
};
#endif

template <class In, class Use, class Layout>
using Fragment = wmma::fragment<Use, 16, 16, In::kStep, typename In::Element, Layout>;
template <class In>
using FragA = Fragment<In, wmma::matrix_a, wmma::row_major>;
template <class In>
using FragBRow = Fragment<In, wmma::matrix_b, wmma::row_major>;
template <class In>
using FragBCol = Fragment<In, wmma::matrix_b, wmma::col_major>;
template <class In>
using FragAcc = wmma::fragment<wmma::accumulator, 16, 16, In::kStep, float>;

__host__ __device__ constexpr int round_up16(int n) { return (n + 15) / 16 * 16; }

// Dynamic shared memory per kernel, in bytes, as the kernels carve it in this order:
//   forward   two staged tiles (K with Q first, V), the score tile S (then P), one float per row
//             (softmax factors);
//   dK, dV    two staged tiles (Q with K first, dO with V first), two score tiles (S^T then P^T,
//             dP^T then dS^T), two floats per row (lse, D);
//   dQ        two staged tiles (K with Q first, V with dO first), two score tiles (S then dS,
//             dP), two floats per row.
// Every piece is a multiple of 32 bytes, so each starts 256-bit aligned as wmma pointers must.
template <class In>
struct SharedBytes {
  static constexpr size_t kStaged = sizeof(float) * kTile * In::kLd;
  static constexpr size_t kScores = sizeof(float) * kTile * kSLd;
  static constexpr size_t kRows = sizeof(float) * kTile;
  static constexpr size_t kForward = 2 * kStaged + kScores + kRows;
  static constexpr size_t kBackwardDkDv = 2 * kStaged + 2 * kScores + 2 * kRows;
  static constexpr size_t kBackwardDq = 2 * kStaged + 2 * kScores + 2 * kRows;
  static_assert(kStaged % 32 == 0 && kScores % 32 == 0 && kRows % 32 == 0,
                "every shared array starts 32-byte aligned");
  static_assert(In::kLd * sizeof(float) % 16 == 0 &&
                    kSLd * sizeof(float) % 16 == 0,
                "wmma leading dimensions are multiples of 16 bytes");
  // A fragment's first element: 16-row (and kStep-row) offsets and 16-column offsets keep the
  // 32-byte alignment of the tile.
  static_assert(In::kStep * In::kLd * sizeof(float) % 32 == 0 &&
                    In::kStep * sizeof(float) % 32 == 0 && 16 * kSLd * sizeof(float) % 32 == 0,
                "fragment pointers stay 32-byte aligned");
};

// Consecutive arrays of a block's dynamic shared memory, taken in SharedBytes' order.
struct SharedCarver {
  char* next;
  template <class T>
  __device__ T* take(size_t bytes) {
    T* p = (T*)next;
    next += bytes;
    return p;
  }
};

// Four consecutive elements of global memory as floats: one float4 load in the fp32 builds (16-byte
// aligned, checked by the launcher), four bf16 loads widened in the emulated bf16 build.
__device__ __forceinline__ float4 load4(const floatX* p) {
#if defined(CHAMBER_BF16)
  return make_float4((float)p[0], (float)p[1], (float)p[2], (float)p[3]);
#else
  return *(const float4*)p;
#endif
}

// tile (kTile x In::kLd, shared) = rows [row0, row0 + kTile) of one head's (T, hs) slice, row
// stride `stride` elements, as the tensor cores take them (In::store4). Rows past T and columns
// hs..round_up16(hs) are zero. hs % 8 == 0 keeps each group of four inside the row.
template <class In>
__device__ void stage_tile(float* tile, const floatX* src, size_t stride, int row0, int T,
                           int hs) {
  const int vecs_per_row = round_up16(hs) / 4;
  for (int i = threadIdx.x; i < kTile * vecs_per_row; i += kThreads) {
    int r = i / vecs_per_row, c = (i % vecs_per_row) * 4;
    float4 v = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
    if (row0 + r < T && c < hs) v = load4(src + (size_t)(row0 + r) * stride + c);
    In::store4(tile + r * In::kLd + c, v);
  }
}

// The warp's 16 rows of a staged tile as A fragments (16 x hs, one per k step). Heads narrower
// than a multiple of the k step end in zero-padded columns (stage_tile).
template <class In>
__device__ void load_rows(FragA<In> (&frags)[kMaxHs / In::kStep], const float* tile_rows,
                          int hs) {
#pragma unroll
  for (int kk = 0; kk < kMaxHs / In::kStep; kk++)
    if (kk * In::kStep < hs) wmma::load_matrix_sync(frags[kk], tile_rows + kk * In::kStep, In::kLd);
}

// dst (16 x 16 floats, row stride kSLd) = A (16 x hs) B^T where B's 16 rows start at b_rows in a
// staged tile: one 16 x 16 block of S = Q K^T (or dP = dO V^T, S^T = K Q^T, ...).
template <class In>
__device__ void product_block(float* dst, const FragA<In> (&a)[kMaxHs / In::kStep],
                              const float* b_rows, int hs) {
  FragAcc<In> acc;
  wmma::fill_fragment(acc, 0.0f);
#pragma unroll
  for (int kk = 0; kk < kMaxHs / In::kStep; kk++) {
    if (kk * In::kStep < hs) {
      FragBCol<In> b;  // B^T as a column-major matrix_b: element (k, n) at b_rows[n * kLd + k]
      wmma::load_matrix_sync(b, b_rows + kk * In::kStep, In::kLd);
      wmma::mma_sync(acc, a[kk], b, acc);
    }
  }
  wmma::store_matrix_sync(dst, acc, kSLd, wmma::mem_row_major);
}

// acc (16 x hs, as fragments of 16 columns) += A B for A the warp's 16 rows of a P or dS tile
// (row stride kSLd), columns [0, cols), and B rows [0, cols) of a staged tile; cols is a
// multiple of 16.
template <class In>
__device__ void accumulate_product(FragAcc<In> (&acc)[kMaxHs / 16], const float* a_rows,
                                   const float* tile, int cols, int hs) {
  for (int kk = 0; kk < cols / In::kStep; kk++) {
    FragA<In> a;
    wmma::load_matrix_sync(a, a_rows + kk * In::kStep, kSLd);
#pragma unroll
    for (int j = 0; j < kMaxHs / 16; j++) {
      if (j * 16 < hs) {
        FragBRow<In> b;
        wmma::load_matrix_sync(b, tile + kk * In::kStep * In::kLd + j * 16, In::kLd);
        wmma::mma_sync(acc[j], a, b, acc[j]);
      }
    }
  }
}

// ---- forward ----

template <class In>
__global__ void __launch_bounds__(kThreads)
    flash_forward_kernel(floatX* out, float* lse, const floatX* qkv, int T, int C, int NH) {
  CHAMBER_DYNAMIC_SHARED(float, smem);
  using Bytes = SharedBytes<In>;
  SharedCarver carve{(char*)smem};
  float* k_tile = carve.take<float>(Bytes::kStaged);  // kTile x kLd; Q staged here first
  float* v_tile = carve.take<float>(Bytes::kStaged);  // kTile x kLd
  float* scores = carve.take<float>(Bytes::kScores);  // kTile x kSLd: S, then P in place;
                                                      // warp w owns rows 16w..16w+15
  float* row_factor = carve.take<float>(Bytes::kRows);  // per-row factors, softmax lanes -> fragments

  const int qt = gridDim.x - 1 - blockIdx.x;  // the longest rows (most key tiles) start first
  const int h = blockIdx.y, b = blockIdx.z;
  const int hs = C / NH, warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int q0 = qt * kTile;
  const size_t stride = (size_t)3 * C;
  const floatX* q_head = qkv + (size_t)b * T * stride + h * hs;
  const float scale_log2 = kLog2e / sqrtf((float)hs);
  float* my_scores = scores + warp * 16 * kSLd;
  float* my_factor = row_factor + warp * 16;

  stage_tile<In>(k_tile, q_head, stride, q0, T, hs);
  for (int i = lane; i < 16 * 16; i += 32) my_scores[(i / 16) * kSLd + i % 16] = (float)(i / 16);
  __syncthreads();
  FragA<In> q[kMaxHs / In::kStep];
  load_rows<In>(q, k_tile + warp * 16 * In::kLd, hs);
  FragAcc<In> row_of;  // row_of.x[i] = the row (0..15) of element i of any accumulator fragment
  wmma::load_matrix_sync(row_of, my_scores, kSLd, wmma::mem_row_major);
  FragAcc<In> o[kMaxHs / 16];
#pragma unroll
  for (int j = 0; j < kMaxHs / 16; j++) wmma::fill_fragment(o[j], 0.0f);

  // Row r of the warp is lanes 2r (even columns) and 2r+1 (odd columns); both keep its state.
  const int r = lane / 2, half = lane % 2;
  const int t = q0 + warp * 16 + r;
  float m = -INFINITY, l = 0.0f;  // running max (base-2 scaled scores) and sum of exp2(x - m)
  __syncthreads();                // every warp has its Q before K overwrites it

  for (int kt = 0; kt <= qt; kt++) {
    const int k0 = kt * kTile;
    stage_tile<In>(k_tile, q_head + C, stride, k0, T, hs);
    stage_tile<In>(v_tile, q_head + 2 * C, stride, k0, T, hs);
    __syncthreads();
    // On the diagonal tile the warp's rows see keys up to 16 * warp + 15 only.
    const int key_blocks = kt == qt ? warp + 1 : kWarps;
#pragma unroll 1
    for (int j = 0; j < key_blocks; j++)
      product_block<In>(my_scores + j * 16, q, k_tile + j * 16 * In::kLd, hs);
    __syncwarp();

    // Online softmax. Every row sees at least one key of every tile it visits (key k0 <= t), so
    // the new max is finite; rows past T see zero keys, never NaN.
    float* row = my_scores + r * kSLd;
    const int cols = key_blocks * 16;
    float tile_max = -INFINITY;
    for (int c = half; c < cols; c += 2) {
      float x = k0 + c <= t ? row[c] * scale_log2 : -INFINITY;
      row[c] = x;
      tile_max = fmaxf(tile_max, x);
    }
    const float m_new = fmaxf(m, fmaxf(tile_max, __shfl_xor_sync(0xffffffffu, tile_max, 1)));
    float sum = 0.0f;
    for (int c = half; c < cols; c += 2) {
      const float p = In::round(exp2f(row[c] - m_new));  // l sums what P V multiplies
      row[c] = p;
      sum += p;
    }
    sum += __shfl_xor_sync(0xffffffffu, sum, 1);
    const float alpha = exp2f(m - m_new);  // 0 on the first tile (m = -inf)
    l = l * alpha + sum;
    m = m_new;
    if (half == 0) my_factor[r] = alpha;
    __syncwarp();

    // O = alpha O + P V
#pragma unroll
    for (int i = 0; i < row_of.num_elements; i++) {
      float a = my_factor[(int)row_of.x[i]];
#pragma unroll
      for (int j = 0; j < kMaxHs / 16; j++) o[j].x[i] *= a;
    }
    accumulate_product<In>(o, my_scores, v_tile, cols, hs);
    __syncthreads();  // every warp is done with this K, V tile
  }

  // out = O / l;  lse = (m + log2 l) ln 2
  if (half == 0) {
    my_factor[r] = 1.0f / l;
    if (t < T) lse[((size_t)b * NH + h) * T + t] = (m + log2f(l)) / kLog2e;
  }
  __syncwarp();
#pragma unroll
  for (int i = 0; i < row_of.num_elements; i++) {
    float inv_l = my_factor[(int)row_of.x[i]];
#pragma unroll
    for (int j = 0; j < kMaxHs / 16; j++) o[j].x[i] *= inv_l;
  }
#pragma unroll
  for (int j = 0; j < kMaxHs / 16; j++)
    if (j * 16 < hs) wmma::store_matrix_sync(my_scores + j * 16, o[j], kSLd, wmma::mem_row_major);
  __syncwarp();
  for (int i = lane; i < 16 * hs; i += 32) {
    int rr = i / hs, c = i % hs, tt = q0 + warp * 16 + rr;
    if (tt < T) out[((size_t)b * T + tt) * C + h * hs + c] = (floatX)my_scores[rr * kSLd + c];
  }
}

#endif  // CHAMBER_WMMA_FLASH

// ---- backward ----

// D[b,h,t] = dout[b,t,h] . out[b,t,h]; one warp per (b, t, h).
__global__ void attention_row_dot_kernel(float* D, const floatX* dout, const floatX* out, int B,
                                         int T, int C, int NH) {
  constexpr int kWarpsPerBlock = 8;
  int row = blockIdx.x * kWarpsPerBlock + threadIdx.x / 32, lane = threadIdx.x % 32;
  if (row >= B * T * NH) return;
  int h = row % NH, bt = row / NH, b = bt / T, t = bt % T, hs = C / NH;
  const floatX* dy = dout + (size_t)bt * C + h * hs;
  const floatX* y = out + (size_t)bt * C + h * hs;
  float dot = 0.0f;
  for (int c = lane; c < hs; c += 32) dot += (float)dy[c] * (float)y[c];
  dot = warp_sum(dot);
  if (lane == 0) D[((size_t)b * NH + h) * T + t] = dot;
}

#if CHAMBER_WMMA_FLASH
// Loads the base-2 log-sum-exp and D of query rows [q0, q0 + kTile) of head bh into shared memory;
// rows past T get lse = +inf (so p = 0) and D = 0.
__device__ void stage_row_stats(float* lse2_rows, float* d_rows, const float* lse, const float* D,
                                size_t bh, int q0, int T) {
  for (int i = threadIdx.x; i < kTile; i += kThreads) {
    bool valid = q0 + i < T;
    lse2_rows[i] = valid ? lse[bh * T + q0 + i] * kLog2e : INFINITY;
    d_rows[i] = valid ? D[bh * T + q0 + i] : 0.0f;
  }
}

template <class In>
__global__ void __launch_bounds__(kThreads)
    flash_backward_dkdv_kernel(floatX* dqkv, const floatX* dout, const floatX* qkv,
                               const float* lse, const float* D, int T, int C, int NH) {
  CHAMBER_DYNAMIC_SHARED(float, smem);
  using Bytes = SharedBytes<In>;
  SharedCarver carve{(char*)smem};
  float* q_tile = carve.take<float>(Bytes::kStaged);   // kTile x kLd; K staged first
  float* do_tile = carve.take<float>(Bytes::kStaged);  // kTile x kLd; V staged first
  float* p_tile = carve.take<float>(Bytes::kScores);   // kTile x kSLd: S^T, then P^T in place;
                                                       // warp w: keys 16w..
  float* dp_tile = carve.take<float>(Bytes::kScores);  // kTile x kSLd: dP^T, then dS^T
  float* lse2_rows = carve.take<float>(Bytes::kRows);
  float* d_rows = carve.take<float>(Bytes::kRows);

  const int kt = blockIdx.x;  // key tile; tile 0 sees every query tile, so it starts first
  const int h = blockIdx.y, b = blockIdx.z;
  const int hs = C / NH, warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int k0 = kt * kTile, num_tiles = gridDim.x;
  const size_t stride = (size_t)3 * C, bh = (size_t)b * NH + h;
  const floatX* q_head = qkv + (size_t)b * T * stride + h * hs;
  const floatX* do_head = dout + (size_t)b * T * C + h * hs;
  const float scale = 1.0f / sqrtf((float)hs), scale_log2 = scale * kLog2e;
  float* my_p = p_tile + warp * 16 * kSLd;
  float* my_dp = dp_tile + warp * 16 * kSLd;
  float* my_pt = my_p;    // P^T replaces S^T in place
  float* my_dst = my_dp;  // dS^T replaces dP^T

  stage_tile<In>(q_tile, q_head + C, stride, k0, T, hs);
  stage_tile<In>(do_tile, q_head + 2 * C, stride, k0, T, hs);
  __syncthreads();
  FragA<In> k[kMaxHs / In::kStep], v[kMaxHs / In::kStep];  // this warp's 16 keys and values
  load_rows<In>(k, q_tile + warp * 16 * In::kLd, hs);
  load_rows<In>(v, do_tile + warp * 16 * In::kLd, hs);
  FragAcc<In> dk[kMaxHs / 16], dv[kMaxHs / 16];
#pragma unroll
  for (int j = 0; j < kMaxHs / 16; j++) {
    wmma::fill_fragment(dk[j], 0.0f);
    wmma::fill_fragment(dv[j], 0.0f);
  }
  __syncthreads();

  for (int qt = kt; qt < num_tiles; qt++) {
    const int q0 = qt * kTile;
    stage_tile<In>(q_tile, q_head, stride, q0, T, hs);
    stage_tile<In>(do_tile, do_head, (size_t)C, q0, T, hs);
    stage_row_stats(lse2_rows, d_rows, lse, D, bh, q0, T);
    __syncthreads();
    // On the diagonal tile the warp's keys are seen by queries from 16 * warp on only.
    const int first_block = qt == kt ? warp : 0;
#pragma unroll 1
    for (int j = first_block; j < kWarps; j++) {
      product_block<In>(my_p + j * 16, k, q_tile + j * 16 * In::kLd, hs);    // S^T = K Q^T
      product_block<In>(my_dp + j * 16, v, do_tile + j * 16 * In::kLd, hs);  // dP^T = V dO^T
    }
    __syncwarp();
    const int cols = kTile - 16 * first_block;  // visible query columns, from 16 * first_block
    for (int e = lane; e < 16 * cols; e += 32) {
      int rr = e / cols, c = 16 * first_block + e % cols;
      int key = k0 + warp * 16 + rr, query = q0 + c;
      float p = query >= key ? exp2f(my_p[rr * kSLd + c] * scale_log2 - lse2_rows[c]) : 0.0f;
      float ds = p * (my_dp[rr * kSLd + c] - d_rows[c]);
      my_pt[rr * kSLd + c] = In::round(p);
      my_dst[rr * kSLd + c] = In::round(ds);
    }
    __syncwarp();
    // dV += P^T dO;  dK += dS^T Q  (over the queries from the first visible block: the columns
    // before it are all zero and were not written)
    const int skip = 16 * first_block;
    accumulate_product<In>(dv, my_pt + skip, do_tile + skip * In::kLd, cols, hs);
    accumulate_product<In>(dk, my_dst + skip, q_tile + skip * In::kLd, cols, hs);
    __syncthreads();  // every warp is done with this Q, dO tile
  }

#pragma unroll
  for (int j = 0; j < kMaxHs / 16; j++) {
#pragma unroll
    for (int i = 0; i < dk[j].num_elements; i++) dk[j].x[i] *= scale;
    if (j * 16 < hs) {
      wmma::store_matrix_sync(my_p + j * 16, dk[j], kSLd, wmma::mem_row_major);
      wmma::store_matrix_sync(my_dp + j * 16, dv[j], kSLd, wmma::mem_row_major);
    }
  }
  __syncwarp();
  for (int i = lane; i < 16 * hs; i += 32) {
    int rr = i / hs, c = i % hs, key = k0 + warp * 16 + rr;
    if (key < T) {
      floatX* row = dqkv + ((size_t)b * T + key) * stride + h * hs + c;
      row[C] = (floatX)my_p[rr * kSLd + c];
      row[2 * C] = (floatX)my_dp[rr * kSLd + c];
    }
  }
}

template <class In>
__global__ void __launch_bounds__(kThreads)
    flash_backward_dq_kernel(floatX* dqkv, const floatX* dout, const floatX* qkv,
                             const float* lse, const float* D, int T, int C, int NH) {
  CHAMBER_DYNAMIC_SHARED(float, smem);
  using Bytes = SharedBytes<In>;
  SharedCarver carve{(char*)smem};
  float* k_tile = carve.take<float>(Bytes::kStaged);  // kTile x kLd; Q staged first
  float* v_tile = carve.take<float>(Bytes::kStaged);  // kTile x kLd; dO staged first
  float* s_tile = carve.take<float>(Bytes::kScores);   // kTile x kSLd: S, then dS in place;
                                                       // warp w: rows 16w..
  float* dp_tile = carve.take<float>(Bytes::kScores);  // kTile x kSLd: dP
  float* lse2_rows = carve.take<float>(Bytes::kRows);
  float* d_rows = carve.take<float>(Bytes::kRows);

  const int qt = gridDim.x - 1 - blockIdx.x;  // the longest rows start first
  const int h = blockIdx.y, b = blockIdx.z;
  const int hs = C / NH, warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int q0 = qt * kTile;
  const size_t stride = (size_t)3 * C, bh = (size_t)b * NH + h;
  const floatX* q_head = qkv + (size_t)b * T * stride + h * hs;
  const float scale = 1.0f / sqrtf((float)hs), scale_log2 = scale * kLog2e;
  float* my_s = s_tile + warp * 16 * kSLd;
  float* my_dp = dp_tile + warp * 16 * kSLd;
  float* my_ds = my_s;  // dS replaces S in place

  stage_tile<In>(k_tile, q_head, stride, q0, T, hs);
  stage_tile<In>(v_tile, dout + (size_t)b * T * C + h * hs, (size_t)C, q0, T, hs);
  stage_row_stats(lse2_rows, d_rows, lse, D, bh, q0, T);
  __syncthreads();
  FragA<In> q[kMaxHs / In::kStep], dy[kMaxHs / In::kStep];  // the warp's 16 rows of Q and dO
  load_rows<In>(q, k_tile + warp * 16 * In::kLd, hs);
  load_rows<In>(dy, v_tile + warp * 16 * In::kLd, hs);
  FragAcc<In> dq[kMaxHs / 16];
#pragma unroll
  for (int j = 0; j < kMaxHs / 16; j++) wmma::fill_fragment(dq[j], 0.0f);
  __syncthreads();

  for (int kt = 0; kt <= qt; kt++) {
    const int k0 = kt * kTile;
    stage_tile<In>(k_tile, q_head + C, stride, k0, T, hs);
    stage_tile<In>(v_tile, q_head + 2 * C, stride, k0, T, hs);
    __syncthreads();
    const int key_blocks = kt == qt ? warp + 1 : kWarps;
#pragma unroll 1
    for (int j = 0; j < key_blocks; j++) {
      product_block<In>(my_s + j * 16, q, k_tile + j * 16 * In::kLd, hs);    // S = Q K^T
      product_block<In>(my_dp + j * 16, dy, v_tile + j * 16 * In::kLd, hs);  // dP = dO V^T
    }
    __syncwarp();
    const int cols = key_blocks * 16;
    for (int e = lane; e < 16 * cols; e += 32) {
      int rr = e / cols, c = e % cols;
      int row = warp * 16 + rr, query = q0 + row, key = k0 + c;
      float p = key <= query ? exp2f(my_s[rr * kSLd + c] * scale_log2 - lse2_rows[row]) : 0.0f;
      my_ds[rr * kSLd + c] = In::round(p * (my_dp[rr * kSLd + c] - d_rows[row]));
    }
    __syncwarp();
    accumulate_product<In>(dq, my_ds, k_tile, cols, hs);  // dQ += dS K
    __syncthreads();  // every warp is done with this K, V tile
  }

#pragma unroll
  for (int j = 0; j < kMaxHs / 16; j++) {
#pragma unroll
    for (int i = 0; i < dq[j].num_elements; i++) dq[j].x[i] *= scale;
    if (j * 16 < hs) wmma::store_matrix_sync(my_s + j * 16, dq[j], kSLd, wmma::mem_row_major);
  }
  __syncwarp();
  for (int i = lane; i < 16 * hs; i += 32) {
    int rr = i / hs, c = i % hs, query = q0 + warp * 16 + rr;
    if (query < T) {
      floatX* dst = dqkv + ((size_t)b * T + query) * stride + h * hs + c;
      *dst = (floatX)my_s[rr * kSLd + c];
    }
  }
}

#endif  // CHAMBER_WMMA_FLASH

// ---- launchers ----

// Whether every tensor starts 16-byte aligned, as the flash kernels' 16-byte accesses need (float4
// in the fp32 builds, 8 bf16 at a time in attention_bf16.cu); with C a multiple of 4 (fp32) or 8
// (bf16, which hs % 8 == 0 gives) every head row then starts aligned too.
bool rows_aligned(std::initializer_list<const void*> rows) {
  for (const void* p : rows)
    if ((uintptr_t)p % 16 != 0) return false;
  return true;
}

#if !defined(CHAMBER_BF16)
AttentionKernels g_preference = [] {
  const char* env = std::getenv("CHAMBER_ATTENTION");
  std::string name = env ? env : "";
  if (name == "flash") return AttentionKernels::kTensorCores;
  if (name == "materialized") return AttentionKernels::kMaterialized;
  if (name == "simt") return AttentionKernels::kSimt;
  if (!name.empty() && name != "auto")
    std::fprintf(stderr, "chamber: CHAMBER_ATTENTION=%s is not auto, flash, materialized or simt; "
                 "using auto\n", name.c_str());
  return AttentionKernels::kAuto;
}();
#endif

// Whether the GPU may run the flash kernels on their tensor-core inputs. In the fp32 builds those
// are TF32, so strict fp32 products (CHAMBER_TF32=0, tf32_matmuls) rule them out; the bf16 builds'
// inputs are bf16 already and P and dS are rounded to bf16 as the materialised path rounds its
// scores, so the switch does not apply there (as in their gemm, gemm.cu).
#if defined(__CUDACC__)
bool tensor_core_inputs_allowed() { return !std::is_same_v<floatX, float> || tf32_matmuls(); }
#endif

// Which kernels run: see AttentionKernels in cuda_launchers.h; the same rule in the bf16 builds
// (every path reads and writes floatX; the materialised path's scratch is floatX too, so it fits
// at shapes twice as large), where "flash" (kTensorCores) means the bf16 tensor-core kernels.
// `aligned`: rows_aligned of the tensors the flash kernels would read and write.
AttentionKernels choose_kernels(AttentionKernels asked, int B, int T, int C, int NH, bool aligned) {
  const int hs = C / NH;
  const AttentionKernels preference = attention_preference();
  const bool fits = aligned && hs % 8 == 0 && hs <= kMaxHs;   // the flash kernels take it
  const bool materialized_fits = attention_materialized_fits(B, T, NH, sizeof(floatX));
  if (asked == AttentionKernels::kAuto) {
    // A preference is honoured where it applies; otherwise the rule below decides.
    if (preference == AttentionKernels::kMaterialized && materialized_fits) return preference;
    if (preference == AttentionKernels::kSimt) return preference;
#if defined(__CUDACC__)
    if (preference == AttentionKernels::kTensorCores && fits && tensor_core_inputs_allowed())
      return preference;
    // attention.h's attention_auto_is_materialized, which the analytic profile reads too: the
    // bf16 flash kernels wherever they take the shape, else the materialised path if it fits.
    if (!std::is_same_v<floatX, float> && fits) return AttentionKernels::kTensorCores;
    if (materialized_fits) return AttentionKernels::kMaterialized;
    if (!fits || !tensor_core_inputs_allowed()) return AttentionKernels::kSimt;
    return AttentionKernels::kTensorCores;
#else
    if (preference == AttentionKernels::kTensorCores && fits) return preference;
    // The emulated fp32 build multiplies exactly in fp32, as its stand-in for cuBLASLt does; the
    // emulated bf16 build runs the bf16 flash kernels, the arithmetic of the GPU's bf16 build.
    if (!fits) return AttentionKernels::kSimt;
    return sizeof(floatX) == sizeof(float) ? AttentionKernels::kTensorCoresFp32
                                           : AttentionKernels::kTensorCores;
#endif
  }
  if ((asked == AttentionKernels::kTensorCores || asked == AttentionKernels::kTensorCoresFp32) &&
      !fits)
    fail("attention: the tensor-core kernels take head sizes that are multiples of 8 up to ",
         kMaxHs, " with 16-byte aligned rows; hs = ", C / NH);
#if defined(__CUDACC__)
  if (asked == AttentionKernels::kTensorCoresFp32)
    fail("attention: fp32 tensor-core inputs exist only under the SIMT emulator");
#endif
  return asked;
}

#if CHAMBER_WMMA_FLASH
// Raises a kernel's dynamic shared memory limit to `bytes` (needed above the 48 KiB default);
// once per kernel.
template <typename Kernel>
void allow_shared_bytes(Kernel* kernel, size_t bytes) {
  CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)bytes));
}

template <class In>
void flash_forward(floatX* out, float* lse, const floatX* qkv, int B, int T, int C, int NH,
                   cudaStream_t stream) {
  constexpr size_t bytes = SharedBytes<In>::kForward;
  static const bool configured = (allow_shared_bytes(flash_forward_kernel<In>, bytes), true);
  (void)configured;
  dim3 grid(ceil_div(T, kTile), NH, B);
  CHAMBER_LAUNCH(flash_forward_kernel<In>, grid, kThreads, bytes, stream, out, lse, qkv, T, C, NH);
}

template <class In>
void flash_backward(floatX* dqkv, const floatX* dout, const floatX* qkv, const float* lse,
                    const float* D, int B, int T, int C, int NH, cudaStream_t stream) {
  constexpr size_t dkdv_bytes = SharedBytes<In>::kBackwardDkDv;
  constexpr size_t dq_bytes = SharedBytes<In>::kBackwardDq;
  static const bool configured =
      (allow_shared_bytes(flash_backward_dkdv_kernel<In>, dkdv_bytes),
       allow_shared_bytes(flash_backward_dq_kernel<In>, dq_bytes), true);
  (void)configured;
  dim3 grid(ceil_div(T, kTile), NH, B);
  CHAMBER_LAUNCH(flash_backward_dkdv_kernel<In>, grid, kThreads, dkdv_bytes, stream, dqkv, dout,
                 qkv, lse, D, T, C, NH);
  CHAMBER_LAUNCH(flash_backward_dq_kernel<In>, grid, kThreads, dq_bytes, stream, dqkv,
                 dout, qkv, lse, D, T, C, NH);
}

#endif  // CHAMBER_WMMA_FLASH

}  // namespace

#if !defined(CHAMBER_BF16)
void set_attention_preference(AttentionKernels preferred) { g_preference = preferred; }
AttentionKernels attention_preference() { return g_preference; }
#else  // one preference for both precisions: the fp32 build's (cuda_common.h)
void set_attention_preference(AttentionKernels preferred) {
  CHAMBER_FP32_NS::set_attention_preference(preferred);
}
AttentionKernels attention_preference() { return CHAMBER_FP32_NS::attention_preference(); }
#endif

AttentionKernels attention_kernels_for(int B, int T, int C, int NH) {
  // Arenas are 256-byte aligned, so every head row starts 16-byte aligned when C is a multiple of 4
  // (fp32) or 8 (bf16).
  return choose_kernels(AttentionKernels::kAuto, B, T, C, NH,
                        C % (int)(16 / sizeof(floatX)) == 0);
}

size_t attention_scratch_bytes(int B, int T, int C, int NH) {
  if (attention_kernels_for(B, T, C, NH) == AttentionKernels::kMaterialized)
    return attention_materialized_scratch_bytes(B, T, NH, sizeof(floatX));
  return (size_t)B * NH * T * sizeof(float);  // D of the flash and SIMT backwards
}

void attention_forward(floatX* out, float* lse, const floatX* qkv, int B, int T, int C, int NH,
                       cudaStream_t stream, AttentionKernels kernels) {
  if (B <= 0 || T <= 0) return;
  switch (choose_kernels(kernels, B, T, C, NH, rows_aligned({out, qkv}))) {
    case AttentionKernels::kMaterialized:
      attention_forward_materialized(out, lse, qkv, B, T, C, NH, stream);
      break;
    case AttentionKernels::kTensorCores:
#if defined(CHAMBER_BF16)
      flash_forward_mma(out, lse, qkv, B, T, C, NH, stream);
#else
      flash_forward<Tf32Inputs>(out, lse, qkv, B, T, C, NH, stream);
#endif
      break;
#if !defined(__CUDACC__)
    case AttentionKernels::kTensorCoresFp32:
      flash_forward<Fp32Inputs>(out, lse, qkv, B, T, C, NH, stream);
      break;
#endif
    default:
      attention_forward_fallback(out, lse, qkv, B, T, C, NH, stream);
  }
}

void attention_backward(floatX* dqkv, const floatX* dout, const floatX* qkv, const floatX* out,
                        const float* lse, int B, int T, int C, int NH, cudaStream_t stream,
                        AttentionKernels kernels) {
  if (B <= 0 || T <= 0) return;
  AttentionKernels chosen = choose_kernels(kernels, B, T, C, NH, rows_aligned({dqkv, dout, qkv}));
  if (chosen == AttentionKernels::kMaterialized) {
    attention_backward_materialized(dqkv, dout, qkv, lse, B, T, C, NH, stream);
    return;
  }
  int rows = B * NH * T;
  float* D = (float*)scratch_buffer((size_t)rows * sizeof(float));
  CHAMBER_LAUNCH(attention_row_dot_kernel, ceil_div(rows, 8), 8 * 32, 0, stream, D, dout, out, B,
                 T, C, NH);
  switch (chosen) {
    case AttentionKernels::kTensorCores:
#if defined(CHAMBER_BF16)
      flash_backward_mma(dqkv, dout, qkv, lse, D, B, T, C, NH, stream);
#else
      flash_backward<Tf32Inputs>(dqkv, dout, qkv, lse, D, B, T, C, NH, stream);
#endif
      break;
#if !defined(__CUDACC__)
    case AttentionKernels::kTensorCoresFp32:
      flash_backward<Fp32Inputs>(dqkv, dout, qkv, lse, D, B, T, C, NH, stream);
      break;
#endif
    default:
      attention_backward_fallback(dqkv, dout, qkv, lse, D, B, T, C, NH, stream);
  }
}

}  // namespace chamber::CHAMBER_GPU_NS
