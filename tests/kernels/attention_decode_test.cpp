// attention_decode (KV-cache attention) against the full causal attention_forward on the same
// sequences: decoding token by token, prefilling a block then decoding, rows at different
// positions in one call, and rows mapped to scattered cache slots. The reference decode repeats
// attention_forward's arithmetic in the same order, so float results agree to the last bit; the
// tolerance is kept at a few ulps so a faster backend entry can share the test.
#include <gtest/gtest.h>

#include <vector>

#include "kernels/attention.h"
#include "kernels/attention_decode.h"
#include "kernels/ops.h"
#include "tests/test_util.h"

namespace chamber {
namespace {

struct Case {
  int B = 3, T = 11, C = 24, NH = 3;
};

// Full forward: out (B,T,C) for qkv (B,T,3C).
std::vector<float> full_attention(const std::vector<float>& qkv, const Case& k) {
  std::vector<float> out((size_t)k.B * k.T * k.C), lse((size_t)k.B * k.NH * k.T);
  reference_ops().attention_forward(out.data(), lse.data(), qkv.data(), k.B, k.T, k.C, k.NH);
  return out;
}

// Decodes every sequence in blocks: row b feeds positions [done[b], done[b]+Tn) per call, with
// its cache in slot slots[b] of a cache with S slots. blocks[b] lists the block sizes of row b;
// rows with the same block size at the same call index are batched into one call.
std::vector<float> decoded_attention(const std::vector<float>& qkv, const Case& k,
                                     const std::vector<int>& slot_of_row, int S, int Tn_per_call,
                                     int first_block) {
  const int C = k.C, hs = C / k.NH, max_len = k.T + 2;
  std::vector<float> kc((size_t)S * k.NH * max_len * hs, 7.0f), vc(kc.size(), -7.0f);
  std::vector<float> out((size_t)k.B * k.T * C, 0.0f);
  int done = 0;
  while (done < k.T) {
    int Tn = done == 0 ? first_block : Tn_per_call;
    if (done + Tn > k.T) Tn = k.T - done;
    std::vector<float> step_qkv((size_t)k.B * Tn * 3 * C), step_out((size_t)k.B * Tn * C);
    std::vector<int> pos(k.B, done);
    for (int b = 0; b < k.B; b++)
      for (int j = 0; j < Tn; j++)
        for (int c = 0; c < 3 * C; c++)
          step_qkv[((size_t)b * Tn + j) * 3 * C + c] = qkv[((size_t)b * k.T + done + j) * 3 * C + c];
    reference_ops().attention_decode(step_out.data(), kc.data(), vc.data(), step_qkv.data(),
                                     slot_of_row.data(), pos.data(), k.B, Tn, C, k.NH, max_len);
    for (int b = 0; b < k.B; b++)
      for (int j = 0; j < Tn; j++)
        for (int c = 0; c < C; c++)
          out[((size_t)b * k.T + done + j) * C + c] = step_out[((size_t)b * Tn + j) * C + c];
    done += Tn;
  }
  return out;
}

TEST(AttentionDecode, TokenByTokenMatchesFullForward) {
  Case k;
  auto qkv = testing::random_vector((size_t)k.B * k.T * 3 * k.C, 11, -2.0f, 2.0f);
  auto want = full_attention(qkv, k);
  auto got = decoded_attention(qkv, k, {0, 1, 2}, 3, 1, 1);
  EXPECT_ALL_CLOSE(got, want, 1e-6, 1e-6);
}

TEST(AttentionDecode, PrefillBlockThenDecodeWithScatteredSlots) {
  Case k;
  auto qkv = testing::random_vector((size_t)k.B * k.T * 3 * k.C, 12, -2.0f, 2.0f);
  auto want = full_attention(qkv, k);
  EXPECT_ALL_CLOSE(decoded_attention(qkv, k, {4, 0, 2}, 5, 1, 6), want, 1e-6, 1e-6);
  EXPECT_ALL_CLOSE(decoded_attention(qkv, k, {1, 3, 0}, 4, 3, 2), want, 1e-6, 1e-6);
  EXPECT_ALL_CLOSE(decoded_attention(qkv, k, {2, 1, 0}, 3, 1, k.T), want, 1e-6, 1e-6);
}

// Rows at different positions in the same call (a compacted batch whose sequences started at
// different lengths): row 0 prefilled 2 positions, row 1 prefilled 5; then one call feeds each
// its next token.
TEST(AttentionDecode, RowsAtDifferentPositionsInOneCall) {
  Case k;
  k.B = 2;
  const int C = k.C, hs = C / k.NH, max_len = k.T;
  auto qkv = testing::random_vector((size_t)k.B * k.T * 3 * C, 13, -2.0f, 2.0f);
  auto want = full_attention(qkv, k);
  std::vector<float> kc((size_t)2 * k.NH * max_len * hs, 3.0f), vc(kc.size(), 3.0f);
  const int prefill[2] = {2, 5};
  for (int b = 0; b < 2; b++) {
    std::vector<float> out((size_t)prefill[b] * C);
    int slot = b, pos = 0;
    reference_ops().attention_decode(out.data(), kc.data(), vc.data(),
                                     qkv.data() + (size_t)b * k.T * 3 * C, &slot, &pos, 1,
                                     prefill[b], C, k.NH, max_len);
  }
  std::vector<float> step_qkv(2 * 3 * C), out(2 * C);
  std::vector<int> slots = {0, 1}, pos = {prefill[0], prefill[1]};
  for (int b = 0; b < 2; b++)
    for (int c = 0; c < 3 * C; c++)
      step_qkv[b * 3 * C + c] = qkv[((size_t)b * k.T + pos[b]) * 3 * C + c];
  reference_ops().attention_decode(out.data(), kc.data(), vc.data(), step_qkv.data(), slots.data(),
                                   pos.data(), 2, 1, C, k.NH, max_len);
  for (int b = 0; b < 2; b++) {
    std::vector<float> got(out.begin() + b * C, out.begin() + (b + 1) * C);
    std::vector<float> ref(want.begin() + ((size_t)b * k.T + pos[b]) * C,
                           want.begin() + ((size_t)b * k.T + pos[b] + 1) * C);
    EXPECT_ALL_CLOSE(got, ref, 1e-6, 1e-6);
  }
}

TEST(AttentionDecode, DoubleInstantiationMatchesFloat) {
  Case k;
  k.B = 1;
  auto qkv = testing::random_vector((size_t)k.T * 3 * k.C, 14, -2.0f, 2.0f);
  const int hs = k.C / k.NH;
  std::vector<double> qkv_d(qkv.begin(), qkv.end()), kc((size_t)k.NH * k.T * hs),
      vc(kc.size()), out_d((size_t)k.T * k.C);
  int slot = 0, pos = 0;
  attention_decode_ref<double>(out_d.data(), kc.data(), vc.data(), qkv_d.data(), &slot, &pos, 1,
                               k.T, k.C, k.NH, k.T);
  std::vector<float> got(out_d.begin(), out_d.end());
  EXPECT_ALL_CLOSE(got, full_attention(qkv, k), testing::kF32Atol, testing::kF32Rtol);
}

}  // namespace
}  // namespace chamber
