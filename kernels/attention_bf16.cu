// Flash attention for the bf16 builds on raw tensor-core instructions: the path behind
// AttentionKernels::kTensorCores when floatX is bf16 (attention.cu dispatches here). The math and
// the overwrite rule are attention.h's and attention.cu's; s = 1/sqrt(hs):
//   forward:  S = s Q K^T (causal), lse = log rowsum exp(S), P = exp(S - lse), O = P V
//   backward: P from Q, K and lse; D = rowsum(dO * O) (attention.cu computes it first);
//             dP = dO V^T; dS = P * (dP - D); dV = P^T dO; dQ = s dS K; dK = s dS^T Q
//
// Why a second set of flash kernels. The WMMA kernels of attention.cu cannot keep S and P in
// registers: WMMA does not say which lane holds which element of a fragment, so every row-wise
// step (the softmax's max and sum, the rescaling of O, turning S into the A operand of P V) goes
// through shared memory and back, and the tensor cores wait on those round trips. PTX's
// `mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32` has a documented register layout
// (kernels/simt_mma.h repeats it), which makes three things possible:
//   - a lane knows the rows and columns of its accumulator elements: rows g and g + 8 of the
//     warp's 16 (g = lane / 4), columns 2t and 2t + 1 of each 8-wide block (t = lane % 4). So the
//     softmax runs on the accumulators where they are: a row's max and sum are the lane's own
//     values and two xor shuffles within its quad of lanes;
//   - the accumulators of two adjacent 8-column blocks of S are, element for element, the A
//     operand of a 16-deep product (rounded to bf16 and packed in pairs), so P V, P^T dO, dS K
//     and dS^T Q take P and dS straight from registers;
//   - operands load from shared memory as 32-bit pairs at addresses the lane computes itself.
// What stays in shared memory is what several warps read: the K and V tiles (forward), the Q and
// dO tiles (dK, dV), K and V (dQ). An operand whose product runs along its rows (V in P V, dO
// and Q in the dK, dV products, K in dQ = dS K) is staged transposed as well, so that every B
// operand is a pair of consecutive bf16.
//
// Schedule (FlashAttention-2), 64-key tiles, 4 warps per block, no atomics:
//   forward   one block per (128-query tile, head, sequence), the longest rows first. A warp owns
//             32 query rows as two 16-row m-tiles, so each K or V operand it loads from shared
//             memory feeds two mma (with one m-tile, shared-memory traffic would bound the
//             tensor cores at about half their rate). It keeps its Q rows as A operands, O
//             (32 x hs) and the running max m and sum l of its rows in registers, and walks the
//             key tiles up to its own last row: S = Q K^T into 8 accumulators of 8 keys per
//             m-tile, mask, tile max over the quad, rescale O and l by exp(m_old - m_new),
//             P = exp(S - m) rounded to bf16, O += P V. In the tiles that reach the diagonal it
//             stops at the 16-key block of its last row. The quad adds its partial sums of l once,
//             at the end: out = O / l, lse = m + log l. About 225 registers (no spills), so two
//             blocks share an SM.
//   dK, dV    one block per 64-key tile; a warp owns 16 keys (K and V as A operands, dK and dV
//             as accumulators) and walks the 64-query tiles from the diagonal, 16 queries at a
//             time: S^T = K Q^T and dP^T = V dO^T in two accumulators each,
//             P^T = exp(S^T - lse), dS^T = P^T * (dP^T - D), then dV += P^T dO and
//             dK += dS^T Q from registers.
//   dQ        one block per 128-query tile, the longest first; like the forward, a warp owns 32
//             queries as two m-tiles (Q and dO as A operands, dQ as accumulators; about 205
//             registers) and walks the key tiles up to its last row, 16 keys at a time: S, dP,
//             dS = P * (dP - D), dQ += dS K, each K and V operand feeding both m-tiles. S and dP
//             are computed in both backward kernels, the price of having one writer for every
//             gradient. dK, dV keeps one m-tile per warp: with two, its four A operand sets and two
//             accumulators (dK, dV) would not fit in registers.
//
// Precision (the error bound is argued in tests/kernels/bf16_simt.cpp): Q, K, V and dO are bf16
// already, products of two bf16 are exact in float and accumulate in fp32, so S and dP are float
// sums; P and dS are rounded to bf16 to become operands; l sums the rounded P, so out = O / l
// divides by the weights P V used. lse, D, m and l are float.
//
// Shapes: head sizes that are multiples of 8 up to 64 (every shipped config); a head of 8, 24, 40
// or 56 ends in a 16-deep k step whose last 8 columns are zero in shared memory. Rows past T are
// zero in the staged tiles and masked (lse = +inf gives them p = 0 in backward). Staging moves 16
// bytes at a time, so every head row must start 16-byte aligned (C a multiple of 8, aligned
// tensors: attention.cu checks). Shared memory: forward 18 KiB, dK dV 37 KiB, dQ 36 KiB, all
// under the 48 KiB default. Row strides are 72 bf16 (144 bytes = 36 words), so the 8 rows x 4
// words of a warp's operand load fall on 32 different banks.
//
// Not yet measured on a GPU (bench/RESULTS.md): the kit's attention benchmarks and GPU tests
// time and check these kernels.
#include <cmath>
#include <cstdint>
#include <cstring>

