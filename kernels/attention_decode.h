// Attention against a KV cache (incremental decoding and prompt prefill), plain C++ reference.
//
// The sampler feeds each sequence a few new tokens at a time (one per step in decoding, a prompt
// block in prefill). Keys and values of earlier positions are not recomputed: they sit in a cache
// with one slot per sequence, so a step costs O(position) per token instead of O(position^2).
//
// Shapes (hs = C/NH, s = 1/sqrt(hs)):
//   qkv      (N, Tn, 3C)  the new tokens' [ q | k | v ], laid out as in attention_forward.
//   slots    (N) ints     cache slot of row i (distinct per row; rows can be a compacted subset).
//   pos      (N) ints     sequence position of row i's first new token; its token j sits at
//                         position pos[i] + j, and pos[i] + Tn <= max_len.
//   k_cache, v_cache      (S, NH, max_len, hs) for S >= max(slots)+1 slots; positions of a head
//                         are contiguous so one query streams its keys.
//   out      (N, Tn, C)   OVERWRITTEN, heads concatenated.
//
//   for each row i, head h:  first WRITE, for j < Tn,
//       k_cache[slots[i], h, pos[i]+j, :] = k[i, j, h],   v_cache[...] = v[i, j, h]
//   then for each new token j, at position p = pos[i] + j (causal: keys 0..p of that slot):
//       score[t2] = s * q[i,j,h] . k_cache[slots[i], h, t2]        t2 <= p
//       out[i, j, h*hs .. ] = sum_{t2<=p} softmax(score)[t2] * v_cache[slots[i], h, t2]
//   Positions 0..pos[i]-1 of the slot must have been written by earlier calls.
//
// With the same arithmetic order as attention_forward_ref (dot, scale, max, exp, sum, divide,
// weighted sum in key order), a sequence decoded token by token gets exactly the float values the
// full causal forward gets: the sampler's log-probabilities match the trainer's.
//
// Parallel over (row, head) pairs: each pair writes and reads only its own slot and head.
#pragma once

namespace chamber {

template <typename Real>
void attention_decode_ref(Real* out, Real* k_cache, Real* v_cache, const Real* qkv,
                          const int* slots, const int* pos, int N, int Tn, int C, int NH,
                          int max_len);

}  // namespace chamber
