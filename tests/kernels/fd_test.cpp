// Every reference backward against central finite differences, in double precision, on random
// inputs with odd sizes. The scalar loss is a random projection of the op's output,
// loss = proj . out, so the backward is called with dout = proj and must give d loss / d input.
#include <gtest/gtest.h>

#include <vector>

#include "kernels/attention.h"
#include "kernels/classifier.h"
#include "kernels/encoder.h"
#include "kernels/gelu.h"
#include "kernels/layernorm.h"
#include "kernels/matmul.h"
#include "kernels/residual.h"
#include "kernels/value_head.h"
#include "tests/kernels/kernel_checks.h"
#include "tests/test_util.h"

namespace chamber {
namespace {

using testing::dot;
using testing::finite_difference_grad;
using testing::random_doubles;
using Vec = std::vector<double>;

TEST(ReferenceFiniteDifferences, Encoder) {
  testing::ScopedOmpThreads one_thread(1);
  const int B = 2, T = 5, C = 12, V = 7;  // 10 positions over 7 tokens: repeats are certain
  std::vector<int> tokens = testing::random_tokens(B * T, V, 1);
  Vec wte = random_doubles(V * C, 2), wpe = random_doubles(T * C, 3);
  Vec proj = random_doubles(B * T * C, 4);
  Vec out(B * T * C);
  auto loss = [&] {
    encoder_forward_ref(out.data(), tokens.data(), wte.data(), wpe.data(), B, T, C);
    return dot(proj, out);
  };
  Vec dwte(V * C, 0.0), dwpe(T * C, 0.0);
  encoder_backward_ref(dwte.data(), dwpe.data(), proj.data(), tokens.data(), B, T, C);
  EXPECT_GRAD_MATCHES_FD(dwte, finite_difference_grad(wte, loss));
  EXPECT_GRAD_MATCHES_FD(dwpe, finite_difference_grad(wpe, loss));
}

TEST(ReferenceFiniteDifferences, LayerNorm) {
  testing::ScopedOmpThreads one_thread(1);
  const int N = 9, C = 12;
  Vec inp = random_doubles(N * C, 1, -2.0, 2.0), weight = random_doubles(C, 2),
      bias = random_doubles(C, 3), proj = random_doubles(N * C, 4);
  Vec out(N * C), mean(N), rstd(N);
  auto loss = [&] {
    layernorm_forward_ref(out.data(), mean.data(), rstd.data(), inp.data(), weight.data(),
                          bias.data(), N, C);
    return dot(proj, out);
  };
  loss();  // fills mean and rstd for the backward
  Vec dinp(N * C, 0.0), dweight(C, 0.0), dbias(C, 0.0);
  layernorm_backward_ref(dinp.data(), dweight.data(), dbias.data(), proj.data(), inp.data(),
                         weight.data(), mean.data(), rstd.data(), N, C);
  EXPECT_GRAD_MATCHES_FD(dinp, finite_difference_grad(inp, loss));
  EXPECT_GRAD_MATCHES_FD(dweight, finite_difference_grad(weight, loss));
  EXPECT_GRAD_MATCHES_FD(dbias, finite_difference_grad(bias, loss));
}

TEST(ReferenceFiniteDifferences, Matmul) {
  testing::ScopedOmpThreads one_thread(1);
  const int N = 9, C = 12, OC = 7;
  Vec inp = random_doubles(N * C, 1), weight = random_doubles(OC * C, 2),
      bias = random_doubles(OC, 3), proj = random_doubles(N * OC, 4);
  Vec out(N * OC);
  auto loss = [&] {
    matmul_forward_ref(out.data(), inp.data(), weight.data(), bias.data(), N, C, OC);
    return dot(proj, out);
  };
  Vec dinp(N * C, 0.0), dweight(OC * C, 0.0), dbias(OC, 0.0);
  matmul_backward_ref(dinp.data(), dweight.data(), dbias.data(), proj.data(), inp.data(),
                      weight.data(), N, C, OC);
  EXPECT_GRAD_MATCHES_FD(dinp, finite_difference_grad(inp, loss));
  EXPECT_GRAD_MATCHES_FD(dweight, finite_difference_grad(weight, loss));
  EXPECT_GRAD_MATCHES_FD(dbias, finite_difference_grad(bias, loss));
}

TEST(ReferenceFiniteDifferences, Attention) {
  testing::ScopedOmpThreads one_thread(1);
  const int B = 2, T = 5, C = 12, NH = 3;
  Vec qkv = random_doubles(B * T * 3 * C, 1, -1.5, 1.5), proj = random_doubles(B * T * C, 2);
  Vec out(B * T * C), lse(B * NH * T);
  auto loss = [&] {
    attention_forward_ref(out.data(), lse.data(), qkv.data(), B, T, C, NH);
    return dot(proj, out);
  };
  loss();  // fills out and lse for the backward
  Vec dqkv(qkv.size(), 0.0);
  attention_backward_ref(dqkv.data(), proj.data(), qkv.data(), out.data(), lse.data(), B, T, C,
                         NH);
  EXPECT_GRAD_MATCHES_FD(dqkv, finite_difference_grad(qkv, loss));
}

TEST(ReferenceFiniteDifferences, Gelu) {
  testing::ScopedOmpThreads one_thread(1);
  const size_t n = 37;
  Vec inp = random_doubles(n, 1, -4.0, 4.0), proj = random_doubles(n, 2);
  Vec out(n);
  auto loss = [&] {
    gelu_forward_ref(out.data(), inp.data(), n);
    return dot(proj, out);
  };
  Vec dinp(n, 0.0);
  gelu_backward_ref(dinp.data(), inp.data(), proj.data(), n);
  EXPECT_GRAD_MATCHES_FD(dinp, finite_difference_grad(inp, loss));
}

TEST(ReferenceFiniteDifferences, Residual) {
  testing::ScopedOmpThreads one_thread(1);
  const size_t n = 37;
  Vec a = random_doubles(n, 1), b = random_doubles(n, 2), proj = random_doubles(n, 3);
  Vec out(n);
  auto loss = [&] {
    residual_forward_ref(out.data(), a.data(), b.data(), n);
    return dot(proj, out);
  };
  Vec da(n, 0.0), db(n, 0.0);
  residual_backward_ref(da.data(), db.data(), proj.data(), n);
  EXPECT_GRAD_MATCHES_FD(da, finite_difference_grad(a, loss));
  EXPECT_GRAD_MATCHES_FD(db, finite_difference_grad(b, loss));
}

TEST(ReferenceFiniteDifferences, Classifier) {
  testing::ScopedOmpThreads one_thread(1);
  // loss = sum_i w_i * losses[i]; the gradient is what write_grad leaves in the logits.
  // Weights of both signs and two ignored rows (targets -1).
  const int N = 9, V = 11, Vp = 16;
  Vec logits = random_doubles(N * Vp, 1, -3.0, 3.0), weights = random_doubles(N, 2);
  std::vector<int> targets = testing::random_tokens(N, V, 3);
  targets[2] = -1;
  targets[6] = -1;
  Vec losses(N), entropy(N);
  auto loss = [&] {
    Vec scratch = logits;  // write_grad = false leaves logits alone, but be explicit
    classifier_forward_backward_ref(scratch.data(), losses.data(), entropy.data(), targets.data(),
                                    weights.data(), N, V, Vp, false);
    return dot(weights, losses);
  };
  Vec grad = logits;
  classifier_forward_backward_ref(grad.data(), losses.data(), entropy.data(), targets.data(),
                                  weights.data(), N, V, Vp, true);
  // Padding columns are never read, so their finite difference is 0 too: the whole row compares.
  EXPECT_GRAD_MATCHES_FD(grad, finite_difference_grad(logits, loss));
}

TEST(ReferenceFiniteDifferences, ValueHead) {
  testing::ScopedOmpThreads one_thread(1);
  const int N = 9, C = 12;
  Vec h = random_doubles(N * C, 1), w = random_doubles(C, 2), b = random_doubles(1, 3),
      proj = random_doubles(N, 4);
  Vec values(N);
  auto loss = [&] {
    value_head_forward_ref(values.data(), h.data(), w.data(), b.data(), N, C);
    return dot(proj, values);
  };
  Vec dh(N * C, 0.0), dw(C, 0.0), db(1, 0.0);
  value_head_backward_ref(dh.data(), dw.data(), db.data(), proj.data(), h.data(), w.data(), N, C);
  EXPECT_GRAD_MATCHES_FD(dh, finite_difference_grad(h, loss));
  EXPECT_GRAD_MATCHES_FD(dw, finite_difference_grad(w, loss));
  EXPECT_GRAD_MATCHES_FD(db, finite_difference_grad(b, loss));
}

}  // namespace
}  // namespace chamber
