// The math world: determinism, disjoint splits, difficulty ranges, and the central promise that
// every style states the same answer: on 10,000 problems each rendering grades correct, the code
// styles through the interpreter, and omi1's shown output is what the interpreter prints.
#include <gtest/gtest.h>

#include <set>

#include "data/grader.h"
#include "data/interpreter.h"
#include "data/mathworld.h"
#include "data/mathworld_templates.h"
#include "util/util.h"

namespace chamber {
namespace {

TEST(MathWorld, EnoughTemplates) { EXPECT_GE(mathworld::math_template_count(), 30); }

TEST(MathWorld, DeterministicFromSeed) {
  MathProblem a = mathworld_problem("train", 17, 5), b = mathworld_problem("train", 17, 5);
  EXPECT_EQ(a.question, b.question);
  EXPECT_EQ(a.answer, b.answer);
  EXPECT_EQ(mathworld_solution(a, "omi1"), mathworld_solution(b, "omi1"));
  int differ = 0;
  for (int i = 0; i < 20; i++) differ += mathworld_problem("train", i, 5).question != mathworld_problem("train", i, 6).question;
  EXPECT_GE(differ, 18);
}

TEST(MathWorld, SplitsAreDisjoint) {
  std::set<uint64_t> train_ids;
  std::set<std::string> train_questions;
  for (const MathProblem& p : mathworld_generate("train", 3000, 1)) {
    train_ids.insert(p.id);
    train_questions.insert(p.question);
  }
  std::set<uint64_t> rl_ids;
  for (const char* split : {"rl", "test", "easy", "hard", "longer"}) {
    for (const MathProblem& p : mathworld_generate(split, 1000, 1)) {
      EXPECT_EQ(train_ids.count(p.id), 0u) << split << ": " << p.question;
      EXPECT_EQ(train_questions.count(p.question), 0u) << split << ": " << p.question;
      if (std::string(split) == "rl" || std::string(split) == "easy") rl_ids.insert(p.id);
      if (std::string(split) == "test" || std::string(split) == "hard" || std::string(split) == "longer") {
        EXPECT_EQ(rl_ids.count(p.id), 0u);
      }
    }
  }
}

TEST(MathWorld, DifficultyRanges) {
  // Each split's operations and number ranges; returns its largest answer.
  auto check_split = [](const char* split, int min_ops, int max_ops, bool large) {
    int64_t largest = 0;
    for (const MathProblem& p : mathworld_generate(split, 300, 2)) {
      EXPECT_GE(p.ops, min_ops) << split;
      EXPECT_LE(p.ops, max_ops) << split;
      EXPECT_EQ(p.large_numbers, large) << split;
      largest = std::max(largest, p.answer);
    }
    return largest;
  };
  const int64_t easy_max = check_split("easy", 1, 3, false);
  const int64_t hard_max = check_split("hard", 4, 8, true);
  EXPECT_GT(hard_max, easy_max);
  // `longer`: hard's number of operations with easy's number ranges (composition alone).
  EXPECT_LT(check_split("longer", 4, 8, false), hard_max);
  for (int ops = 1; ops <= 8; ops++) EXPECT_EQ(mathworld_problem("train", ops, 3, ops, ops).ops, ops);
  EXPECT_THROW(mathworld_problem("nope", 0, 1), Error);
  EXPECT_THROW(mathworld_problem("train", 0, 1, 0, 9), Error);
}

TEST(MathWorld, PaperDocumentFormat) {
  MathProblem p = mathworld_problem("rl", 3, 1);
  EXPECT_EQ(p.prompt, p.question + "\n\n");
  for (const char* style : {"tinygsm", "omi1", "omi2", "omi2_steps", "gsm8k"})
    EXPECT_EQ(mathworld_document(p, style), p.prompt + mathworld_solution(p, style));
  EXPECT_EQ(mathworld_solution(p, "tinygsm").rfind("def simple_math_problem() -> int:\n    \"\"\"\n", 0), 0u);
  EXPECT_NE(mathworld_solution(p, "omi1").find("<llm-code-output>"), std::string::npos);
  EXPECT_NE(mathworld_solution(p, "gsm8k").find("<<"), std::string::npos);
  EXPECT_NE(mathworld_solution(p, "gsm8k").find("\n#### " + std::to_string(p.answer)), std::string::npos);
  EXPECT_NE(mathworld_solution(p, "omi2").find("\\boxed{" + std::to_string(p.answer) + "}"), std::string::npos);
  std::string text = mathworld_document(p, "mathtext");
  EXPECT_EQ(text.find("\\boxed"), std::string::npos);
  EXPECT_EQ(text.find("####"), std::string::npos);
  EXPECT_NE(mathworld_solution(p, "omi2_steps").find("\\boxed{" + std::to_string(p.answer) + "}"), std::string::npos);
  EXPECT_TRUE(math_style_known("omi2_steps"));
  EXPECT_THROW(mathworld_solution(p, "latex"), Error);
  std::string short_doc = mathworld_solution(p, "tinygsm_short");
  EXPECT_EQ(short_doc.find(p.story), std::string::npos);
  EXPECT_NE(short_doc.find("    \"\"\"\n    How "), std::string::npos) << short_doc;
}

// The 10,000-problem agreement check, all difficulties.
TEST(MathWorld, EveryStyleGradesCorrect) {
  int checked = 0;
  for (int i = 0; i < 10000; i++) {
    int ops = 1 + i % 8;
    MathProblem p = mathworld_problem(i % 2 ? "train" : "test", i, 11, ops, ops);
    std::string gold = mathworld_answer_text(p);
    struct { const char* style; const char* label; bool executed; } cases[] = {
        {"tinygsm", "tinygsm", true}, {"tinygsm_short", "tinygsm", true}, {"omi1", "omi1", true}, {"omi2", "text", false},
        {"omi2_steps", "text", false}, {"gsm8k", "text", false}};
    for (const auto& c : cases) {
      std::string sol = mathworld_solution(p, c.style);
      GradeResult g = grade_completion(sol, gold);
      ASSERT_TRUE(g.correct) << c.style << " gave '" << g.answer << "' for " << gold << " (" << g.error << ")\n" << sol;
      ASSERT_EQ(g.label, c.label) << sol;
      ASSERT_EQ(g.executed, c.executed) << g.error << "\n" << sol;
    }
    // omi1 shows the interpreter's own output.
    std::string omi1 = mathworld_solution(p, "omi1");
    PyRunResult r = py_run_cells(extract_code_blocks(omi1));
    ASSERT_TRUE(r.ok) << r.error;
    size_t at = omi1.find("<llm-code-output>\n") + 18;
    ASSERT_EQ(omi1.substr(at, omi1.find("\n</llm-code-output>") - at), r.value);
    // mathtext programs print what their comment says.
    std::string text = mathworld_solution(p, "mathtext");
    if (text.find("def ") != std::string::npos) {
      PyRunResult t = py_run_cells({text});
      ASSERT_TRUE(t.ok) << t.error << "\n" << text;
      ASSERT_EQ(t.output, text.substr(text.rfind("# ") + 2) + "\n") << text;
      checked++;
    }
  }
  EXPECT_GT(checked, 1000);
}

}  // namespace
}  // namespace chamber
