// Every op of the list in kernels/ops.h on every backend, against the reference run in double: one
// test per op (AllBackendOps.<op>, generated from the list), instantiated for the reference and
// fast CPU backends (all_backends_test.cpp, test_kernels), the SIMT emulator
// (all_backends_simt.cpp) and the GPU (all_backends_gpu.cpp; skipped without one). An op of the list with no case below
// fails its test on every backend, so a new op comes with its case. A backend without an op
// (supports() false: the profiler ranges and the fused matmul + GELU on the CPU, the fused
// residual + LayerNorm in the reference) skips it.
//
// Each case follows backend_cases.h: random inputs (never zeros) of sizes that are not multiples
// of any block, outputs (overwritten gradients included) NaN before the call, accumulated
// gradients random before it, float's
// tolerances times a slack stated at the case (TF32's for the GPU's products). The op-specific
// corners (null bias, ignored rows, kernel choices, ties) stay in the <op>_cases.h suites.
// This header is included once per test executable (by the file that instantiates the suite).
#pragma once
#include <algorithm>
#include <cmath>
#include <deque>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "kernels/adamw.h"
#include "kernels/attention.h"
#include "kernels/attention_decode.h"
#include "kernels/classifier.h"
#include "kernels/encoder.h"
#include "kernels/gelu.h"
#include "kernels/layernorm.h"
#include "kernels/matmul.h"
#include "kernels/residual.h"
#include "kernels/sample.h"
#include "kernels/value_head.h"
#include "tests/kernels/backend_cases.h"
#include "tests/kernels/optimizer_calls.h"

namespace chamber::testing {

// The arguments of one op call, each array in two copies: the backend's (float, int or double)
// and the reference's (double for floats). run() calls the op with the one and the reference with
// the other, then compares every array the op writes.
class OpCall {
 public:
  OpCall(const Ops& ops, uint64_t seed) : ops_(ops), seed_(seed) {}

  template <typename T>
  struct Array {
    using Reference = std::conditional_t<std::is_same_v<T, float>, double, T>;
    Array(const Ops& ops, const char* name_, std::vector<T> start, bool written_, Tolerance tol_)
        : name(name_), reference(start.begin(), start.end()), backend(ops, start),
          written(written_), tol(tol_) {}
    void expect_matches() const {
      if (!written) return;
      if constexpr (std::is_same_v<T, float>) {
        std::vector<float> want(reference.begin(), reference.end());
        EXPECT_BACKEND_CLOSE(backend.download(), want, tol) << name;
      } else {
        EXPECT_EQ(backend.download(), reference) << name;
      }
    }
    const char* name;
    std::vector<Reference> reference;
    BackendArray<T> backend;
    bool written;  // compared after the call
    Tolerance tol;
  };

  // Read-only arrays: random values in [lo, hi), or the given ones.
  Array<float>& input(size_t n, float lo = -1.0f, float hi = 1.0f) {
    return input(random_vector(n, next_seed(), lo, hi));
  }
  Array<float>& input(std::vector<float> values) { return add(floats_, "", values, false, {}); }
  Array<int>& input(std::vector<int> values) { return add(ints_, "", values, false, {}); }
  Array<double>& input(std::vector<double> values) { return add(doubles_, "", values, false, {}); }
  // An array the op overwrites: NaN (-1 for ids) until then, so an element it skips fails.
  Array<float>& output(const char* name, size_t n, Tolerance tol) {
    return add(floats_, name, nan_vector(n), true, tol);
  }
  Array<int>& int_output(const char* name, size_t n) {
    return add(ints_, name, std::vector<int>(n, -1), true, {});
  }
  // An array the op adds to or updates in place: random before the call.
  Array<float>& updated(const char* name, size_t n, Tolerance tol, float lo = -1.0f,
                        float hi = 1.0f) {
    return add(floats_, name, random_vector(n, next_seed(), lo, hi), true, tol);
  }

