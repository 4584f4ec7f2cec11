// Token sampling on the GPU; the math is in sample.h:
//   greedy:       ids[i] = argmax_j x_j (lowest j among ties)
//   temperature:  ids[i] = first j with p_0 + ... + p_j > u_i * P,  p_j = exp((x_j - max)/T)
//   top-k/top-p:  the same walk, but over the ids in sorted order (logit descending, ties by
//                 lower id), cut to the first k and then to the nucleus top_p
//   logprobs[i] = x_id - max_V - log sum_{j<V} exp(x_j - max_V)
//
// Logits are floatX (bf16 in the bf16 builds), read as float; sums in double as said below.
// One block per row: a row is V floats (tens of thousands), far more than a warp.
//   1. strided pass: max over V, and (value, id) of the best over n_draw (ties -> lower id);
//   2. strided pass: sum over V of exp(x - max_V), for the log-probability.
// Plain temperature (top-k and top-p off) is an inverse-CDF search in natural order, a prefix sum
// in disguise, so each thread owns one contiguous run of ids:
//   3. each thread sums p_j over its own run; thread 0 turns the per-thread sums into an exclusive
//      prefix (blockDim values, sequentially: cheap, and in a fixed order);
//   4. each thread walks its run from its prefix and offers the first j past u * P to an
//      atomicMin, so the smallest such id over the whole row wins.
//
// Top-k and top-p need the row in sorted order, but never the sorted row itself: only the position
// in that order where a cumulative quantity crosses a target. Top-k is where the count reaches k,
// the nucleus is where the mass reaches top_p * (mass of the kept), and the draw is where the mass
// passes u * (mass of the nucleus). Each is one radix select (select_crossing) over a 64-bit rank
// that orders the row exactly as the reference sorts it:
//   rank_j = descending_key(x_j) << 32 | j,
// the key being the float's bits flipped so that unsigned order is descending value (+0 and -0
// one key, as they compare equal), and the id below it breaking ties by lower id first. The
// select fixes the rank 4 bits at a time from the top: a pass over the row histograms the
// quantity (count, or mass p_j) of the elements that match the digits fixed so far into 16 bins
// of the next digit, and thread 0 walks the bins in order, adding to the quantity of the ranks
// already passed, until the target is crossed. The id digits above the largest id are all zero
// and are skipped, so a select is 8 + ceil(log2(n_draw) / 4) passes (12 at GPT-2's 50k).
// Rounding can leave no bin crossing (the target at the very end): then the last non-empty bin
// is taken, which at the end is the reference's "last kept id". A bin counts as non-empty when its
// quantity is positive, so an id whose p_j underflows to 0 is never drawn; the reference could
// return one only when rounding lands r exactly on the total (the caveat below).
//
// Determinism and agreement with the reference: the histograms are not shared-memory atomics
// (double atomics add in whatever order threads arrive). Each thread accumulates its strided
// elements into 16 registers in a fixed order, each warp combines its lanes' bins with a fixed
// shuffle tree (warp_bin_sums), and thread 0 adds the warps in order, so a draw never depends on
// thread timing. The sums are double, like the reference's, but in another order (per bin and
// digit rather than along the sorted row), so a draw agrees with the reference except when the
// target sits on a boundary to ~1e-16; counts are exact.
//
// Cost: the plain path reads the row three or four times. Top-k and top-p read it 2 + 12 per
// select times at 50k ids (up to three selects: 38 reads, mostly cheap: after the first digit or
// two only the few elements that still match compute p_j), and per pass a warp does 16 shuffles
// and thread 0 a 16-bin walk. The k-th element, the nucleus and the draw are found without
// sorting; what this saves is copying every row of logits to the host each step.
#include <cmath>
#include <cstdint>

#include "util/util.h"
#include "kernels/cuda_launchers.h"

