// The math world: generated grade-school word problems with integer answers, each rendered in the
// solution styles of the paper's pretraining sources (README "Math world" maps style -> dataset):
//   tinygsm   `def simple_math_problem() -> int:` with the question as docstring, named variables,
//             `result = ...`, `return result`                                     (TinyGSM)
//   omi1      a sentence, code in <llm-code>, its output in <llm-code-output>, \boxed{} (OpenMathInstruct-1)
//   omi2      natural-language steps with the arithmetic written out, \boxed{}         (OpenMathInstruct-2)
//   gsm8k     steps with <<a*b=c>> calculator annotations and a final "#### N"       (GSM8K)
//   mathtext  document-style prose, arithmetic facts or a small program, no Q/A frame (FineMath / Algebraic-Stack)
// plus two proxy-scale variants: `tinygsm_short`, tinygsm whose docstring holds only the question
// sentence ("How many cups are there now?"), not the whole story: a ~1M-parameter model copies a
// 40-token docstring badly and then reads its operands from the bad copy; and `omi2_steps`, omi2
// with every multi-digit operation worked in one-digit column steps before the sentence that
// states it (mathworld_working): such a model cannot do "3 * 17 = 51" in one jump.
//
// A problem is a story: a start clause that introduces a quantity, middle clauses that each change
// it with 1-3 arithmetic operations, and an optional end clause (a unit conversion, change from a
// bill, packing into boxes) that also sets the question. The computation is one expression tree,
// so every rendering states the same numbers. Difficulty = number of operations (1..8) and the
// magnitude of the numbers. A problem is a pure function of (split, index, seed, ops range).
//
// Splits: every problem has a content hash; its bucket (hash mod 20) decides which split may use
// it, so the splits are disjoint by construction:
//   train  buckets 0-13, ops 1-4, mostly small numbers   (pretraining)
//   rl     buckets 14-16, ops 1-4, mostly small numbers  (RL prompts)
//   test   buckets 17-19, ops 1-4, mostly small numbers  (evaluation)
//   easy   buckets 14-16, ops 1-3, small numbers         (transfer study: RL on easy ...)
//   hard   buckets 17-19, ops 4-8, large numbers         (... evaluate on hard)
//   longer buckets 17-19, ops 4-8, small numbers         (... and on problems that differ from easy
//                                                         ones only by composition: more operations
//                                                         of the same kinds, longer stories)
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace chamber {

// Bumped whenever generated text changes, so cached datasets rebuild.
inline constexpr const char* kMathWorldVersion = "mathworld-1";

inline constexpr const char* kMathStyles[] = {"tinygsm", "omi1", "omi2", "gsm8k", "mathtext"};
bool math_style_known(std::string_view style);   // the five above, tinygsm_short or omi2_steps
bool math_split_known(std::string_view split);
inline constexpr const char* kMathSplitNames = "train, rl, test, easy, hard, longer";   // for messages

// One node of the computation: a named number (leaf) or an operation on two nodes.
struct MathNode {
  char op = 0;              // 0 leaf, '+', '-', '*', '/' (always exact)
  int32_t left = -1, right = -1;
  int64_t value = 0;
  std::string var;          // leaves: the Python variable name
};

// One clause's contribution to the solution text: a sentence with equation slots.
struct MathStep {
  std::string sentence;            // "{P} buys {e1} pens." with {e1}.. filled per style
  std::vector<int32_t> op_nodes;   // the operation behind {e1}, {e2}, ...
  int32_t result_node = -1;        // value after the clause
  std::string state_var;           // variable holding the running value in code renderings
  std::vector<int32_t> leaf_nodes; // leaves this clause declares in code (`pens = 3`)
  std::string expr;                // Python expression of the clause ("money - pens * pen_price");
                                   // empty for a start that is a single number
};

struct MathProblem {
  std::string split;
  int64_t index = 0;
  uint64_t id = 0;           // content hash
  int ops = 0;
  bool large_numbers = false;
  std::string story;         // the story sentences alone (mathtext uses them)
  std::string question;      // the story and the question, one paragraph
  std::string prompt;        // question + "\n\n": what an RL or eval run feeds the model
  int64_t answer = 0;
  std::string theme;
  std::vector<MathNode> nodes;
  std::vector<MathStep> steps;
  int32_t root = -1;
};

// Problem `index` of a split (min_ops/max_ops 0: the split's default range). Error on an unknown
// split or an ops range outside 1..8.
MathProblem mathworld_problem(std::string_view split, int64_t index, uint64_t seed, int min_ops = 0, int max_ops = 0);
// Problems 0..count-1 of a split, all in memory: count is at most kMaxMathProblems (an error
// otherwise, where the caller's own limit did not already stop it).
inline constexpr int64_t kMaxMathProblems = 10'000'000;
std::vector<MathProblem> mathworld_generate(std::string_view split, int64_t count, uint64_t seed, int min_ops = 0,
                                            int max_ops = 0);

// The solution text in a style (for mathtext: the whole document). Error on an unknown style.
std::string mathworld_solution(const MathProblem& p, std::string_view style);
// A pretraining document: question + "\n\n" + solution (mathtext: the solution alone).
std::string mathworld_document(const MathProblem& p, std::string_view style);

// omi2_steps's working of one operation `a op b` (op '+', '-' with a >= b, '*', '/' exact; operands
// not negative): lines of column steps, e.g. "Add 17 and 25: 7 plus 5 is 12, carry 1; 1 plus 2
// plus 1 is 4." ("" for two one-digit numbers, a fact). The format is described in
// mathworld_steps.cpp. Error on an operation outside that domain.
std::string mathworld_working(int64_t a, char op, int64_t b);

// The answer as the grader's gold string.
inline std::string mathworld_answer_text(const MathProblem& p) { return std::to_string(p.answer); }

}  // namespace chamber