  // op(backend arrays and scalars...), reference(reference arrays and scalars...), then compare.
  template <typename Op, typename Reference, typename... Args>
  void run(Op op, Reference reference, Args&&... args) {
    op(on_backend(args)...);
    reference(on_reference(args)...);
    for (const auto& a : floats_) a.expect_matches();
    for (const auto& a : ints_) a.expect_matches();
  }

  uint64_t next_seed() { return seed_++; }

 private:
  template <typename T>
  static T* on_backend(Array<T>& a) { return a.backend.ptr; }
  template <typename T>
  static auto* on_reference(Array<T>& a) { return a.reference.data(); }
  template <typename S>
  static S on_backend(const S& scalar) { return scalar; }
  template <typename S>
  static S on_reference(const S& scalar) { return scalar; }

  template <typename T>
  Array<T>& add(std::deque<Array<T>>& arrays, const char* name, const std::vector<T>& start,
                bool written, Tolerance tol) {
    return arrays.emplace_back(ops_, name, start, written, tol);
  }

  const Ops& ops_;
  uint64_t seed_;
  std::deque<Array<float>> floats_;
  std::deque<Array<int>> ints_;
  std::deque<Array<double>> doubles_;
};

// The graph ops together (kernels/ops.h): capture a residual add, launch it twice over changed
// inputs, and check that a host copy inside a capture is refused.
inline void expect_graph_replays(const Ops& ops, OpCall& call) {
  const size_t n = 777;
  std::vector<float> a = random_vector(n, call.next_seed()), b = random_vector(n, call.next_seed());
  BackendArray<float> da(ops, a), db(ops, b), out(ops, nan_vector(n));
  ops.capture_begin();
  ops.residual_forward(out.ptr, da.ptr, db.ptr, n);
  void* graph = ops.capture_end();
  std::vector<float> before = out.download();
  EXPECT_TRUE(std::isnan(before[0]) && std::isnan(before[n - 1])) << "the capture ran the op";
  for (int launch = 0; launch < 2; launch++) {
    ASSERT_TRUE(ops.graph_launch(graph));
    std::vector<float> got = out.download(), want(n);
    for (size_t i = 0; i < n; i++) want[i] = a[i] + b[i];
    EXPECT_EQ(got, want) << "launch " << launch;
    a = random_vector(n, call.next_seed());  // the graph reads the memory, not the capture's copy
    da.upload(a);
  }
  ops.graph_destroy(graph);
  ops.capture_begin();
  std::vector<float> host(n);
  EXPECT_THROW(ops.to_host(host.data(), out.ptr, n * sizeof(float)), Error);
  EXPECT_THROW(ops.capture_end(), Error);  // the refused copy invalidated the capture
  EXPECT_EQ(db.download(), b);            // and the backend works on afterwards
}

class AllBackendOps : public BackendTest {
 protected:
  void check(OpId op) {
    if (!supports(*ops, op))
      GTEST_SKIP() << "backend '" << GetParam().name << "' has no " << op_name(op) << " op";
    OpCall call(*ops, 1000 + 100 * (uint64_t)op);
    const Backend& backend = GetParam();
    switch (op) {
      // The memory functions together: alloc zero-fills, copies round-trip, zero clears a range.
      case OpId::alloc:
      case OpId::free:
      case OpId::zero:
      case OpId::copy:
      case OpId::to_host:
      case OpId::from_host:
      case OpId::synchronize:
        return expect_memory_round_trip(*ops);
      // An upload that does not wait: the bytes are there once the backend has synchronised.
      case OpId::from_host_async: {
        std::vector<float> values = random_vector(1031, call.next_seed());
        BackendArray<float> dst(*ops, values.size());
        ops->from_host_async(dst, values.data(), values.size() * sizeof(float));
        ops->synchronize();
        EXPECT_EQ(dst.download(), values);
        return;
      }
      // A captured residual add: nothing runs at capture; each launch replays it on the memory's
      // contents at that time; a host copy inside a capture fails and ends it.
      case OpId::capture_begin:
      case OpId::capture_end:
      case OpId::graph_launch:
      case OpId::graph_destroy:
        return expect_graph_replays(*ops, call);
      // Nothing to compare: a range opens and closes.
      case OpId::range_push:
      case OpId::range_pop: {
        NamedRange range(*ops, "AllBackendOps");
        return;
      }

      // B*T = 39 positions, C = 70, V = 150: repeated tokens (39 draws of 150, and one forced).
      case OpId::encoder_forward:
      case OpId::encoder_backward: {
        const int B = 3, T = 13, C = 70, V = 150;
        std::vector<int> token_ids = random_tokens(B * T, V, call.next_seed());
        token_ids[5] = token_ids[30] = token_ids[17];
        auto& tokens = call.input(token_ids);
        if (op == OpId::encoder_forward) {
          auto& out = call.output("out", (size_t)B * T * C, f32_tolerance(1));
          auto& wte = call.input((size_t)V * C);
          auto& wpe = call.input((size_t)T * C);
          return call.run(ops->encoder_forward, encoder_forward_ref<double>, out, tokens, wte,
                          wpe, B, T, C);
        }
        // A few float additions per element in another order than the double reference.
        auto& dwte = call.updated("dwte", (size_t)V * C, f32_tolerance(4));
        auto& dwpe = call.updated("dwpe", (size_t)T * C, f32_tolerance(4));
        auto& dout = call.input((size_t)B * T * C);
        return call.run(ops->encoder_backward, encoder_backward_ref<double>, dwte, dwpe, dout,
                        tokens, B, T, C);
      }

      // Inputs with a non-zero mean; backward from the forward's statistics.
      case OpId::layernorm_forward:
      case OpId::layernorm_backward: {
        const int N = 37, C = 70;
        std::vector<float> x = random_vector((size_t)N * C, call.next_seed(), 2.0f, 4.0f);
        std::vector<float> w = random_vector(C, call.next_seed());
        std::vector<float> b = random_vector(C, call.next_seed());
        auto &inp = call.input(x), &weight = call.input(w), &bias = call.input(b);
        // Row sums of C float terms against a double reference; rstd amplifies the mean's error.
        const Tolerance tol = f32_tolerance(20);
        if (op == OpId::layernorm_forward) {
          auto& out = call.output("out", (size_t)N * C, tol);
          auto& mean = call.output("mean", N, tol);
          auto& rstd = call.output("rstd", N, tol);
          return call.run(ops->layernorm_forward, layernorm_forward_ref<double>, out, mean, rstd,
                          inp, weight, bias, N, C);
        }
        std::vector<double> out((size_t)N * C), mean(N), rstd(N);
        layernorm_forward_ref<double>(out.data(), mean.data(), rstd.data(), widen(x).data(),
                                      widen(w).data(), widen(b).data(), N, C);
        auto& dinp = call.updated("dinp", (size_t)N * C, tol);
        // Sums over N rows: error grows with N.
        auto& dweight = call.updated("dweight", C, f32_tolerance(20 + N / 4));
        auto& dbias = call.updated("dbias", C, f32_tolerance(20 + N / 4));
        auto& dout = call.input((size_t)N * C);
        auto &saved_mean = call.input(narrow(mean)), &saved_rstd = call.input(narrow(rstd));
        return call.run(ops->layernorm_backward, layernorm_backward_ref<double>, dinp, dweight,
                        dbias, dout, inp, weight, saved_mean, saved_rstd, N, C);
      }

      // Dot products of C (forward), OC (dinp) or N (dweight, dbias) terms in another order.
      case OpId::matmul_forward: {
        const int N = 37, C = 70, OC = 45;
        auto& out = call.output("out", (size_t)N * OC, gemm_tolerance(backend, 2 * C));
        auto &inp = call.input((size_t)N * C), &weight = call.input((size_t)OC * C);
        auto& bias = call.input(OC);
        return call.run(ops->matmul_forward, matmul_forward_ref<double>, out, inp, weight, bias,
                        N, C, OC);
      }
      case OpId::matmul_backward: {
        const int N = 37, C = 70, OC = 45;
        // dinp is overwritten (NaN before: a backend that adds to it fails); the parameter
        // gradients accumulate (random before).
        auto& dinp = call.output("dinp", (size_t)N * C, gemm_tolerance(backend, 2 * OC));
        auto& dweight = call.updated("dweight", (size_t)OC * C, gemm_tolerance(backend, 2 * N));
        auto& dbias = call.updated("dbias", OC, f32_tolerance(2 * N));
        auto &dout = call.input((size_t)N * OC), &inp = call.input((size_t)N * C);
        auto& weight = call.input((size_t)OC * C);
        return call.run(ops->matmul_backward, matmul_backward_ref<double>, dinp, dweight, dbias,
                        dout, inp, weight, N, C, OC);
      }
      // OC = 72, a multiple of 8 as cuBLASLt's GELU epilogue needs. GELU's slope is at most 1.13.
      case OpId::matmul_gelu_forward: {
        const int N = 37, C = 18, OC = 72;
        auto& out = call.output("out", (size_t)N * OC, gemm_tolerance(backend, 4 * C));
        auto& pre_gelu = call.output("pre_gelu", (size_t)N * OC, gemm_tolerance(backend, 2 * C));
        auto &inp = call.input((size_t)N * C), &weight = call.input((size_t)OC * C);
        auto& bias = call.input(OC);
        auto matmul_then_gelu = [](double* out, double* pre, const double* inp, const double* w,
                                   const double* b, int N, int C, int OC) {
          matmul_forward_ref<double>(pre, inp, w, b, N, C, OC);
          gelu_forward_ref<double>(out, pre, (size_t)N * OC);
        };
        return call.run(ops->matmul_gelu_forward, matmul_then_gelu, out, pre_gelu, inp, weight,
                        bias, N, C, OC);
      }
      // C = 72, a multiple of 8 as cuBLASLt's DGELU epilogue needs: d_pre_gelu is the input
      // gradient (sums of OC products) times GELU' (at most 1.13); pre_gelu over GELU's curved
      // range. Overwritten d_pre_gelu, accumulated dweight and dbias.
      case OpId::matmul_gelu_backward: {
        const int N = 37, C = 72, OC = 18;
        auto& d_pre = call.output("d_pre_gelu", (size_t)N * C, gemm_tolerance(backend, 3 * OC));
        auto& dweight = call.updated("dweight", (size_t)OC * C, gemm_tolerance(backend, 2 * N));
        auto& dbias = call.updated("dbias", OC, f32_tolerance(2 * N));
        auto& dout = call.input((size_t)N * OC);
        auto& inp = call.input((size_t)N * C);
        auto& pre_gelu = call.input((size_t)N * C, -4.0f, 4.0f);
        auto& weight = call.input((size_t)OC * C);
        auto matmul_then_gelu = [](double* d_pre, double* dw, double* db, const double* dout,
                                   const double* inp, const double* pre, const double* w, int N,
                                   int C, int OC) {
          matmul_backward_ref<double>(d_pre, dw, db, dout, inp, w, N, C, OC);
          gelu_backward_ref<double>(d_pre, pre, d_pre, (size_t)N * C);
        };
        return call.run(ops->matmul_gelu_backward, matmul_then_gelu, d_pre, dweight, dbias, dout,
                        inp, pre_gelu, weight, N, C, OC);
      }

      // hs = 16 (the GPU's flash kernels), T = 37 (a ragged tile). Scores are sums of hs
      // products, probabilities sums of T exponentials. Backward from the forward's out and lse.
      case OpId::attention_forward:
      case OpId::attention_backward: {
        const int B = 2, T = 37, C = 48, NH = 3;
        const Tolerance tol = gemm_tolerance(backend, 4 * T);
        std::vector<float> qkv_values =
            random_vector((size_t)B * T * 3 * C, call.next_seed(), -2.0f, 2.0f);
        auto& qkv = call.input(qkv_values);
        if (op == OpId::attention_forward) {
          auto& out = call.output("out", (size_t)B * T * C, tol);
          auto& lse = call.output("lse", (size_t)B * NH * T, tol);
          return call.run(ops->attention_forward, attention_forward_ref<double>, out, lse, qkv, B,
                          T, C, NH);
        }
        std::vector<double> out((size_t)B * T * C), lse((size_t)B * NH * T);
        attention_forward_ref<double>(out.data(), lse.data(), widen(qkv_values).data(), B, T, C,
                                      NH);
        auto& dqkv = call.output("dqkv", qkv_values.size(), tol);  // overwritten
        auto& dout = call.input((size_t)B * T * C);
        auto &saved_out = call.input(narrow(out)), &saved_lse = call.input(narrow(lse));
        return call.run(ops->attention_backward, attention_backward_ref<double>, dqkv, dout, qkv,
                        saved_out, saved_lse, B, T, C, NH);
      }
      // A prefill of 5 tokens into slot 2 and appends at position 30 of slot 0 (slot 1 untouched).
      // The caches take the new keys and values exactly; out is a softmax-weighted sum of up to
      // max_len values.
      case OpId::attention_decode: {
        const int N = 2, Tn = 5, C = 20, NH = 4, max_len = 37, S = 3;
        auto& out = call.output("out", (size_t)N * Tn * C, f32_tolerance(4 * max_len));
        auto& k_cache = call.updated("k_cache", (size_t)S * C * max_len, {0, 0}, -2.0f, 2.0f);
        auto& v_cache = call.updated("v_cache", (size_t)S * C * max_len, {0, 0});
        auto& qkv = call.input((size_t)N * Tn * 3 * C, -2.0f, 2.0f);
        auto& slots = call.input(std::vector<int>{2, 0});
        auto& pos = call.input(std::vector<int>{0, 30});
        return call.run(ops->attention_decode, attention_decode_ref<double>, out, k_cache,
                        v_cache, qkv, slots, pos, N, Tn, C, NH, max_len);
      }

      // 1037 elements: several blocks, the last partial. tanhf and tanh differ by a few ulps,
      // amplified near GELU's zero.
      case OpId::gelu_forward: {
        const size_t n = 1037;
        auto& out = call.output("out", n, f32_tolerance(4));
        auto& inp = call.input(n, -4.0f, 4.0f);
        return call.run(ops->gelu_forward, gelu_forward_ref<double>, out, inp, n);
      }
      case OpId::gelu_backward: {
        const size_t n = 1037;
        auto& dinp = call.output("dinp", n, f32_tolerance(4));  // overwritten
        auto &inp = call.input(n, -4.0f, 4.0f), &dout = call.input(n);
        return call.run(ops->gelu_backward, gelu_backward_ref<double>, dinp, inp, dout, n);
      }
      case OpId::residual_forward: {
        const size_t n = 1037;
        auto& out = call.output("out", n, f32_tolerance(1));
        auto &a = call.input(n), &b = call.input(n);
        return call.run(ops->residual_forward, residual_forward_ref<double>, out, a, b, n);
      }
      case OpId::residual_backward: {
        const size_t n = 1037;
        auto& da = call.updated("da", n, f32_tolerance(1));
        auto& db = call.updated("db", n, f32_tolerance(1));
        auto& dout = call.input(n);
        return call.run(ops->residual_backward, residual_backward_ref<double>, da, db, dout, n);
      }
      // residual_forward then layernorm_forward in one op; the sum has a non-zero mean. The
      // reference normalises the exact sum, the backend its float rounding: LayerNorm's slack.
      case OpId::residual_layernorm_forward: {
        const int N = 37, C = 70;
        const Tolerance tol = f32_tolerance(20);
        auto& residual_out = call.output("residual_out", (size_t)N * C, f32_tolerance(1));
        auto& ln_out = call.output("ln_out", (size_t)N * C, tol);
        auto& mean = call.output("mean", N, tol);
        auto& rstd = call.output("rstd", N, tol);
        auto &a = call.input((size_t)N * C, 1.0f, 3.0f), &b = call.input((size_t)N * C);
        auto &weight = call.input(C), &bias = call.input(C);
        auto add_then_layernorm = [](double* res, double* ln, double* m, double* s, const double* a,
                                     const double* b, const double* w, const double* bias, int N,
                                     int C) {
          residual_forward_ref<double>(res, a, b, (size_t)N * C);
          layernorm_forward_ref<double>(ln, m, s, res, w, bias, N, C);
        };
        return call.run(ops->residual_layernorm_forward, add_then_layernorm, residual_out, ln_out,
                        mean, rstd, a, b, weight, bias, N, C);
      }

      // V = 1037 real columns of 1100; every third row ignored, the last real column a target,
      // weights of both signs. Log-sum-exps and sums over V terms in float.
      case OpId::classifier_forward_backward: {
        const int N = 7, V = 1037, Vp = 1100;
        const Tolerance tol = f32_tolerance(50);
        auto& logits = call.updated("logits", (size_t)N * Vp, tol, -6.0f, 6.0f);
        auto& losses = call.output("losses", N, tol);
        auto& entropy = call.output("entropy", N, tol);
        std::vector<int> target_ids = random_tokens(N, V, call.next_seed());
        for (int i = 0; i < N; i += 3) target_ids[i] = -1;
        target_ids[1] = V - 1;
        auto& targets = call.input(target_ids);
        auto& weights = call.input(N, -2.0f, 2.0f);
        return call.run(ops->classifier_forward_backward, classifier_forward_backward_ref<double>,
                        logits, losses, entropy, targets, weights, N, V, Vp, true);
      }

      // Dots of C terms (values), sums of N terms (dw, db).
      case OpId::value_head_forward: {
        const int N = 37, C = 70;
        auto& values = call.output("values", N, f32_tolerance(2 * C));
        auto &h = call.input((size_t)N * C), &w = call.input(C), &b = call.input(1);
        return call.run(ops->value_head_forward, value_head_forward_ref<double>, values, h, w, b,
                        N, C);
      }
      case OpId::value_head_backward: {
        const int N = 37, C = 70;
        auto& dh = call.updated("dh", (size_t)N * C, f32_tolerance(2));
        auto& dw = call.updated("dw", C, f32_tolerance(2 * N));
        auto& db = call.updated("db", 1, f32_tolerance(2 * N));
        auto &dvalues = call.input(N), &h = call.input((size_t)N * C), &w = call.input(C);
        return call.run(ops->value_head_backward, value_head_backward_ref<double>, dh, dw, db,
                        dvalues, h, w, N, C);
      }

      // Top-k (40) and nucleus (0.9) draws over the first 990 of 1000 real columns of 1024. The
      // ids must match exactly (both sides sum in double); the log-probability is a log-sum-exp
      // over V terms. The reference takes float logits and log-probabilities.
      case OpId::sample_tokens: {
        const int N = 37, n_draw = 990, V = 1000, Vp = 1024;
        auto& ids = call.int_output("ids", N);
        auto& logprobs = call.output("logprobs", N, f32_tolerance(8));
        auto& logits = call.input((size_t)N * Vp, -2.0f, 2.0f);
        std::vector<double> uniform_values(N);
        Rng rng(call.next_seed());
        for (double& u : uniform_values) u = rng.uniform_double();
        auto& uniforms = call.input(uniform_values);
        auto sample_in_float = [](int* ids, double* logprobs, const double* logits,
                                  const double* uniforms, int N, int n_draw, int V, int Vp,
                                  float temperature, int top_k, float top_p) {
          std::vector<float> logits_f(logits, logits + (size_t)N * Vp), logprobs_f(N);
          sample_tokens_ref(ids, logprobs_f.data(), logits_f.data(), uniforms, N, n_draw, V, Vp,
                            temperature, top_k, top_p);
          std::copy(logprobs_f.begin(), logprobs_f.end(), logprobs);
        };
        return call.run(ops->sample_tokens, sample_in_float, ids, logprobs, logits, uniforms, N,
                        n_draw, V, Vp, 1.0f, 40, 0.9f);
      }

      // Both sides accumulate in double, in different orders; the result stays on the backend.
      case OpId::sum_squares: {
        const size_t n = 100003;
        std::vector<float> g = random_vector(n, call.next_seed());
        auto& grads = call.input(g);
        BackendArray<double> sumsq(*ops, std::vector<double>{std::nan("")});
        ops->sum_squares(sumsq, grads.backend, n);
        const double want = sum_of_squares_ref<double>(widen(g).data(), n);
        EXPECT_NEAR(sumsq.download()[0], want, 1e-12 * want);
        return;
      }
      // Added to a running total, rows with target -1 left out; with weights and without.
      case OpId::loss_sum: {
        const int N = 1001;
        std::vector<float> losses = random_vector(N, call.next_seed(), 0.0f, 5.0f);
        std::vector<float> weights = random_vector(N, call.next_seed(), -1.0f, 1.0f);
        std::vector<int> targets = random_tokens(N, 50, call.next_seed());
        for (int i = 0; i < N; i += 7) targets[i] = -1;
        auto& l = call.input(losses);
        auto& w = call.input(weights);
        auto& t = call.input(targets);
        BackendArray<double> total(*ops, std::vector<double>{0.375});
        double want = 0.375;
        loss_sum_ref<double>(&want, widen(losses).data(), widen(weights).data(), targets.data(), N);
        ops->loss_sum(total, l.backend, w.backend, t.backend, N);
        EXPECT_NEAR(total.download()[0], want, 1e-12 * std::fabs(want));
        loss_sum_ref<double>(&want, widen(losses).data(), nullptr, targets.data(), N);
        ops->loss_sum(total, l.backend, nullptr, t.backend, N);
        EXPECT_NEAR(total.download()[0], want, 1e-12 * std::fabs(want));
        return;
      }
      // Step 3 (bias corrections below 1), three tensors in one call: each with its own place in
      // params, m/v and the compute copy (gaps between them untouched), a decaying one, one at
      // the value head's rate; the gradient scaled and clipped by a device norm of 4 to 1.5. A
      // handful of float operations per element; m/sqrt(v) amplifies v's rounding. Then a
      // non-finite norm: nothing is written.
      case OpId::adamw_update: {
        const size_t n = 1100;
        auto& params = call.updated("params", n, f32_tolerance(10));
        auto& m = call.updated("m", n, f32_tolerance(10), -0.1f, 0.1f);
        auto& v = call.updated("v", n, f32_tolerance(10), 0.01f, 0.1f);  // positive
        auto& grads = call.input(n);
        // The compute copy, written in these float tables as the updated params exactly.
        auto& copy = call.updated("params_compute", n, f32_tolerance(10));
        auto& sumsq = call.input(std::vector<double>{16.0});
        static const AdamWTensor tensor_list[3] = {{0, 40, 500, 437, true, false, 1u},
                                                   {450, 500, 0, 300, false, false, 2u},
                                                   {800, 850, 960, 97, false, true, 3u}};
        const AdamWTensor* tensors = tensor_list;
        AdamWStep step = adamw_step_of(1e-2f, 0.9f, 0.95f, 1e-8f, 0.1f, 0.5f, 3, 11u);
        step.value_head_lr = 3e-3f;
        step.max_grad_norm = 1.5f;
        call.run(ops->adamw_update, adamw_update_ref<double>, params, grads, m, v, copy, tensors, 3,
                 step, sumsq);
        auto& not_finite = call.input(std::vector<double>{INFINITY});
        return call.run(ops->adamw_update, adamw_update_ref<double>, params, grads, m, v, copy,
                        tensors, 3, step, not_finite);
      }
    }
    ADD_FAILURE() << "op '" << op_name(op) << "' is in kernels/ops.h's list but has no case in "
                  << __FILE__;
  }
};

// One test per op of the list.
#define CHAMBER_OP_TEST(name, ...) \
  TEST_P(AllBackendOps, name) { check(OpId::name); }
CHAMBER_OPS(CHAMBER_OP_TEST)
#undef CHAMBER_OP_TEST

}  // namespace chamber::testing
