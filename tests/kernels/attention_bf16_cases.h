// bf16 causal attention through an Ops table whose compute type is bf16 (cuda_bf16_ops() on the
// GPU, simt_bf16_ops() under the emulator) against the double reference on the same bf16 inputs.
// attention_gpu.cpp runs it on the GPU for each named path, GPT-2's shape among them;
// bf16_simt.cpp runs the same function under the emulator so CI checks the check.
//
// Bounds (argued in tests/kernels/bf16_simt.cpp, AttentionEveryPath): the flash kernels
// (attention_bf16.cu) round P and dS to bf16 once before their products and each output once:
// 2 x 2^-8 in relative L2, lse within 2^-8 / (1 - 2^-8) plus float's error; the materialised
// path chains four bf16 roundings in backward (4 x 2^-8) and its lse is the log-sum-exp of bf16
// scores, within sqrt(hs) 2^-8.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "kernels/attention.h"
#include "kernels/ops.h"
#include "util/bf16.h"
#include "tests/test_util.h"

namespace chamber::testing {

constexpr double kAttentionBf16Rel = 1.0 / 256;  // 2^-8: one rounding to nearest bf16

// Bf16 values uploaded to a backend buffer, with their exact values in double for the reference.
struct Bf16Tensor {
  std::vector<uint16_t> bits;
  std::vector<double> values;
  void* device = nullptr;
  const Ops* ops = nullptr;
  Bf16Tensor(const Ops& o, size_t n, uint64_t seed, float lo, float hi, bool poison = false)
      : bits(n), values(n), ops(&o) {
    std::vector<float> x = random_vector(n, seed, lo, hi);
    for (size_t i = 0; i < n; i++) {
      bits[i] = poison ? (uint16_t)0x7fc0 : float_to_bf16_bits(x[i]);  // 0x7fc0: NaN
      values[i] = bf16_bits_to_float(bits[i]);
    }
    device = o.alloc(n * 2);
    o.from_host(device, bits.data(), n * 2);
  }
  ~Bf16Tensor() { ops->free(device); }
  std::vector<float> read() {
    ops->to_host(bits.data(), device, bits.size() * 2);
    std::vector<float> out(bits.size());
    for (size_t i = 0; i < bits.size(); i++) out[i] = bf16_bits_to_float(bits[i]);
    return out;
  }
};

// Forward and backward of one random problem (B, T, C, NH) on `ops` with whatever path its
// attention preference selects, checked against the reference with `rel_l2` (out and dqkv) and
// `lse_atol`. Prints the measured errors.
inline void check_bf16_attention(const Ops& ops, int B, int T, int C, int NH, uint64_t seed,
                                 double rel_l2, double lse_atol, const std::string& label) {
  ASSERT_EQ(ops.compute_bytes, 2u) << ops.name << " is not a bf16 table";
  const size_t qkv_n = (size_t)B * T * 3 * C, out_n = (size_t)B * T * C, lse_n = (size_t)B * NH * T;
  Bf16Tensor qkv(ops, qkv_n, seed, -2.0f, 2.0f), dout(ops, out_n, seed + 1, -1.0f, 1.0f);
  Bf16Tensor out(ops, out_n, 0, 0, 0, true), dqkv(ops, qkv_n, 0, 0, 0, true);
  float* lse = (float*)ops.alloc(lse_n * sizeof(float));
  std::vector<float> lse_host(lse_n, NAN);
  ops.from_host(lse, lse_host.data(), lse_n * sizeof(float));

  std::vector<double> want_out(out_n), want_lse(lse_n), want_dqkv(qkv_n, 0.0);
  attention_forward_ref<double>(want_out.data(), want_lse.data(), qkv.values.data(), B, T, C, NH);
  attention_backward_ref<double>(want_dqkv.data(), dout.values.data(), qkv.values.data(),
                                 want_out.data(), want_lse.data(), B, T, C, NH);

  ops.attention_forward(out.device, lse, qkv.device, B, T, C, NH);
  ops.attention_backward(dqkv.device, dout.device, qkv.device, out.device, lse, B, T, C, NH);
  std::vector<float> got_out = out.read(), got_dqkv = dqkv.read();
  ops.to_host(lse_host.data(), lse, lse_n * sizeof(float));
  ops.free(lse);

  std::vector<float> w_out(want_out.begin(), want_out.end());
  std::vector<float> w_dqkv(want_dqkv.begin(), want_dqkv.end());
  std::vector<float> w_lse(want_lse.begin(), want_lse.end());
  double lse_err = 0;
  for (size_t i = 0; i < lse_n; i++)
    lse_err = std::fmax(lse_err, std::fabs((double)lse_host[i] - want_lse[i]));
  std::printf("bf16 attention %s (B %d T %d C %d NH %d): relative L2 out %.2e dqkv %.2e, "
              "lse max error %.2e\n", label.c_str(), B, T, C, NH, relative_l2(got_out, w_out),
              relative_l2(got_dqkv, w_dqkv), lse_err);
  EXPECT_REL_L2_BELOW(got_out, w_out, rel_l2);
  EXPECT_REL_L2_BELOW(got_dqkv, w_dqkv, rel_l2);
  EXPECT_ALL_CLOSE(lse_host, w_lse, lse_atol, 0.0);
}

// The flash bounds for a problem of T positions.
inline void check_bf16_flash_attention(const Ops& ops, int B, int T, int C, int NH, uint64_t seed) {
  check_bf16_attention(ops, B, T, C, NH, seed, 2 * kAttentionBf16Rel,
                       kAttentionBf16Rel / (1 - kAttentionBf16Rel) + 4e-6 * T, "flash");
}

}  // namespace chamber::testing
