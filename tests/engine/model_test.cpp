// Whole-model checks on the reference backend: gradients against finite differences, the loss at
// initialisation, overfitting one batch, the value head and its learning rate, and shapes/arena
// planning.
#include <gtest/gtest.h>

#include <cmath>

#include "engine/model.h"
#include "kernels/adamw.h"
#include "tests/test_util.h"

namespace chamber {
namespace {

ModelConfig tiny_config(bool tied = true) {
  ModelConfig c;
  c.vocab_size = 37;   // padded to 64: exercises the padding columns
  c.n_layer = 2;
  c.n_head = 2;
  c.n_embd = 12;
  c.context_length = 9;
  c.tied_embeddings = tied;
  c.value_head = true;
  model_config_finalize(c);
  return c;
}

struct Batch {
  int B = 2, T = 7;
  std::vector<int> tokens, targets;
  std::vector<float> weights, dvalues;
};

Batch make_batch(const ModelConfig& c, uint64_t seed) {
  Batch b;
  b.tokens = testing::random_tokens(b.B * b.T, c.vocab_size, seed);
  b.targets = testing::random_tokens(b.B * b.T, c.vocab_size, seed + 1);
  b.targets[3] = -1;  // a masked position
  b.weights = testing::random_vector(b.B * b.T, seed + 2, 0.2f, 1.0f);
  b.dvalues = testing::random_vector(b.B * b.T, seed + 3, -1.0f, 1.0f);
  return b;
}

// loss(params) = sum_i w_i * ce_i + sum_i dvalues_i * value_i  (so the value head is checked too)
double full_loss(GPT& m, const Batch& b) {
  gpt_forward(m, b.tokens.data(), b.B, b.T);
  double loss = gpt_classifier(m, b.targets.data(), b.weights.data(), false);
  std::vector<float> values(b.B * b.T);
  gpt_copy_values(m, values.data());
  for (size_t i = 0; i < values.size(); i++) loss += (double)b.dvalues[i] * values[i];
  return loss;
}

void check_gradients(bool tied) {
  ModelConfig c = tiny_config(tied);
  GPT m;
  gpt_create(m, c, reference_ops(), 2, 7, true);
  gpt_init_parameters(m, 7);
  // Larger random weights than the GPT-2 init so every path carries a visible gradient; the value
  // head starts at zero in real runs, here it gets random weights to be checked.
  std::vector<float> p = gpt_parameters_to_host(m);
  Rng rng(3);
  for (auto& x : p) x += 0.3f * rng.normal();
  gpt_parameters_from_host(m, p);
  Batch b = make_batch(c, 11);

  gpt_zero_grad(m);
  gpt_forward(m, b.tokens.data(), b.B, b.T);
  gpt_classifier(m, b.targets.data(), b.weights.data(), true);
  gpt_backward(m, b.dvalues.data());
  std::vector<float> grads(m.grad_arena.bytes / 4);
  reference_ops().to_host(grads.data(), m.grad_arena.base, m.grad_arena.bytes);

  // Central differences in float32 on a sample of entries of every parameter tensor; the step and
  // tolerance are sized for float32 rounding of a loss of order 10.
  const float h = 1e-2f;
  int checked = 0;
  for (const auto& slot : m.param_table) {
    size_t n = slot.numel();
    size_t base = slot.offset / 4;
    for (int k = 0; k < 6; k++) {
      size_t i = base + (size_t)rng.below(n);
      if (slot.name == "wte" && (i - base) / c.n_embd >= (size_t)c.vocab_size) continue;  // padding
      float saved = p[i];
      p[i] = saved + h;
      gpt_parameters_from_host(m, p);
      double up = full_loss(m, b);
      p[i] = saved - h;
      gpt_parameters_from_host(m, p);
      double down = full_loss(m, b);
      p[i] = saved;
      double fd = (up - down) / (2 * h);
      double an = grads[i];
      EXPECT_NEAR(an, fd, 2e-3 + 2e-2 * std::fabs(fd)) << slot.name << " entry " << i - base;
      checked++;
    }
  }
  gpt_parameters_from_host(m, p);
  EXPECT_GT(checked, 60);
  gpt_destroy(m);
}

TEST(Model, GradientsMatchFiniteDifferencesTied) { check_gradients(true); }
TEST(Model, GradientsMatchFiniteDifferencesUntied) { check_gradients(false); }

TEST(Model, InitialLossIsNearLogVocab) {
  ModelConfig c;
  c.vocab_size = 500;
  c.n_layer = 2;
  c.n_head = 4;
  c.n_embd = 32;
  c.context_length = 32;
  model_config_finalize(c);
  GPT m;
  gpt_create(m, c, reference_ops(), 4, 32, false);
  gpt_init_parameters(m, 1);
  auto tokens = testing::random_tokens(4 * 32, c.vocab_size, 5);
  auto targets = testing::random_tokens(4 * 32, c.vocab_size, 6);
  gpt_forward(m, tokens.data(), 4, 32);
  double mean = gpt_classifier(m, targets.data(), nullptr, false) / (4 * 32);
  EXPECT_NEAR(mean, std::log(500.0), 0.1);
  gpt_destroy(m);
}

TEST(Model, OverfitsOneBatch) {
  ModelConfig c = tiny_config();
  GPT m;
  gpt_create(m, c, reference_ops(), 2, 7, true);
  gpt_init_parameters(m, 2);
  Batch b = make_batch(c, 21);
  std::vector<float> w(b.B * b.T, 1.0f / (b.B * b.T));
  double first = 0, last = 0;
  for (int step = 0; step < 300; step++) {
    gpt_zero_grad(m);
    gpt_forward(m, b.tokens.data(), b.B, b.T);
    double loss = gpt_classifier(m, b.targets.data(), w.data(), true);
    gpt_backward(m);
    float scale = clip_grad_scale(gpt_grad_norm(m), 1.0f);
    gpt_adamw_step(m, {.lr = 1e-2f, .beta1 = 0.9f, .beta2 = 0.95f, .eps = 1e-8f,
                       .weight_decay = 0.0f, .grad_scale = scale});
    if (step == 0) first = loss;
    last = loss;
  }
  EXPECT_GT(first, 3.0);
  EXPECT_LT(last, 0.05);
  gpt_destroy(m);
}

// RL's optimiser step gives the value head its own learning rate (the critic's) and updates every
// other tensor exactly as pretraining's step does.
TEST(Model, AdamWStepGivesTheValueHeadItsOwnRate) {
  ModelConfig c = tiny_config();
  GPT plain, critic;
  for (GPT* m : {&plain, &critic}) {
    gpt_create(*m, c, reference_ops(), 1, 4, true);
    gpt_init_parameters(*m, 11);
    std::vector<float> grads(m->grad_arena.bytes / sizeof(float), 0.5f);
    m->ops->from_host(m->grad_arena.base, grads.data(), m->grad_arena.bytes);
  }
  std::vector<float> before = gpt_parameters_to_host(plain);
  AdamWSettings s{.lr = 1e-2f, .beta1 = 0.9f, .beta2 = 0.95f, .eps = 1e-8f, .weight_decay = 0.1f};
  gpt_adamw_step(plain, s);
  s.value_head_lr = 0.0f;
  gpt_adamw_step(critic, s);
  std::vector<float> p = gpt_parameters_to_host(plain), q = gpt_parameters_to_host(critic);
  for (const auto& slot : plain.param_table) {
    auto part = [&](const std::vector<float>& v) {
      auto first = v.begin() + slot.offset / sizeof(float);
      return std::vector<float>(first, first + slot.numel());
    };
    if (slot.name == "value_w" || slot.name == "value_b") {
      EXPECT_EQ(part(q), part(before)) << slot.name;
      EXPECT_NE(part(p), part(before)) << slot.name;
    } else {
      EXPECT_EQ(part(q), part(p)) << slot.name;
      EXPECT_NE(part(p), part(before)) << slot.name;
    }
  }
  gpt_destroy(plain);
  gpt_destroy(critic);
}

TEST(Model, SmallerBatchReusesTheArena) {
  ModelConfig c = tiny_config();
  GPT m;
  gpt_create(m, c, reference_ops(), 2, 7, false);
  gpt_init_parameters(m, 3);
  auto tokens = testing::random_tokens(7, c.vocab_size, 9);
  // One row alone gives the same logits as that row inside a batch of two.
  gpt_forward(m, tokens.data(), 1, 7);
  std::vector<float> alone(c.vocab_size), batched(c.vocab_size);
  gpt_copy_logits_row(m, 0, 6, alone.data());
  std::vector<int> two(tokens);
  auto other = testing::random_tokens(7, c.vocab_size, 10);
  two.insert(two.end(), other.begin(), other.end());
  gpt_forward(m, two.data(), 2, 7);
  gpt_copy_logits_row(m, 0, 6, batched.data());
  EXPECT_ALL_CLOSE(alone, batched, 1e-5, 1e-5);
  EXPECT_THROW(gpt_forward(m, two.data(), 3, 7), Error);
  gpt_destroy(m);
}

TEST(Model, RejectsTokensOutsideTheVocabulary) {
  ModelConfig c = tiny_config();
  GPT m;
  gpt_create(m, c, reference_ops(), 1, 4, false);
  std::vector<int> tokens = {1, 2, c.vocab_size, 3};
  EXPECT_THROW(gpt_forward(m, tokens.data(), 1, 4), Error);
  gpt_destroy(m);
}

TEST(Model, ArenaSizesMatchTheTables) {
  ModelConfig c = tiny_config(false);
  ArenaSizes s = gpt_arena_sizes(c, 2, 7, true);
  GPT m;
  gpt_create(m, c, reference_ops(), 2, 7, true);
  EXPECT_EQ(s.params, m.param_arena.bytes);
  EXPECT_EQ(s.grads, m.grad_arena.bytes);
  EXPECT_EQ(s.adam, m.m_arena.bytes + m.v_arena.bytes);
  EXPECT_EQ(s.acts, m.act_arena.bytes);
  EXPECT_NE(m.params.lm_head, nullptr);
  gpt_destroy(m);
}

TEST(Model, ConfigValidation) {
  ModelConfig c;
  c.vocab_size = 10;
  c.n_embd = 10;
  c.n_head = 3;
  EXPECT_THROW(model_config_finalize(c), Error);
  c.n_head = 2;
  model_config_finalize(c);
  EXPECT_EQ(c.padded_vocab, 64);
}

TEST(Model, InitialisationIsDeterministic) {
  ModelConfig c = tiny_config();
  GPT a, b;
  gpt_create(a, c, reference_ops(), 1, 2, false);
  gpt_create(b, c, reference_ops(), 1, 2, false);
  gpt_init_parameters(a, 42);
  gpt_init_parameters(b, 42);
  EXPECT_EQ(gpt_parameters_to_host(a), gpt_parameters_to_host(b));
  gpt_init_parameters(b, 43);
  EXPECT_NE(gpt_parameters_to_host(a), gpt_parameters_to_host(b));
  gpt_destroy(a);
  gpt_destroy(b);
}

// A reference backend that logs its profiler ranges and has fused fc + GELU ops, forward and
// backward, and a fused residual + LayerNorm forward (all counted), to check what the model asks
// of a backend that offers them.
std::vector<std::string> range_log;
int fused_gelu_calls = 0, fused_gelu_backward_calls = 0, fused_residual_layernorm_calls = 0;
const Ops& instrumented_ops() {
  static const Ops ops = [] {
    Ops o = reference_ops();
    o.range_push = [](const char* name) { range_log.push_back(name); };
    o.range_pop = [] { range_log.push_back("pop"); };
    o.matmul_gelu_forward = [](xfloat* out, xfloat* pre, const xfloat* inp, const xfloat* w,
                               const xfloat* b, int N, int C, int OC) {
      fused_gelu_calls++;
      reference_ops().matmul_forward(pre, inp, w, b, N, C, OC);
      reference_ops().gelu_forward(out, pre, (size_t)N * OC);
    };
    o.matmul_gelu_backward = [](xfloat* d_pre, float* dw, float* db, const xfloat* dout,
                                const xfloat* inp, const xfloat* pre, const xfloat* w, int N, int C,
                                int OC) {
      fused_gelu_backward_calls++;
      reference_ops().matmul_backward(d_pre, dw, db, dout, inp, w, N, C, OC);
      reference_ops().gelu_backward(d_pre, pre, d_pre, (size_t)N * C);
    };
    o.residual_layernorm_forward = [](xfloat* residual, xfloat* ln, float* mean, float* rstd,
                                      const xfloat* a, const xfloat* b, const xfloat* w,
                                      const xfloat* bias, int N, int C) {
      fused_residual_layernorm_calls++;
      reference_ops().residual_forward(residual, a, b, (size_t)N * C);
      reference_ops().layernorm_forward(ln, mean, rstd, residual, w, bias, N, C);
    };
    return o;
  }();
  return ops;
}

TEST(Model, ProfilerRangesNameEveryPhaseAndLayer) {
  ModelConfig c = tiny_config();
  GPT m;
  gpt_create(m, c, instrumented_ops(), 2, 7, true);
  gpt_init_parameters(m, 5);
  Batch b = make_batch(c, 3);
  range_log.clear();
  gpt_zero_grad(m);
  gpt_forward(m, b.tokens.data(), b.B, b.T);
  gpt_classifier(m, b.targets.data(), b.weights.data(), true);
  gpt_backward(m, b.dvalues.data());
  gpt_grad_norm(m);
  gpt_adamw_step(m, {.lr = 1e-3f, .beta1 = 0.9f, .beta2 = 0.95f, .eps = 1e-8f, .weight_decay = 0.1f});
  std::vector<std::string> want = {
      "forward", "layer 0", "pop", "layer 1", "pop", "pop",     "classifier", "pop",
      "backward", "layer 1", "pop", "layer 0", "pop", "pop",    "grad_norm",  "pop",
      "optimizer", "pop"};
  EXPECT_EQ(range_log, want);
  gpt_destroy(m);
}

// The reference backend beside instrumented_ops() (whose fused ops are the reference's two ops)
// with the same weights: a fused op must be called once per layer and change no bit of what the
// model computes.
struct PlainAndFused {
  GPT plain, fused;
  PlainAndFused(const ModelConfig& c, bool with_training) {
    gpt_create(plain, c, reference_ops(), 2, 7, with_training);
    gpt_create(fused, c, instrumented_ops(), 2, 7, with_training);
    gpt_init_parameters(plain, 9);
    gpt_init_parameters(fused, 9);
  }
  ~PlainAndFused() {
    gpt_destroy(plain);
    gpt_destroy(fused);
  }
  // The two models' bytes of one of their arenas are equal.
  void expect_same(Arena GPT::*arena) const {
    const Arena &a = plain.*arena, &f = fused.*arena;
    std::vector<unsigned char> want(a.bytes), got(f.bytes);
    plain.ops->to_host(want.data(), a.base, want.size());
    fused.ops->to_host(got.data(), f.base, got.size());
    EXPECT_EQ(got, want);
  }
};

// The fused fc_proj + GELU backward replaces matmul_backward and gelu_backward.
TEST(Model, FusedGeluBackwardIsUsedAndMatches) {
  ModelConfig c = tiny_config();
  PlainAndFused models(c, true);
  Batch b = make_batch(c, 4);
  fused_gelu_backward_calls = 0;
  for (GPT* m : {&models.plain, &models.fused}) {
    gpt_zero_grad(*m);
    gpt_forward(*m, b.tokens.data(), b.B, b.T);
    gpt_classifier(*m, b.targets.data(), b.weights.data(), true);
    gpt_backward(*m, b.dvalues.data());
  }
  EXPECT_EQ(fused_gelu_backward_calls, c.n_layer);
  models.expect_same(&GPT::grad_arena);
}

// The fused fc + GELU forward replaces matmul_forward and gelu_forward; the fused residual +
// LayerNorm each block's two adds and the LayerNorms that read them (ln2, then the next block's
// ln1 or ln_f): twice per layer (the kernels' own fused ops are checked the same way in
// step_simt.cpp and step_gpu.cpp).
TEST(Model, FusedForwardOpsAreUsedAndMatch) {
  ModelConfig c = tiny_config();
  PlainAndFused models(c, false);
  Batch b = make_batch(c, 4);
  fused_gelu_calls = 0;
  fused_residual_layernorm_calls = 0;
  for (GPT* m : {&models.plain, &models.fused}) gpt_forward(*m, b.tokens.data(), b.B, b.T);
  EXPECT_EQ(fused_gelu_calls, c.n_layer);
  EXPECT_EQ(fused_residual_layernorm_calls, 2 * c.n_layer);
  models.expect_same(&GPT::act_arena);
}

}  // namespace
}  // namespace chamber
