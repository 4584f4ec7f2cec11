// Evaluation metrics and the eval loop: pass@k against brute-force enumeration of k-subsets,
// majority vote rules, style shares, strict config reading, and evaluate_set end to end on a tiny
// random model (every generation graded and written, results independent of the batch size).
#include <gtest/gtest.h>

#include <functional>

#include "data/grader.h"
#include "engine/model.h"
#include "tests/test_util.h"
#include "data/mathworld.h"
#include "train/eval.h"
#include "train/rl.h"

namespace chamber {
namespace {

// Fraction of k-subsets of n samples (c of them correct) that contain a correct one.
double pass_at_k_brute_force(int n, int c, int k) {
  int64_t hit = 0, total = 0;
  std::function<void(int, int, bool)> pick = [&](int next, int left, bool any) {
    if (left == 0) { total++; hit += any; return; }
    for (int i = next; i <= n - left; i++) pick(i + 1, left - 1, any || i < c);
  };
  pick(0, k, false);
  return (double)hit / (double)total;
}

TEST(Eval, PassAtKMatchesSubsetEnumeration) {
  for (int n : {1, 2, 5, 8, 10})
    for (int c = 0; c <= n; c++)
      for (int k = 1; k <= n; k++)
        EXPECT_NEAR(pass_at_k(n, c, k), pass_at_k_brute_force(n, c, k), 1e-12) << n << " " << c << " " << k;
  // Large n stays finite and in [0, 1] (the product form never forms a huge binomial).
  double v = pass_at_k(1000, 3, 64);
  EXPECT_GT(v, 0.0);
  EXPECT_LT(v, 1.0);
}

TEST(Eval, MajorityVote) {
  EXPECT_TRUE(majority_correct({"5", "3", "5"}, {true, false, true}));
  EXPECT_FALSE(majority_correct({"3", "5", "3"}, {false, true, false}));
  EXPECT_TRUE(majority_correct({"5", "3"}, {true, false}));          // tie: first seen wins
  EXPECT_FALSE(majority_correct({"3", "5"}, {false, true}));
  EXPECT_TRUE(majority_correct({"", "", "5"}, {false, false, true})); // no answer does not vote
  EXPECT_FALSE(majority_correct({"", ""}, {false, false}));
  EXPECT_FALSE(majority_correct({}, {}));
}

TEST(Eval, StyleShares) {
  std::map<std::string, StyleStats> s = {{"tinygsm", {6, 3}}, {"text", {2, 0}}};
  nlohmann::json j = style_json(s);
  EXPECT_DOUBLE_EQ(j["tinygsm"]["share"].get<double>(), 0.75);
  EXPECT_DOUBLE_EQ(j["tinygsm"]["accuracy"].get<double>(), 0.5);
  EXPECT_DOUBLE_EQ(j["text"]["share"].get<double>(), 0.25);
  EXPECT_EQ(j["omi1"]["count"].get<int>(), 0);
  EXPECT_DOUBLE_EQ(j["omi1"]["accuracy"].get<double>(), 0.0);
}

EvalConfig config_from(const std::string& yaml) {
  YAML::Node root = YAML::Load(yaml);
  return read_eval_config(yaml_root(root, "test.yaml"));
}

TEST(Eval, ConfigIsStrict) {
  EvalConfig c = config_from("{sets: [synthetic:easy], count: 5, n_samples: 4, k: [1, 2, 4], temperature: 1.0}");
  EXPECT_EQ(c.sets, std::vector<std::string>({"synthetic:easy"}));
  EXPECT_EQ(c.k, std::vector<int>({1, 2, 4}));
  EXPECT_THROW(config_from("{n_sample: 4}"), Error);                 // typo
  EXPECT_THROW(config_from("{n_samples: 4, k: [8]}"), Error);        // k > n
  EXPECT_THROW(config_from("{k: [1.5]}"), Error);
  EXPECT_THROW(config_from("{top_p: 0}"), Error);
  EXPECT_THROW(config_from("{temperature: 0}"), Error);              // samples need T > 0
  EXPECT_NO_THROW(config_from("{temperature: 0, n_samples: 0, k: []}"));
  try {
    config_from("{batch: 4}");
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("batch"), std::string::npos) << e.what();
  }
}

TEST(Eval, LoadsSyntheticSets) {
  auto a = load_eval_set("synthetic:easy", 5, 1);
  ASSERT_EQ(a.size(), 5u);
  EXPECT_EQ(a[0].id, "synthetic:easy#0");
  EXPECT_EQ(a[0].prompt.substr(a[0].prompt.size() - 2), "\n\n");
  EXPECT_FALSE(a[0].gold.empty());
  EXPECT_EQ(load_eval_set("synthetic:easy", 5, 1)[3].prompt, a[3].prompt);  // deterministic
  EXPECT_THROW(load_eval_set("synthetic:nope", 5, 1), Error);
  EXPECT_THROW(load_eval_set("gsm8k:/no/such/file.jsonl", 5, 1), Error);
}

struct TinyWorld {
  Tokenizer tok;
  GPT model;
  TinyWorld() {
    tok = tokenizer_train({"What is 2 plus 3?\n\nThe answer is 5.", "def simple_math_problem():\n  return 4"}, 300);
    ModelConfig cfg = model_config_of(tok.vocab_size(), 2, 2, 32, 48);
    gpt_create(model, cfg, reference_ops(), 1, 1, false);
    gpt_init_parameters(model, 3);
  }
  ~TinyWorld() { gpt_destroy(model); }
};

// Every generation of a set is kept in memory: a set asking for more is refused before the first.
TEST(Eval, GenerationsBeyondTheLimitAreRefused) {
  TinyWorld w;
  std::vector<EvalProblem> problems(3, {"p#0", "What is 4?\n\n", "4"});
  EvalConfig cfg;
  cfg.n_samples = 1'000'000;
  cfg.k = {1};
  std::string msg = testing::error_of([&] { evaluate_set(w.model, w.tok, "p", problems, cfg, nullptr); });
  EXPECT_NE(msg.find("eval set 'p': 3 problems x 1000001 generations each is 3000003, more than 2000000"),
            std::string::npos) << msg;
}

TEST(Eval, EvaluateSetEndToEnd) {
  TinyWorld w;
  std::vector<EvalProblem> problems = {{"p#0", "What is 2 plus 3?\n\n", "5"},
                                       {"p#1", "What is 4?\n\n", "4"},
                                       {"p#2", std::string(200, 'x'), "1"}};  // longer than the context
  EvalConfig cfg;
  cfg.n_samples = 3;
  cfg.k = {1, 3};
  cfg.max_new_tokens = 10;
  cfg.temperature = 1.0f;
  cfg.batch_size = 2;
  std::vector<EvalGeneration> gens;
  EvalSetResult r = evaluate_set(w.model, w.tok, "p", problems, cfg, &gens);
  EXPECT_EQ(r.problems, 3);
  EXPECT_EQ(r.too_long, 1);
  ASSERT_EQ(gens.size(), 3u * (1 + 3));
  int64_t style_total = 0;
  for (const auto& [label, s] : r.sample_styles) style_total += s.count;
  EXPECT_EQ(style_total, 9);
  for (const auto& g : gens) {
    EXPECT_FALSE(g.label.empty());
    if (g.id == "p#2") {
      EXPECT_EQ(g.finish_reason, "too_long");
      EXPECT_FALSE(g.correct);
    } else {
      EXPECT_GT(g.num_tokens, 0);
      EXPECT_LT(g.logprob_sum, 0.0);
      EXPECT_LE(g.num_tokens, 10);
    }
    nlohmann::ordered_json j = generation_json(g);
    for (const char* key : {"id", "prompt", "completion", "label", "answer", "correct", "logprob_sum"})
      EXPECT_TRUE(j.contains(key)) << key;
  }
  EXPECT_LE(r.pass_at[1], r.pass_at[3]);
  nlohmann::json j = eval_result_json(r);
  EXPECT_TRUE(j.contains("pass@3"));
  EXPECT_TRUE(j.contains("maj@3"));
  EXPECT_TRUE(j.contains("styles_greedy"));

  // The same seed with another batch size gives the same generations.
  cfg.batch_size = 7;
  std::vector<EvalGeneration> again;
  evaluate_set(w.model, w.tok, "p", problems, cfg, &again);
  ASSERT_EQ(again.size(), gens.size());
  for (size_t i = 0; i < gens.size(); i++) EXPECT_EQ(again[i].completion, gens[i].completion) << i;
}

// Evaluation prompts the model as RL's rollouts do: the end-of-text token that precedes every
// pretraining document, then the question and its blank line as a document holds them.
TEST(Eval, PromptsStartAsPretrainingDocumentsDo) {
  TinyWorld w;
  MathProblem p = mathworld_problem("test", 4, 1);
  std::vector<int> ids = eval_prompt_tokens(w.tok, p.prompt);
  ASSERT_GE(ids.size(), 2u);
  EXPECT_EQ(ids[0], w.tok.eot_id);
  EXPECT_EQ(tokenizer_decode(w.tok, ids.data() + 1, ids.size() - 1), p.prompt);
  RLTask task = math_rl_task("test", 1, 0, 0, 0, w.tok);
  EXPECT_EQ(task.prompts(4, 1)[0].tokens, ids);
}

}  // namespace
}  // namespace chamber
