// Grading: the paper's labels, answer normalisation, GSM8K gold answers (1.0) against answers
// with the final number changed (0.0) on the real test file, importers round-trip, pass@k, and a
// predictions file with malformed lines.
#include <gtest/gtest.h>

#include <fstream>

#include "data/answer_parse.h"
#include "data/grader.h"
#include "data/importers.h"
#include "util/util.h"
#include "tests/test_util.h"

namespace chamber {
namespace {

const char* kGsm8kTest = "../shared/data/gsm8k/test.jsonl";

TEST(Grader, LabelsFollowThePaperRule) {
  EXPECT_STREQ(grade_label("<llm-code>\nx = 1\n</llm-code>\ndef f(): pass"), "omi1");
  EXPECT_STREQ(grade_label("def simple_math_problem() -> int:\n    return 1\n"), "tinygsm");
  EXPECT_STREQ(grade_label("Some text\ndef f(x):\n  return x"), "tinygsm");
  EXPECT_STREQ(grade_label("We defend the answer \\boxed{3}"), "text");
  EXPECT_STREQ(grade_label("by default, 3 + 4 = 7"), "text");
  EXPECT_STREQ(grade_label("The answer is 5."), "text");
}

TEST(Grader, AnswerNormalisation) {
  EXPECT_TRUE(answers_equal("$1,000", "1000"));
  EXPECT_TRUE(answers_equal("50%", "50"));
  EXPECT_TRUE(answers_equal("50\\%", "50"));
  EXPECT_TRUE(answers_equal("18.0", "18"));
  EXPECT_TRUE(answers_equal("18.", "18"));
  EXPECT_TRUE(answers_equal("\\frac{3}{4}", "0.75"));
  EXPECT_TRUE(answers_equal("\\dfrac{3}{4}", "3/4"));
  EXPECT_TRUE(answers_equal("-\\frac{1}{2}", "-0.5"));
  EXPECT_TRUE(answers_equal("+7", "7"));
  EXPECT_TRUE(answers_equal("\\$18", "18"));
  EXPECT_TRUE(answers_equal("18 \\text{ dollars}", "18"));
  EXPECT_TRUE(answers_equal("x^2", "x^2"));
  EXPECT_FALSE(answers_equal("-5", "5"));
  EXPECT_FALSE(answers_equal("", "5"));
  EXPECT_FALSE(answers_equal("19", "18"));
  EXPECT_FALSE(answers_equal("1/3", "0.33"));
}

// Whole numbers compare exactly: as doubles, everything within 1e-9 relative of 2^63 is equal.
TEST(Grader, WholeNumbersCompareExactly) {
  EXPECT_TRUE(answers_equal("9223372036854775807", "9223372036854775807"));
  EXPECT_FALSE(answers_equal("9223372036854775806", "9223372036854775807"));
  EXPECT_FALSE(answers_equal("9223372036854775808", "9223372036854775807"));
  EXPECT_FALSE(answers_equal("-9223372036854775807", "-9223372036854775808"));
  EXPECT_FALSE(answers_equal("1000000000001", "1000000000000"));
  EXPECT_FALSE(answers_equal("99999999999999999999", "99999999999999999998"));
  EXPECT_TRUE(answers_equal("9,223,372,036,854,775,807", "9223372036854775807"));
  EXPECT_TRUE(answers_equal("9223372036854775807.0", "9223372036854775807"));
  EXPECT_TRUE(answers_equal("$0042", "42"));
  EXPECT_TRUE(answers_equal("-0", "0"));
  EXPECT_TRUE(answers_equal("\\frac{84}{2}", "42"));  // not written as a whole number: numeric
  EXPECT_TRUE(answers_equal("42.0000000000001", "42"));
  std::string code = "def simple_math_problem() -> int:\n    return 9223372036854775806\n";
  EXPECT_FALSE(grade_completion(code, "9223372036854775807").correct);
  EXPECT_TRUE(grade_completion(code, "9223372036854775806").correct);
  EXPECT_FALSE(grade_completion("#### 9223372036854775808", "9223372036854775807").correct);
}

TEST(Grader, TextExtractionOrder) {
  EXPECT_EQ(extract_text_answer("so 3 + 4 = 7 and \\boxed{\\frac{1}{2}} then 9"), "\\frac{1}{2}");
  EXPECT_EQ(extract_text_answer("3 + 4 = 7\n#### 1,234\n"), "1,234");
  EXPECT_EQ(extract_text_answer("It is 5. The answer is 42 apples, not 7."), "42");
  EXPECT_EQ(extract_text_answer("first 3, then 4, finally 5,000."), "5,000");
  EXPECT_EQ(extract_text_answer("The total is -12."), "-12");
  EXPECT_EQ(extract_text_answer("no numbers"), "");
  EXPECT_EQ(extract_text_answer("\\boxed{3"), "3");
}

TEST(Grader, CodeStylesExecuteAndFallBack) {
  std::string tiny = "def simple_math_problem() -> int:\n    a = 6\n    b = 7\n    result = a * b\n    return result\n\nThe end.";
  GradeResult g = grade_completion(tiny, "42");
  EXPECT_TRUE(g.correct);
  EXPECT_TRUE(g.executed);
  EXPECT_EQ(g.label, "tinygsm");
  // A broken function falls back to the text (the last number), keeping the label.
  g = grade_completion("def simple_math_problem() -> int:\n    return 1 / 0\n# 42", "42");
  EXPECT_EQ(g.label, "tinygsm");
  EXPECT_FALSE(g.executed);
  EXPECT_FALSE(g.error.empty());
  EXPECT_TRUE(g.correct);
  // omi1: the last expression, else the printed value; the model's own output block is ignored.
  g = grade_completion("Let's see.\n<llm-code>\nx = 4 * 5\nx + 1\n</llm-code>\n<llm-code-output>\n99\n</llm-code-output>\n\\boxed{99}", "21");
  EXPECT_TRUE(g.correct) << g.answer;
  EXPECT_EQ(g.label, "omi1");
  g = grade_completion("<llm-code>\nprint('total:', 3 * 5)\n</llm-code>", "15");
  EXPECT_TRUE(g.correct) << g.answer;
  g = grade_completion("<llm-code>\nx = 2\n", "2");  // unclosed block, no value: falls back to text
  EXPECT_FALSE(g.executed);
  EXPECT_TRUE(g.correct);
  g = grade_completion("<llm-code>\nimport os\n</llm-code>\nSo \\boxed{8}.", "8");
  EXPECT_FALSE(g.executed);
  EXPECT_TRUE(g.correct);
}

TEST(Grader, Gsm8kGoldIsRightAndChangedNumbersAreWrong) {
  std::vector<ImportedRecord> rows = import_jsonl("gsm8k", kGsm8kTest);
  ASSERT_EQ(rows.size(), 1319u);
  std::string dir = testing::temp_dir("grader_gsm8k");
  std::string gold_path = path_join(dir, "gold.jsonl"), wrong_path = path_join(dir, "wrong.jsonl");
  std::ofstream gold_out(gold_path), wrong_out(wrong_path);
  for (size_t i = 0; i < rows.size(); i++) {
    const ImportedRecord& r = rows[i];
    EXPECT_TRUE(grade_completion(r.solution, r.gold_answer).correct) << r.solution;
    size_t at = r.solution.rfind("####");
    std::string changed = r.solution.substr(0, at) + "#### " + std::to_string(std::stoll(r.gold_answer) + 1);
    EXPECT_FALSE(grade_completion(changed, r.gold_answer).correct) << changed;
    gold_out << nlohmann::json{{"id", i}, {"completion", r.solution}}.dump() << "\n";
    wrong_out << nlohmann::json{{"id", i}, {"completion", changed}}.dump() << "\n";
  }
  gold_out.close();
  wrong_out.close();
  std::vector<GoldItem> gold = load_gold_dataset(std::string("gsm8k:") + kGsm8kTest);
  nlohmann::json a = grade_predictions(gold, gold_path), b = grade_predictions(gold, wrong_path);
  EXPECT_EQ(a["accuracy"].get<double>(), 1.0);
  EXPECT_EQ(b["accuracy"].get<double>(), 0.0);
  EXPECT_EQ(a["graded"].get<int>(), 1319);
  EXPECT_EQ(a["styles"]["text"]["share"].get<double>(), 1.0);
}

TEST(Grader, ImportersRoundTrip) {
  auto math = import_jsonl("math", "tests/data/samples/math.jsonl");
  ASSERT_EQ(math.size(), 3u);
  EXPECT_EQ(math[0].gold_answer, "15");
  EXPECT_EQ(math[2].gold_answer, "\\frac{3}{4}");
  EXPECT_EQ(record_document(math[1]), math[1].question + "\n\n" + math[1].solution);
  EXPECT_EQ(record_prompt(math[1]), math[1].question + "\n\n");
  for (const char* kind : {"math", "tinygsm", "omi1", "omi2"}) {
    std::string spec = std::string(kind) + ":tests/data/samples/" + kind + ".jsonl";
    std::vector<GoldItem> gold = load_gold_dataset(spec);
    auto rows = import_jsonl(kind, std::string("tests/data/samples/") + kind + ".jsonl");
    ASSERT_EQ(gold.size(), rows.size());
    for (size_t i = 0; i < rows.size(); i++) {
      EXPECT_EQ(gold[i].question, rows[i].question);
      GradeResult g = grade_completion(rows[i].solution, gold[i].answer);  // a source's own solution grades correct
      EXPECT_TRUE(g.correct) << kind << " row " << i << ": " << g.answer << " vs " << gold[i].answer << " " << g.error;
    }
  }
  EXPECT_EQ(load_gold_dataset("tinygsm:tests/data/samples/tinygsm.jsonl")[0].answer, "12");
  EXPECT_EQ(load_gold_dataset("synthetic:easy:5:2").size(), 5u);
  EXPECT_THROW(load_gold_dataset("nope:x"), Error);
  EXPECT_THROW(load_gold_dataset("synthetic:moon"), Error);
  EXPECT_THROW(load_gold_dataset("gsm8k"), Error);
}

TEST(Grader, PassAtK) {
  EXPECT_DOUBLE_EQ(pass_at_k(2, 1, 1), 0.5);
  EXPECT_DOUBLE_EQ(pass_at_k(4, 1, 2), 0.5);
  EXPECT_DOUBLE_EQ(pass_at_k(8, 0, 8), 0.0);
  EXPECT_DOUBLE_EQ(pass_at_k(8, 1, 8), 1.0);
  EXPECT_DOUBLE_EQ(pass_at_k(64, 64, 1), 1.0);
}

TEST(Grader, PredictionsWithSeveralSamplesAndMalformedLines) {
  std::vector<GoldItem> gold = {{"q0", "4"}, {"q1", "10"}};
  std::string path = path_join(testing::temp_dir("grader_preds"), "p.jsonl");
  write_file_atomic(path,
                    "{\"id\": 0, \"completion\": \"2 + 2 = 4\"}\n"
                    "{\"id\": 0, \"completion\": \"def f():\\n    return 5\\n\"}\n"
                    "not json\n"
                    "\n"
                    "{\"id\": 7, \"completion\": \"x\"}\n"
                    "{\"id\": 1, \"completion\": \"<llm-code>\\n5 * 2\\n</llm-code>\"}\n"
                    "{\"id\": 1}\n"
                    "{\"id\": 1, \"completion\": \"\\\\boxed{10}\"}\n");
  nlohmann::json r = grade_predictions(gold, path);
  EXPECT_EQ(r["lines"], 7);
  EXPECT_EQ(r["graded"], 4);
  ASSERT_EQ(r["malformed"].size(), 3u);
  EXPECT_EQ(r["malformed"][0]["line"], 3);
  EXPECT_EQ(r["malformed"][1]["line"], 5);
  EXPECT_EQ(r["malformed"][2]["line"], 7);
  EXPECT_DOUBLE_EQ(r["accuracy"].get<double>(), 0.75);
  EXPECT_DOUBLE_EQ(r["pass@k"]["1"].get<double>(), 0.75);
  EXPECT_DOUBLE_EQ(r["pass@k"]["2"].get<double>(), 1.0);
  EXPECT_EQ(r["styles"]["tinygsm"]["count"], 1);
  EXPECT_DOUBLE_EQ(r["styles"]["tinygsm"]["accuracy"].get<double>(), 0.0);
  EXPECT_DOUBLE_EQ(r["styles"]["text"]["share"].get<double>(), 0.5);
  EXPECT_THROW(grade_predictions(gold, "/nonexistent/preds.jsonl"), Error);
}

}  // namespace
}  // namespace chamber