namespace chamber::CHAMBER_GPU_NS {

namespace {

constexpr int kBlock = 256;  // a power of two, for the tree reductions
constexpr int kWarps = kBlock / 32;
constexpr int kDigitBits = 4, kBins = 1 << kDigitBits;

// Unsigned order of the keys = descending order of the values.
__device__ __forceinline__ uint32_t descending_key(float v) {
  if (v == 0.0f) v = 0.0f;  // -0 and +0 compare equal: one key
  const uint32_t u = __float_as_uint(v);
  const uint32_t ascending = (u & 0x80000000u) ? ~u : (u | 0x80000000u);
  return ~ascending;
}

__device__ __forceinline__ uint64_t rank_of(float v, int j) {
  return ((uint64_t)descending_key(v) << 32) | (uint32_t)j;
}

// Sums each of the 16 bins over the warp with 16 shuffles (not 16 x 5): at each step a lane keeps
// half of its bins and hands the other half to its partner, whose half it adds; lane l ends with
// the sum of bin l / 2. A fixed tree, so the sums do not depend on timing.
template <int kHalf, int kOffset>  // one step: bins [0, 2 * kHalf) -> [0, kHalf)
__device__ __forceinline__ void keep_half_of_bins(double (&v)[kBins], int lane) {
  const bool upper = (lane & kOffset) != 0;
#pragma unroll
  for (int b = 0; b < kHalf; b++) {
    const double send = upper ? v[b] : v[b + kHalf];
    const double keep = upper ? v[b + kHalf] : v[b];
    v[b] = keep + __shfl_xor_sync(0xffffffffu, send, kOffset);
  }
}
__device__ __forceinline__ double warp_bin_sums(double (&v)[kBins]) {
  static_assert(kBins == 16, "four halving steps, then lane pairs");
  const int lane = threadIdx.x % 32;
  keep_half_of_bins<8, 16>(v, lane);
  keep_half_of_bins<4, 8>(v, lane);
  keep_half_of_bins<2, 4>(v, lane);
  keep_half_of_bins<1, 2>(v, lane);
  return v[0] + __shfl_xor_sync(0xffffffffu, v[0], 1);
}

// Where a select stopped, and its shared scratch (one per block).
struct Crossing {
  uint64_t rank;  // the first rank (within the limit) at which the quantity crosses the target
  double before;  // the quantity of the ranks below it (within the limit)
  double at;      // the quantity of that rank itself
  double target;
  double bins[kWarps][kBins];
};

// Called by every thread of the block. Among the ids j < n_draw whose rank is <= limit, finds the
// smallest rank R such that the quantity summed over ranks <= R crosses the target: >= target,
// or > target when strict. The quantity is 1 per id (counts; target is a count) or, by_mass,
// p_j = exp((x_j - max_draw) / temperature) (target is that fraction of the mass within the
// limit). Results in *c for every thread once it returns.
__device__ void select_crossing(Crossing* c, const floatX* x, int n_draw, uint64_t limit,
                                bool by_mass, double target, bool strict, float max_draw,
                                float temperature) {
  const int tid = threadIdx.x, lane = tid % 32, warp = tid / 32;
  int id_bits = 0;  // the id digits that are not all zero
  while (id_bits < 32 && (1ll << id_bits) < (long long)n_draw) id_bits += kDigitBits;
  uint64_t prefix = 0;  // the digits fixed so far (each thread keeps the same copy)
  if (tid == 0) {
    c->before = 0.0;
    c->target = target;
  }
  bool first = true;
  for (int shift = 64 - kDigitBits; shift >= 0; shift -= kDigitBits) {
    if (shift < 32 && shift >= id_bits) continue;
    const uint64_t fixed = shift + kDigitBits >= 64 ? 0 : ~0ull << (shift + kDigitBits);
    double quantity[kBins];
#pragma unroll
    for (int b = 0; b < kBins; b++) quantity[b] = 0.0;
    for (int j = tid; j < n_draw; j += blockDim.x) {
      const float v = (float)x[j];
      const uint64_t rank = rank_of(v, j);
      if (rank > limit || (rank & fixed) != prefix) continue;
      const int digit = (int)(rank >> shift) & (kBins - 1);
      const double q = by_mass ? exp(((double)v - (double)max_draw) / temperature) : 1.0;
#pragma unroll
      for (int b = 0; b < kBins; b++) quantity[b] += digit == b ? q : 0.0;  // stays in registers
    }
    const double bin_sum = warp_bin_sums(quantity);
    if (lane % 2 == 0) c->bins[warp][lane / 2] = bin_sum;
    __syncthreads();
    if (tid == 0) {
      // A bin's quantity: the warps' sums added in warp order (recomputed, not kept in an array,
      // which would sit in local memory).
      auto bin_total = [&](int b) {
        double q = 0.0;
        for (int w = 0; w < kWarps; w++) q += c->bins[w][b];
        return q;
      };
      if (first && by_mass) {  // the target is a fraction of the mass within the limit
        double total = 0.0;
        for (int b = 0; b < kBins; b++) total += bin_total(b);
        c->target = target * total;
      }
      double before = c->before, chosen_before = before, chosen_quantity = 0.0;
      int chosen = -1;
      for (int b = 0; b < kBins; b++) {
        const double q = bin_total(b);
        if (q <= 0.0) continue;  // empty (see the top of the file for zero-mass ids)
        chosen = b;              // if no bin crosses, the last non-empty one
        chosen_before = before;
        chosen_quantity = q;
        const double after = before + q;
        if (strict ? after > c->target : after >= c->target) break;
        before = after;
      }
      c->rank = prefix | ((uint64_t)chosen << shift);
      c->before = chosen_before;
      c->at = chosen_quantity;
    }
    __syncthreads();
    prefix = c->rank;
    first = false;
  }
  __syncthreads();  // every thread has read c->rank before the next select resets it
}

__global__ void sample_kernel(int* ids, float* logprobs, const floatX* logits,
                              const double* uniforms, int n_draw, int V, int Vp,
                              float temperature, int top_k, float top_p) {
  __shared__ float tree_max[kBlock];
  __shared__ float tree_best[kBlock];
  __shared__ int tree_best_id[kBlock];
  __shared__ double tree_sum[kBlock];
  __shared__ double target;  // u * P
  __shared__ int drawn;
  __shared__ Crossing crossing;
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

  const bool top_k_on = top_k > 0 && top_k < n_draw, top_p_on = top_p < 1.0f;
  int id = argmax;
  if (temperature > 0.0f && (top_k_on || top_p_on)) {
    // The sorted order's cuts, each a radix select (see the top of the file).
    uint64_t limit = ~0ull;
    if (top_k_on) {  // the k-th rank: the count reaches k
      select_crossing(&crossing, x, n_draw, limit, false, (double)top_k, false, max_draw,
                      temperature);
      limit = crossing.rank;
    }
    if (top_p_on) {  // the nucleus: the mass reaches top_p of the kept mass
      select_crossing(&crossing, x, n_draw, limit, true, (double)top_p, false, max_draw,
                      temperature);
      limit = crossing.rank;
    }
    // The draw: the mass passes u of the nucleus's.
    select_crossing(&crossing, x, n_draw, limit, true, uniforms[row], true, max_draw,
                    temperature);
    id = (int)(uint32_t)crossing.rank;
  } else if (temperature > 0.0f) {
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
                   int n_draw, int V, int Vp, float temperature, int top_k, float top_p,
                   cudaStream_t stream) {
  if (N <= 0) return;
  if (n_draw < 1 || n_draw > V || V > Vp)
    fail("sample_tokens: need 1 <= n_draw <= V <= Vp (got ", n_draw, ", ", V, ", ", Vp, ")");
  CHAMBER_LAUNCH(sample_kernel, N, kBlock, 0, stream, ids, logprobs, logits, uniforms, n_draw, V,
                 Vp, temperature, top_k, top_p);
}

}  // namespace chamber::CHAMBER_GPU_NS
