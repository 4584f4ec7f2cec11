// Grading model generations the paper's way, plus dataset-level grading for `chamber grade`.
//
// Label (per generation):  contains "<llm-code>"  -> "omi1"
//                          else contains "def"     -> "tinygsm"  ("def" as a word followed by a
//                                                     space, so "defend"/"default" stay text)
//                          else                    -> "text"
// Answer:  omi1     run every <llm-code> block as notebook cells (an unclosed last block runs to
//                   the end or to <llm-code-output>); the last cell's final expression, else the
//                   last printed line.
//          tinygsm  run the function starting at the first `def` (simple_math_problem if
//                   defined, else the first function); its return value.
//          text     \boxed{}, then "#### N", then "the answer is", then the last number.
// When execution fails or yields nothing, the answer falls back to the text rule; the label stays.
// Code runs only in the project's bounded interpreter (data/interpreter.h). Nothing is cached
// between calls.
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace chamber {

struct GradeResult {
  std::string label;      // "omi1" | "tinygsm" | "text"
  std::string answer;     // extracted answer ("" when none)
  bool correct = false;
  bool executed = false;  // code ran and produced the answer (false: text fallback or text label)
  std::string error;      // the interpreter's error when execution failed
};

const char* grade_label(std::string_view completion);
GradeResult grade_completion(std::string_view completion, const std::string& gold_answer);

// The code a tinygsm-labelled generation would run: from the line holding the first `def` to the
// end of the indented block(s) after it.
std::string_view extract_function_code(std::string_view completion);
// Bodies of <llm-code> blocks.
std::vector<std::string_view> extract_code_blocks(std::string_view completion);

// ---- datasets and prediction files ----
struct GoldItem {
  std::string question;
  std::string answer;
};

// "gsm8k:PATH", "math:PATH", "tinygsm:PATH", "omi1:PATH", "omi2:PATH" (jsonl, importers.h), or
// "synthetic:SPLIT[:COUNT[:SEED]]" (math world; COUNT default 1000, at most kMaxGoldProblems, SEED
// default 1). A tinygsm file's gold answers come from running its code.
inline constexpr int64_t kMaxGoldProblems = 1'000'000;
std::vector<GoldItem> load_gold_dataset(const std::string& spec);

// Unbiased pass@k from n samples with c correct: 1 - C(n-c, k) / C(n, k).
double pass_at_k(int n, int c, int k);

// Grades a predictions file: JSON lines {"id": <0-based row>, "completion": "..."} (several per id
// allowed). Returns {"lines", "graded", "malformed": [{"line", "error"}], "accuracy" (mean over
// graded lines), "pass@k": {k: value} for k = 1, 2, 4, ... up to the fewest samples any graded id
// has (and that number itself), "styles": {label: {count, share, accuracy}}}. A malformed line is
// listed and skipped; it never stops the run.
nlohmann::json grade_predictions(const std::vector<GoldItem>& gold, const std::string& predictions_path);

}  // namespace chamber