#include "util/util.h"
#include "kernels/cuda_launchers.h"

namespace chamber::CHAMBER_GPU_NS {

#if defined(CHAMBER_BF16)

namespace {

using bf16 = __nv_bfloat16;

constexpr int kTile = 64;           // queries per block = keys per tile
constexpr int kWarps = kTile / 16;  // a warp owns 16 rows: one mma's height
constexpr int kThreads = kWarps * 32;
constexpr int kMaxHs = 64;
constexpr int kLd = kMaxHs + 8;     // row stride (bf16) of tiles staged [row][dim]
constexpr int kLdT = kTile + 8;     // row stride (bf16) of tiles staged transposed [dim][row]
constexpr int kTileBytes = kTile * kLd * 2;   // = kMaxHs * kLdT * 2: one staged tile
constexpr float kLog2e = 1.4426950408889634f;  // scores are kept in base 2: exp2 is one instruction
static_assert(kTile * kLd == kMaxHs * kLdT, "row and transposed tiles are the same size");
// The kernels that walk key tiles for a block of queries (forward, dQ) give each warp two 16-row
// m-tiles (32 queries; 128 per block): every K and V operand a warp loads from shared memory then
// feeds two mma instead of one, which halves the shared-memory traffic per product
// (FlashAttention-2's shape for head size 64).
constexpr int kQueryMTiles = 2;
constexpr int kQueryRows = kWarps * 16 * kQueryMTiles;
static_assert(kQueryRows * kLd * 2 == 2 * kTileBytes, "Q's staging fits the K and V tiles");

__host__ __device__ constexpr int round_up16(int n) { return (n + 15) / 16 * 16; }

// ---- registers of one m16n8k16 mma (layout: kernels/simt_mma.h) ----

// Two consecutive bf16 as one 32-bit register, the first in the low half (4-byte aligned).
__device__ __forceinline__ uint32_t pair_at(const bf16* p) {
#if defined(__CUDACC__)
  return *reinterpret_cast<const uint32_t*>(p);
#else
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
#endif
}
__device__ __forceinline__ void store_pair(bf16* p, uint32_t v) {
#if defined(__CUDACC__)
  *reinterpret_cast<uint32_t*>(p) = v;
#else
  std::memcpy(p, &v, 4);
#endif
}
// lo and hi rounded to nearest bf16 and packed, lo in the low half.
__device__ __forceinline__ uint32_t pack_bf16(float lo, float hi) {
#if defined(__CUDACC__)
  __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);
  return *reinterpret_cast<uint32_t*>(&v);
#else
  return (uint32_t)float_to_bf16_bits(lo) | (uint32_t)float_to_bf16_bits(hi) << 16;
#endif
}
__device__ __forceinline__ bf16 bf16_from_bits(uint16_t bits) {
#if defined(__CUDACC__)
  return __ushort_as_bfloat16(bits);
#else
  bf16 v;
  v.bits = bits;
  return v;
#endif
}
// The two bf16 of a packed pair as floats (exact).
__device__ __forceinline__ float bf16_low(uint32_t pair) { return bits_float(pair << 16); }
__device__ __forceinline__ float bf16_high(uint32_t pair) { return bits_float(pair & 0xffff0000u); }

// acc (16 x 8) += a (16 x 16) b (16 x 8), bf16 inputs, fp32 accumulators; the whole warp.
__device__ __forceinline__ void mma(float (&acc)[4], const uint32_t (&a)[4],
                                    const uint32_t (&b)[2]) {
#if defined(__CUDA_ARCH__)
  asm("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 "
      "{%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};\n"
      : "+f"(acc[0]), "+f"(acc[1]), "+f"(acc[2]), "+f"(acc[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
#elif !defined(__CUDACC__)
  simt::mma_m16n8k16_bf16(acc, a, b, acc);
#endif
}

// The A operand: the 16 x 16 block whose first element is at `block`, in a tile of row stride ld.
__device__ __forceinline__ void load_a(uint32_t (&a)[4], const bf16* block, int ld, int g, int t) {
  const bf16* p = block + g * ld + 2 * t;
  a[0] = pair_at(p);
  a[1] = pair_at(p + 8 * ld);
  a[2] = pair_at(p + 8);
  a[3] = pair_at(p + 8 * ld + 8);
}
// The B operand (16 deep x 8 wide) from a tile holding its transpose: element (k, n) at
// block[n * ld + k]. Q K^T takes K's rows this way; P V takes V's rows from V staged transposed.
__device__ __forceinline__ void load_b(uint32_t (&b)[2], const bf16* block, int ld, int g, int t) {
  const bf16* p = block + g * ld + 2 * t;
  b[0] = pair_at(p);
  b[1] = pair_at(p + 8);
}
// The accumulators of two adjacent 8-column blocks (columns 0-7 in lo, 8-15 in hi) as the A
// operand of a 16-deep product: the layouts agree element for element.
__device__ __forceinline__ void acc_to_a(uint32_t (&a)[4], const float (&lo)[4],
                                         const float (&hi)[4]) {
  a[0] = pack_bf16(lo[0], lo[1]);
  a[1] = pack_bf16(lo[2], lo[3]);
  a[2] = pack_bf16(hi[0], hi[1]);
  a[3] = pack_bf16(hi[2], hi[3]);
}
// Row max and row sum over the 4 lanes of a quad, which hold the columns of the same two rows.
__device__ __forceinline__ float quad_max(float v) {
  v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, 1));
  return fmaxf(v, __shfl_xor_sync(0xffffffffu, v, 2));
}
__device__ __forceinline__ float quad_sum(float v) {
  v += __shfl_xor_sync(0xffffffffu, v, 1);
  return v + __shfl_xor_sync(0xffffffffu, v, 2);
}

// acc[mt] (16 rows x hs, 8 columns per accumulator) += a[mt] (16 x 16) B for each m-tile, where
// B is 16 rows of a tile staged transposed (rows k0..k0+15 of its untransposed form, all hs
// columns): O += P V, dQ += dS K, dV += P^T dO, dK += dS^T Q. Each B operand feeds every m-tile.
template <int kMTiles>
__device__ __forceinline__ void accumulate_product(float (&acc)[kMTiles][kMaxHs / 8][4],
                                                   const uint32_t (&a)[kMTiles][4],
                                                   const bf16* tile_t, int k0, int hs, int g,
                                                   int t) {
#pragma unroll
  for (int j = 0; j < kMaxHs / 8; j++) {
    if (j * 8 < hs) {
      uint32_t b[2];
      load_b(b, tile_t + j * 8 * kLdT + k0, kLdT, g, t);
#pragma unroll
      for (int mt = 0; mt < kMTiles; mt++) mma(acc[mt][j], a[mt], b);
    }
  }
}

// One row of an accumulator set (element pair 2i, 2i + 1 of each: row g, or g + 8 for i = 1),
// times `scale`, rounded to bf16 and stored at dst (the row's first column; this lane writes
// columns 8j + 2t and 8j + 2t + 1).
__device__ __forceinline__ void store_row(bf16* dst, const float (&acc)[kMaxHs / 8][4], int i,
                                          float scale, int hs, int t) {
#pragma unroll
  for (int j = 0; j < kMaxHs / 8; j++)
    if (j * 8 < hs)
      store_pair(dst + j * 8 + 2 * t, pack_bf16(acc[j][2 * i] * scale, acc[j][2 * i + 1] * scale));
}

// ---- staging tiles in shared memory ----

struct alignas(16) Bf16x8 {
  uint32_t w[4];
};
__device__ __forceinline__ Bf16x8 load8(const bf16* p) {
#if defined(__CUDACC__)
  uint4 v = *reinterpret_cast<const uint4*>(p);
  return Bf16x8{{v.x, v.y, v.z, v.w}};
#else
  Bf16x8 v;
  std::memcpy(&v, p, 16);
  return v;
#endif
}

// tile[r * kLd + c] = rows [row0, row0 + rows) of one head's (T, hs) slice (row stride `stride`
// elements), 8 columns per thread and step; zero past T and in columns hs..round_up16(hs).
__device__ void stage_rows(bf16* tile, const bf16* src, size_t stride, int row0, int rows, int T,
                           int hs) {
  const int pieces = round_up16(hs) / 8;
  for (int i = threadIdx.x; i < rows * pieces; i += kThreads) {
    const int r = i / pieces, c = (i % pieces) * 8;
    Bf16x8 v{{0, 0, 0, 0}};
    if (row0 + r < T && c < hs) v = load8(src + (size_t)(row0 + r) * stride + c);
#if defined(__CUDACC__)
    *reinterpret_cast<uint4*>(tile + r * kLd + c) = make_uint4(v.w[0], v.w[1], v.w[2], v.w[3]);
#else
    std::memcpy(tile + r * kLd + c, &v, 16);
#endif
  }
}

// tileT[c * kLdT + r]: the same tile transposed. Consecutive threads take consecutive rows, so a
// warp's 16-bit stores of one column land in 16 different words (no bank conflicts).
__device__ void stage_transposed(bf16* tileT, const bf16* src, size_t stride, int row0, int T,
                                 int hs) {
  const int pieces = round_up16(hs) / 8;
  for (int i = threadIdx.x; i < kTile * pieces; i += kThreads) {
    const int r = i % kTile, c = (i / kTile) * 8;
    Bf16x8 v{{0, 0, 0, 0}};
    if (row0 + r < T && c < hs) v = load8(src + (size_t)(row0 + r) * stride + c);
#pragma unroll
    for (int j = 0; j < 8; j++)
      tileT[(c + j) * kLdT + r] = bf16_from_bits((uint16_t)(v.w[j / 2] >> (16 * (j % 2))));
  }
}

// ---- forward ----

__global__ void __launch_bounds__(kThreads)
    flash_forward_mma_kernel(bf16* out, float* lse, const bf16* qkv, int T, int C, int NH) {
  CHAMBER_DYNAMIC_SHARED(float, smem);
  bf16* q_stage = (bf16*)smem;                          // kQueryRows x kLd, before the loop
  bf16* k_tile = (bf16*)smem;                           // kTile x kLd, over Q's first half
  bf16* vt_tile = (bf16*)((char*)smem + kTileBytes);    // kMaxHs x kLdT: V transposed

  const int qt = gridDim.x - 1 - blockIdx.x;  // the longest rows (most key tiles) start first
  const int h = blockIdx.y, b = blockIdx.z;
  const int hs = C / NH, warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int g = lane / 4, t = lane % 4;
  const int q0 = qt * kQueryRows;
  // The query of accumulator elements 0, 1 of m-tile mt is row + 16 mt; of elements 2, 3, 8 more.
  const int row = q0 + warp * 16 * kQueryMTiles + g;
  const int last_row = q0 + (warp + 1) * 16 * kQueryMTiles - 1;  // the warp's last query
  const size_t stride = (size_t)3 * C;
  const bf16* q_head = qkv + (size_t)b * T * stride + h * hs;
  const float scale_log2 = kLog2e / sqrtf((float)hs);

  stage_rows(q_stage, q_head, stride, q0, kQueryRows, T, hs);
  __syncthreads();
  uint32_t q[kQueryMTiles][kMaxHs / 16][4];  // the warp's Q rows, one A operand per 16 dims
#pragma unroll
  for (int mt = 0; mt < kQueryMTiles; mt++)
#pragma unroll
    for (int kk = 0; kk < kMaxHs / 16; kk++)
      if (kk * 16 < hs)
        load_a(q[mt][kk], q_stage + ((warp * kQueryMTiles + mt) * 16) * kLd + kk * 16, kLd, g, t);
  __syncthreads();  // every warp has its Q before K overwrites it

  float o[kQueryMTiles][kMaxHs / 8][4] = {};  // O: 8 dims per accumulator
  // Running max and sum of rows row + 16 mt (+ 8); l holds this lane's columns only and is
  // summed over the quad at the end.
  float m[kQueryMTiles][2], l[kQueryMTiles][2];
#pragma unroll
  for (int mt = 0; mt < kQueryMTiles; mt++) {
    m[mt][0] = m[mt][1] = -INFINITY;
    l[mt][0] = l[mt][1] = 0.0f;
  }

  // Key tiles up to the block's last row (or T). A warp skips the tiles past its own last row;
  // in every tile it does visit, each of its rows sees the tile's first key (tiles start at
  // multiples of 64 and a warp's rows at multiples of 32), so every row max below is finite.
  const int block_end = q0 + kQueryRows < T ? q0 + kQueryRows : T;
  const int key_tiles = (block_end - 1) / kTile + 1;
  for (int kt = 0; kt < key_tiles; kt++) {
    const int k0 = kt * kTile;
    stage_rows(k_tile, q_head + C, stride, k0, kTile, T, hs);
    stage_transposed(vt_tile, q_head + 2 * C, stride, k0, T, hs);
    __syncthreads();
    // 16-key blocks the warp's last row can see (none: the warp waits for the next tile).
    const int visible = last_row - k0 + 1;
    const int key_blocks = visible <= 0 ? 0 : visible >= kTile ? kWarps : (visible + 15) / 16;
    if (key_blocks > 0) {
      // S for keys 8j..8j+7 of the tile, each K operand shared by the warp's m-tiles.
      float s[kQueryMTiles][kTile / 8][4] = {};
#pragma unroll
      for (int j = 0; j < kTile / 8; j++) {
        if (j < 2 * key_blocks) {
#pragma unroll
          for (int kk = 0; kk < kMaxHs / 16; kk++) {
            if (kk * 16 < hs) {
              uint32_t kb[2];
              load_b(kb, k_tile + j * 8 * kLd + kk * 16, kLd, g, t);
#pragma unroll
              for (int mt = 0; mt < kQueryMTiles; mt++) mma(s[mt][j], q[mt][kk], kb);
            }
          }
        }
      }
      // P = exp(S - m) per m-tile, rounded to bf16 once and kept packed in pairs: pair 0 of
      // block j holds row g's two columns, pair 1 row g + 8's, as the A operand of P V takes them.
      uint32_t p_pairs[kQueryMTiles][kTile / 8][2];
#pragma unroll
      for (int mt = 0; mt < kQueryMTiles; mt++) {
        // Scale to base 2, mask (causal, and the blocks not computed), online softmax.
        float tile_max[2] = {-INFINITY, -INFINITY};
#pragma unroll
        for (int j = 0; j < kTile / 8; j++)
#pragma unroll
          for (int e = 0; e < 4; e++) {
            const int key = k0 + j * 8 + 2 * t + (e & 1), query = row + mt * 16 + (e / 2) * 8;
            const float x =
                j < 2 * key_blocks && key <= query ? s[mt][j][e] * scale_log2 : -INFINITY;
            s[mt][j][e] = x;
            tile_max[e / 2] = fmaxf(tile_max[e / 2], x);
          }
        float alpha[2];
#pragma unroll
        for (int i = 0; i < 2; i++) {
          const float m_new = fmaxf(m[mt][i], quad_max(tile_max[i]));
          alpha[i] = exp2f(m[mt][i] - m_new);  // 0 on the first tile (m = -inf)
          m[mt][i] = m_new;
          l[mt][i] *= alpha[i];
        }
#pragma unroll
        for (int j = 0; j < kTile / 8; j++)
#pragma unroll
          for (int i = 0; i < 2; i++) {
            const uint32_t pair = pack_bf16(exp2f(s[mt][j][2 * i] - m[mt][i]),
                                            exp2f(s[mt][j][2 * i + 1] - m[mt][i]));
            p_pairs[mt][j][i] = pair;
            l[mt][i] += bf16_low(pair);  // l sums the rounded values P V multiplies
            l[mt][i] += bf16_high(pair);
          }
#pragma unroll
        for (int j = 0; j < kMaxHs / 8; j++)
#pragma unroll
          for (int e = 0; e < 4; e++) o[mt][j][e] *= alpha[e / 2];
      }

      // O += P V, 16 keys per step, P from registers, each V operand shared by the m-tiles.
#pragma unroll
      for (int kb = 0; kb < kWarps; kb++) {
        if (kb < key_blocks) {
          uint32_t p[kQueryMTiles][4];  // keys 16kb..16kb+15: blocks 2kb and 2kb + 1 (acc_to_a)
#pragma unroll
          for (int mt = 0; mt < kQueryMTiles; mt++) {
            p[mt][0] = p_pairs[mt][2 * kb][0];
            p[mt][1] = p_pairs[mt][2 * kb][1];
            p[mt][2] = p_pairs[mt][2 * kb + 1][0];
            p[mt][3] = p_pairs[mt][2 * kb + 1][1];
          }
          accumulate_product<kQueryMTiles>(o, p, vt_tile, kb * 16, hs, g, t);
        }
      }
    }
    __syncthreads();  // every warp is done with this K, V tile
  }

  // out = O / l;  lse = (m + log2 l) ln 2
#pragma unroll
  for (int mt = 0; mt < kQueryMTiles; mt++) {
#pragma unroll
    for (int i = 0; i < 2; i++) {
      const float sum = quad_sum(l[mt][i]);
      const int query = row + mt * 16 + i * 8;
      if (query < T) {
        store_row(out + ((size_t)b * T + query) * C + h * hs, o[mt], i, 1.0f / sum, hs, t);
        if (t == 0) lse[((size_t)b * NH + h) * T + query] = (m[mt][i] + log2f(sum)) / kLog2e;
      }
    }
  }
}

// ---- backward ----

// The base-2 log-sum-exp and D of query `query` of head bh; past T: lse = +inf (p = 0), D = 0.
__device__ __forceinline__ float lse2_of(const float* lse, size_t bh, int query, int T) {
  return query < T ? lse[bh * T + query] * kLog2e : INFINITY;
}
__device__ __forceinline__ float d_of(const float* D, size_t bh, int query, int T) {
  return query < T ? D[bh * T + query] : 0.0f;
}

__global__ void __launch_bounds__(kThreads)
    flash_backward_dkdv_mma_kernel(bf16* dqkv, const bf16* dout, const bf16* qkv,
                                   const float* lse, const float* D, int T, int C, int NH) {
  CHAMBER_DYNAMIC_SHARED(float, smem);
  bf16* q_tile = (bf16*)smem;                                 // kTile x kLd; K staged first
  bf16* do_tile = (bf16*)((char*)smem + kTileBytes);          // kTile x kLd; V staged first
  bf16* qt_tile = (bf16*)((char*)smem + 2 * kTileBytes);      // Q transposed, kMaxHs x kLdT
  bf16* dot_tile = (bf16*)((char*)smem + 3 * kTileBytes);     // dO transposed
  float* lse2_rows = (float*)((char*)smem + 4 * kTileBytes);  // kTile: base-2 lse per query
  float* d_rows = lse2_rows + kTile;                          // kTile: D per query

  const int kt = blockIdx.x;  // key tile; tile 0 sees every query tile, so it starts first
  const int h = blockIdx.y, b = blockIdx.z;
  const int hs = C / NH, warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int g = lane / 4, t = lane % 4;
  const int k0 = kt * kTile, num_tiles = gridDim.x;
  const int key = k0 + warp * 16 + g;  // the key of accumulator elements 0, 1; key + 8: of 2, 3
  const size_t stride = (size_t)3 * C, bh = (size_t)b * NH + h;
  const bf16* q_head = qkv + (size_t)b * T * stride + h * hs;
  const bf16* do_head = dout + (size_t)b * T * C + h * hs;
  const float scale = 1.0f / sqrtf((float)hs), scale_log2 = scale * kLog2e;

  stage_rows(q_tile, q_head + C, stride, k0, kTile, T, hs);
  stage_rows(do_tile, q_head + 2 * C, stride, k0, kTile, T, hs);
  __syncthreads();
  uint32_t k[kMaxHs / 16][4], v[kMaxHs / 16][4];  // the warp's 16 keys and values
#pragma unroll
  for (int kk = 0; kk < kMaxHs / 16; kk++) {
    if (kk * 16 < hs) {
      load_a(k[kk], q_tile + warp * 16 * kLd + kk * 16, kLd, g, t);
      load_a(v[kk], do_tile + warp * 16 * kLd + kk * 16, kLd, g, t);
    }
  }
  float dk[1][kMaxHs / 8][4] = {}, dv[1][kMaxHs / 8][4] = {};  // one m-tile of 16 keys
  __syncthreads();

  for (int qt = kt; qt < num_tiles; qt++) {
    const int q0 = qt * kTile;
    stage_rows(q_tile, q_head, stride, q0, kTile, T, hs);
    stage_rows(do_tile, do_head, (size_t)C, q0, kTile, T, hs);
    stage_transposed(qt_tile, q_head, stride, q0, T, hs);
    stage_transposed(dot_tile, do_head, (size_t)C, q0, T, hs);
    for (int i = threadIdx.x; i < kTile; i += kThreads) {
      lse2_rows[i] = lse2_of(lse, bh, q0 + i, T);
      d_rows[i] = d_of(D, bh, q0 + i, T);
    }
    __syncthreads();
    // On the diagonal tile the warp's keys are seen by the queries from its own 16 on.
    const int first_block = qt == kt ? warp : 0;
#pragma unroll
    for (int qb = 0; qb < kWarps; qb++) {
      if (qb < first_block) continue;
      float st[2][4] = {}, dpt[2][4] = {};  // S^T = K Q^T, dP^T = V dO^T for queries 16qb..+15
#pragma unroll
      for (int jj = 0; jj < 2; jj++)
#pragma unroll
        for (int kk = 0; kk < kMaxHs / 16; kk++) {
          if (kk * 16 < hs) {
            uint32_t qb_op[2], dob[2];
            load_b(qb_op, q_tile + (qb * 16 + jj * 8) * kLd + kk * 16, kLd, g, t);
            mma(st[jj], k[kk], qb_op);
            load_b(dob, do_tile + (qb * 16 + jj * 8) * kLd + kk * 16, kLd, g, t);
            mma(dpt[jj], v[kk], dob);
          }
        }
      // P^T = exp(S^T - lse) (causal: query >= key), dS^T = P^T * (dP^T - D), in place.
#pragma unroll
      for (int jj = 0; jj < 2; jj++)
#pragma unroll
        for (int e = 0; e < 4; e++) {
          const int col = qb * 16 + jj * 8 + 2 * t + (e & 1);
          const float p = q0 + col >= key + (e / 2) * 8
                              ? exp2f(st[jj][e] * scale_log2 - lse2_rows[col])
                              : 0.0f;
          st[jj][e] = p;
          dpt[jj][e] = p * (dpt[jj][e] - d_rows[col]);
        }
      uint32_t pt[1][4], ds_t[1][4];
      acc_to_a(pt[0], st[0], st[1]);
      acc_to_a(ds_t[0], dpt[0], dpt[1]);
      accumulate_product<1>(dv, pt, dot_tile, qb * 16, hs, g, t);    // dV += P^T dO
      accumulate_product<1>(dk, ds_t, qt_tile, qb * 16, hs, g, t);   // dK += dS^T Q
    }
    __syncthreads();  // every warp is done with this Q, dO tile
  }

#pragma unroll
  for (int i = 0; i < 2; i++) {
    const int kr = key + i * 8;
    if (kr < T) {
      bf16* dst = dqkv + ((size_t)b * T + kr) * stride + h * hs;
      store_row(dst + C, dk[0], i, scale, hs, t);
      store_row(dst + 2 * C, dv[0], i, 1.0f, hs, t);
    }
  }
}

__global__ void __launch_bounds__(kThreads)
    flash_backward_dq_mma_kernel(bf16* dqkv, const bf16* dout, const bf16* qkv, const float* lse,
                                 const float* D, int T, int C, int NH) {
  CHAMBER_DYNAMIC_SHARED(float, smem);
  bf16* q_stage = (bf16*)smem;                             // kQueryRows x kLd, before the loop
  bf16* do_stage = (bf16*)((char*)smem + 2 * kTileBytes);  // kQueryRows x kLd, likewise
  bf16* k_tile = (bf16*)smem;                              // kTile x kLd, in the loop
  bf16* v_tile = (bf16*)((char*)smem + kTileBytes);        // kTile x kLd
  bf16* kt_tile = (bf16*)((char*)smem + 2 * kTileBytes);   // K transposed, kMaxHs x kLdT

  const int qt = gridDim.x - 1 - blockIdx.x;  // the longest rows start first
  const int h = blockIdx.y, b = blockIdx.z;
  const int hs = C / NH, warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int g = lane / 4, t = lane % 4;
  const int q0 = qt * kQueryRows;
  // The query of accumulator elements 0, 1 of m-tile mt is row + 16 mt; of elements 2, 3, 8 more.
  const int row = q0 + warp * 16 * kQueryMTiles + g;
  const int last_row = q0 + (warp + 1) * 16 * kQueryMTiles - 1;  // the warp's last query
  const size_t stride = (size_t)3 * C, bh = (size_t)b * NH + h;
  const bf16* q_head = qkv + (size_t)b * T * stride + h * hs;
  const float scale = 1.0f / sqrtf((float)hs), scale_log2 = scale * kLog2e;
  float lse2[kQueryMTiles][2], d[kQueryMTiles][2];  // per row, as the accumulators hold them
#pragma unroll
  for (int mt = 0; mt < kQueryMTiles; mt++)
#pragma unroll
    for (int i = 0; i < 2; i++) {
      lse2[mt][i] = lse2_of(lse, bh, row + mt * 16 + i * 8, T);
      d[mt][i] = d_of(D, bh, row + mt * 16 + i * 8, T);
    }

  stage_rows(q_stage, q_head, stride, q0, kQueryRows, T, hs);
  stage_rows(do_stage, dout + (size_t)b * T * C + h * hs, (size_t)C, q0, kQueryRows, T, hs);
  __syncthreads();
  uint32_t q[kQueryMTiles][kMaxHs / 16][4], dy[kQueryMTiles][kMaxHs / 16][4];  // Q and dO rows
#pragma unroll
  for (int mt = 0; mt < kQueryMTiles; mt++) {
    const int r0 = (warp * kQueryMTiles + mt) * 16;
#pragma unroll
    for (int kk = 0; kk < kMaxHs / 16; kk++) {
      if (kk * 16 < hs) {
        load_a(q[mt][kk], q_stage + r0 * kLd + kk * 16, kLd, g, t);
        load_a(dy[mt][kk], do_stage + r0 * kLd + kk * 16, kLd, g, t);
      }
    }
  }
  float dq[kQueryMTiles][kMaxHs / 8][4] = {};
  __syncthreads();

  // Key tiles up to the block's last row (or T); a warp skips those past its own last row.
  const int block_end = q0 + kQueryRows < T ? q0 + kQueryRows : T;
  const int key_tiles = (block_end - 1) / kTile + 1;
  for (int kt = 0; kt < key_tiles; kt++) {
    const int k0 = kt * kTile;
    stage_rows(k_tile, q_head + C, stride, k0, kTile, T, hs);
    stage_rows(v_tile, q_head + 2 * C, stride, k0, kTile, T, hs);
    stage_transposed(kt_tile, q_head + C, stride, k0, T, hs);
    __syncthreads();
    const int visible = last_row - k0 + 1;
    const int key_blocks = visible <= 0 ? 0 : visible >= kTile ? kWarps : (visible + 15) / 16;
#pragma unroll
    for (int kb = 0; kb < kWarps; kb++) {
      if (kb >= key_blocks) continue;
      // S = Q K^T, dP = dO V^T for keys 16kb..16kb+15, each operand shared by the m-tiles.
      float s[kQueryMTiles][2][4] = {}, dp[kQueryMTiles][2][4] = {};
#pragma unroll
      for (int jj = 0; jj < 2; jj++)
#pragma unroll
        for (int kk = 0; kk < kMaxHs / 16; kk++) {
          if (kk * 16 < hs) {
            uint32_t kb_op[2], vb[2];
            load_b(kb_op, k_tile + (kb * 16 + jj * 8) * kLd + kk * 16, kLd, g, t);
            load_b(vb, v_tile + (kb * 16 + jj * 8) * kLd + kk * 16, kLd, g, t);
#pragma unroll
            for (int mt = 0; mt < kQueryMTiles; mt++) {
              mma(s[mt][jj], q[mt][kk], kb_op);
              mma(dp[mt][jj], dy[mt][kk], vb);
            }
          }
        }
      // dS = P * (dP - D), P = exp(S - lse) (causal: key <= query), then dQ += dS K.
      uint32_t ds[kQueryMTiles][4];
#pragma unroll
      for (int mt = 0; mt < kQueryMTiles; mt++) {
#pragma unroll
        for (int jj = 0; jj < 2; jj++)
#pragma unroll
          for (int e = 0; e < 4; e++) {
            const int key = k0 + kb * 16 + jj * 8 + 2 * t + (e & 1), i = e / 2;
            const float p = key <= row + mt * 16 + i * 8
                                ? exp2f(s[mt][jj][e] * scale_log2 - lse2[mt][i])
                                : 0.0f;
            s[mt][jj][e] = p * (dp[mt][jj][e] - d[mt][i]);
          }
        acc_to_a(ds[mt], s[mt][0], s[mt][1]);
      }
      accumulate_product<kQueryMTiles>(dq, ds, kt_tile, kb * 16, hs, g, t);
    }
    __syncthreads();  // every warp is done with this K, V tile
  }

#pragma unroll
  for (int mt = 0; mt < kQueryMTiles; mt++) {
#pragma unroll
    for (int i = 0; i < 2; i++) {
      const int query = row + mt * 16 + i * 8;
      if (query < T)
        store_row(dqkv + ((size_t)b * T + query) * stride + h * hs, dq[mt], i, scale, hs, t);
    }
  }
}

constexpr size_t kForwardBytes = 2 * kTileBytes;  // = kQueryRows x kLd for staging Q
constexpr size_t kDkDvBytes = 4 * kTileBytes + 2 * kTile * sizeof(float);
constexpr size_t kDqBytes = 4 * kTileBytes;  // Q and dO staged, kQueryRows each
static_assert(kForwardBytes <= 48 * 1024 && kDkDvBytes <= 48 * 1024 && kDqBytes <= 48 * 1024,
              "every kernel fits the default shared memory limit");

}  // namespace

void flash_forward_mma(floatX* out, float* lse, const floatX* qkv, int B, int T, int C, int NH,
                       cudaStream_t stream) {
  dim3 grid(ceil_div(T, kQueryRows), NH, B);
  CHAMBER_LAUNCH(flash_forward_mma_kernel, grid, kThreads, kForwardBytes, stream, out, lse, qkv,
                 T, C, NH);
}

void flash_backward_mma(floatX* dqkv, const floatX* dout, const floatX* qkv, const float* lse,
                        const float* D, int B, int T, int C, int NH, cudaStream_t stream) {
  dim3 grid(ceil_div(T, kTile), NH, B);
  CHAMBER_LAUNCH(flash_backward_dkdv_mma_kernel, grid, kThreads, kDkDvBytes, stream, dqkv, dout,
                 qkv, lse, D, T, C, NH);
  dim3 query_grid(ceil_div(T, kQueryRows), NH, B);
  CHAMBER_LAUNCH(flash_backward_dq_mma_kernel, query_grid, kThreads, kDqBytes, stream, dqkv, dout,
                 qkv, lse, D, T, C, NH);
}

#endif  // CHAMBER_BF16

}  // namespace chamber::CHAMBER_GPU_NS
