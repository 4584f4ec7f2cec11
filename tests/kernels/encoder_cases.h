// Token + position embedding on a backend against the reference; see backend_cases.h.
#pragma once
#include "kernels/encoder.h"
#include "tests/kernels/backend_cases.h"

namespace chamber::testing {

class EncoderCases : public BackendTest {};

// B*T = 39 positions (not a multiple of 32), C = 70 (two full 32-channel chunks and a partial),
// V = 150 > the kernel's 64 vocabulary slices, so slices hold several tokens and, with 39
// positions drawn from 150, some tokens repeat.
constexpr int kEncB = 3, kEncT = 13, kEncC = 70, kEncV = 150;

TEST_P(EncoderCases, Forward) {
  auto tokens = random_tokens(kEncB * kEncT, kEncV, 11);
  auto wte = random_vector((size_t)kEncV * kEncC, 12), wpe = random_vector((size_t)kEncT * kEncC, 13);
  std::vector<double> want((size_t)kEncB * kEncT * kEncC);
  encoder_forward_ref<double>(want.data(), tokens.data(), widen(wte).data(), widen(wpe).data(), kEncB,
                              kEncT, kEncC);
  BackendArray<int> tok(*ops, tokens);
  BackendArray<float> dwte(*ops, wte), dwpe(*ops, wpe), out(*ops, nan_vector(want.size()));
  ops->encoder_forward(out, tok, dwte, dwpe, kEncB, kEncT, kEncC);
  EXPECT_BACKEND_CLOSE(out.download(), narrow(want), f32_tolerance(1));
}

TEST_P(EncoderCases, BackwardAccumulatesRepeatedTokens) {
  auto tokens = random_tokens(kEncB * kEncT, kEncV, 14);
  tokens[5] = tokens[30] = tokens[17];  // make sure of at least one collision
  auto dout = random_vector((size_t)kEncB * kEncT * kEncC, 15);
  auto dwte0 = random_vector((size_t)kEncV * kEncC, 16), dwpe0 = random_vector((size_t)kEncT * kEncC, 17);
  std::vector<double> want_wte = widen(dwte0), want_wpe = widen(dwpe0);
  encoder_backward_ref<double>(want_wte.data(), want_wpe.data(), widen(dout).data(), tokens.data(),
                               kEncB, kEncT, kEncC);
  BackendArray<int> tok(*ops, tokens);
  BackendArray<float> d(*ops, dout), dwte(*ops, dwte0), dwpe(*ops, dwpe0);
  ops->encoder_backward(dwte, dwpe, d, tok, kEncB, kEncT, kEncC);
  // A few float additions per element in another order than the double reference.
  EXPECT_BACKEND_CLOSE(dwte.download(), narrow(want_wte), f32_tolerance(4));
  EXPECT_BACKEND_CLOSE(dwpe.download(), narrow(want_wpe), f32_tolerance(4));
}

}  // namespace chamber::testing
