// Malformed input for the grader, answer parsers, importers and data specs (runs under ASan+UBSan
// too): random bytes and broken structure must give a clean answer or a chamber::Error naming the
// place, never a crash.
#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <memory>
#include <optional>
#include <thread>

#include "data/answer_parse.h"
#include "data/dataset.h"
#include "data/grader.h"
#include "data/importers.h"
#include "data/mathworld.h"
#include "util/util.h"
#include "tests/test_util.h"

namespace chamber {
namespace {

std::string random_text(Rng& rng, size_t max_len) {
  static const std::string pieces[] = {"\\boxed{", "}", "{", "####", "The answer is", "<llm-code>", "</llm-code>",
                                       "<llm-code-output>", "def ", "\\frac", "$", "%", ",", ".", "-", "/", "\n",
                                       " ", "12", "3.5", "1,000", "x = 1\n", "return ", "print(", ")", "\\", "\x01",
                                       "\xff", "\0"};
  std::string s;
  size_t n = rng.below(max_len);
  for (size_t k = 0; k < n; k++) {
    if (rng.below(4) == 0) s.push_back((char)rng.below(256));
    else s += pieces[rng.below(std::size(pieces))];
  }
  return s;
}

TEST(GraderParsers, RandomCompletionsNeverCrash) {
  Rng rng(11);
  for (int i = 0; i < 5000; i++) {
    std::string text = random_text(rng, 40);
    std::string gold = random_text(rng, 4);
    GradeResult g = grade_completion(text, gold);
    EXPECT_TRUE(g.label == "omi1" || g.label == "tinygsm" || g.label == "text");
    answer_to_number(text);
    answers_equal(text, gold);
    extract_text_answer(text);
  }
}

TEST(GraderParsers, PathologicalAnswers) {
  EXPECT_EQ(extract_text_answer(std::string(100000, '{')), "");
  EXPECT_EQ(extract_text_answer(std::string(50000, '\\') + "boxed"), "");
  std::string deep = "\\boxed{" + std::string(20000, '{') + "7" + std::string(20000, '}') + "}";
  EXPECT_FALSE(extract_text_answer(deep).empty());
  EXPECT_FALSE(answer_to_number("\\frac{1}{0}"));
  EXPECT_FALSE(answer_to_number("1/0"));
  EXPECT_FALSE(answer_to_number("\\frac{"));
  EXPECT_FALSE(answer_to_number(std::string(5000, '9')));  // too long to be an answer
  EXPECT_FALSE(answer_to_number("1e999"));
  EXPECT_FALSE(answers_equal("nan", "18"));
  std::string many_hashes;
  for (int i = 0; i < 10000; i++) many_hashes += "#### " + std::to_string(i) + "\n";
  EXPECT_EQ(extract_text_answer(many_hashes), "9999");
}

// Grades on a thread of its own and waits at most limit_s: a grading that runs past it fails the
// test instead of holding the suite (the thread is left to finish on its own). *seconds gets the
// time taken.
std::optional<GradeResult> grade_within(std::string completion, double limit_s, double* seconds) {
  auto task = std::make_shared<std::packaged_task<GradeResult()>>(
      [text = std::move(completion)] { return grade_completion(text, "42"); });
  std::future<GradeResult> result = task->get_future();
  auto start = std::chrono::steady_clock::now();
  std::thread([task] { (*task)(); }).detach();
  bool ready = result.wait_for(std::chrono::duration<double>(limit_s)) == std::future_status::ready;
  *seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (!ready) return std::nullopt;
  return result.get();
}

std::string repeat(const std::string& s, int n) {
  std::string out;
  for (int i = 0; i < n; i++) out += s;
  return out;
}

std::string tinygsm(const std::string& body) { return "def simple_math_problem() -> int:\n" + body; }

// Short completions that used to hold the grader for seconds to hours (every operation now pays
// steps for its work, and the parsers are linear). Each must come back, well within the limit,
// with the interpreter's limit error (or the answer) expected; 1 s is the goal on 2 busy cores.
TEST(GraderParsers, HostileCompletionsEndQuickly) {
#if defined(NDEBUG) && !defined(__SANITIZE_ADDRESS__)
  const double limit_s = 2.0;
#else
  const double limit_s = 10.0;  // Debug and sanitizer builds run several times slower
#endif
  const std::string nested = "    a = [0]\n    b = [0]\n    for i in range(40):\n        a = [a, a]\n        b = [b, b]\n";
  struct Case {
    const char* name;
    std::string completion;
    const char* error;     // fragment of GradeResult::error; "" = the code runs to an answer
    const char* answer;    // the answer graded (code's value or the text fallback)
  };
  const std::vector<Case> cases = {
      // The issue's three programs: comparing 2^40 shared leaves, a quadratic substring search and
      // flat 90,000-element comparisons, each inside a loop or a single statement.
      {"nested ==", tinygsm(nested + "    t = a == b\n    return 42\n"), "step limit exceeded", "42"},
      {"nested <", tinygsm(nested + "    t = a < b\n    return 42\n"), "step limit exceeded", "42"},
      {"nested in", tinygsm(nested + "    t = a in [b]\n    return 42\n"), "step limit exceeded", "42"},
      {"nested max", tinygsm(nested + "    t = max(a, b)\n    return 42\n"), "step limit exceeded", "42"},
      {"substring search", tinygsm("    t = 'a' * 16000\n    s = 'a' * 8000 + 'b'\n    while True:\n        s in t\n"),
       "step limit exceeded", "8000"},
      {"flat list ==", tinygsm("    x = [0] * 90000\n    y = [0] * 90000\n    while True:\n        x == y\n"),
       "step limit exceeded", "90000"},
      {"flat list <", tinygsm("    x = [0] * 90000\n    y = [0] * 90000\n    while True:\n        x < y\n"),
       "step limit exceeded", "90000"},
      // Wide expressions: every evaluated node is work.
      {"many arguments", tinygsm("    while True:\n        max(" + repeat("1, ", 20000) + "1)\n"), "step limit exceeded", "1"},
      {"long comparison chain", tinygsm("    while True:\n        1" + repeat(" <= 1", 12000) + "\n"), "step limit exceeded", "1"},
      {"wide sum", [] {
         std::string e = "1";
         for (int d = 0; d < 13; d++) e = "(" + e + "+" + e + ")";
         return tinygsm("    while True:\n        x = " + e + "\n");
       }(), "step limit exceeded", "1"},
      {"empty string repeated", tinygsm("    x = '' * 10**18\n    y = [] * 10**18\n    return 42 + len(x) + len(y)\n"), "", "42"},
      {"print of a long line", tinygsm("    s = 'a' * 16000\n    print(" + repeat("s, ", 15000) + "s)\n"), "output limit", "16000"},
      {"float parsing", tinygsm("    s = '1' * 16000\n    while True:\n        x = float(s)\n"), "step limit exceeded", "16000"},
      {"round to 300 places", tinygsm("    while True:\n        x = round(1e308, 300)\n"), "step limit exceeded", "300"},
      {"calls with a frame per name", [] {
         std::string body;
         for (int i = 0; i < 5000; i++) body += "  a" + std::to_string(i) + " = 1\n";
         return "def f():\n  return 1\n" + tinygsm(body + "  while True:\n    f()\n");
       }(), "step limit exceeded", "1"},
      // The answer parsers: 100,000 unclosed \boxed{ (700 KB), and 50,000 OpenMathInstruct-1 code
      // cells, over the source limit and (one byte each) within it.
      {"\\boxed{ x 100000", repeat("\\boxed{", 100000), "", ""},
      {"\\fbox{\\boxed{ x 50000", repeat("\\fbox{\\boxed{", 50000), "", ""},
      {"50000 code cells", repeat("<llm-code>x = 1\n</llm-code>", 50000), "source too long", "1"},
      {"50000 one-byte cells", repeat("<llm-code>x</llm-code>", 50000), "NameError", ""},
      {"8000 cells, a name each", [] {
         std::string text;
         for (int i = 0; i < 8000; i++) text += "<llm-code>a" + std::to_string(i) + "=1\n</llm-code>";
         return text;
       }(), "", "1"},
  };
  for (const Case& c : cases) {
    double seconds = 0;
    std::optional<GradeResult> g = grade_within(c.completion, limit_s, &seconds);
    if (!g) {
      ADD_FAILURE() << c.name << ": grading did not end within " << limit_s << " s";
      continue;
    }
    EXPECT_LT(seconds, limit_s) << c.name;
    if (*c.error) {
      EXPECT_FALSE(g->executed) << c.name;
      EXPECT_NE(g->error.find(c.error), std::string::npos) << c.name << ": error '" << g->error << "'";
    } else {
      EXPECT_EQ(g->error, "") << c.name;
    }
    EXPECT_EQ(g->answer, c.answer) << c.name;
    EXPECT_EQ(g->correct, std::string(c.answer) == "42") << c.name;
  }
}

TEST(GraderParsers, MalformedImporterLines) {
  std::string dir = testing::temp_dir("importer_bad");
  auto error_of = [&](const char* kind, const std::string& content) {
    std::string path = path_join(dir, "bad.jsonl");
    write_file_atomic(path, content);
    try {
      import_jsonl(kind, path);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_NE(error_of("gsm8k", "{\"question\": \"q\", \"answer\": \"a\\n#### 3\"}\nnot json\n").find("bad.jsonl:2"), std::string::npos);
  EXPECT_NE(error_of("gsm8k", "{\"question\": \"q\"}\n").find("'answer'"), std::string::npos);
  EXPECT_NE(error_of("gsm8k", "{\"question\": \"q\", \"answer\": \"no final line\"}\n").find("####"), std::string::npos);
  EXPECT_NE(error_of("omi1", "[1, 2]\n").find("object"), std::string::npos);
  EXPECT_NE(error_of("math", "{\"problem\": [3], \"solution\": \"x\"}\n").find("'problem'"), std::string::npos);
  EXPECT_NE(error_of("zzz", "{}\n").find("unknown importer"), std::string::npos);
  EXPECT_EQ(error_of("omi2", "\n\n{\"question\": \"q\", \"generated_solution\": \"s\", \"expected_answer\": 5}\n\n"), "");
  EXPECT_THROW(load_gold_dataset("tinygsm:" + path_join(dir, "bad.jsonl")), Error);
  write_file_atomic(path_join(dir, "bad_code.jsonl"), "{\"question\": \"q\", \"code\": \"def f():\\n    while True: pass\\n\"}\n");
  EXPECT_THROW(load_gold_dataset("tinygsm:" + path_join(dir, "bad_code.jsonl")), Error);
}

// Sizes that would not fit in memory are refused before anything is generated or read.
TEST(GraderParsers, DatasetsAndFilesBeyondTheLimits) {
  std::string msg = testing::error_of([] { load_gold_dataset("synthetic:test:100000000"); });
  EXPECT_TRUE(testing::contains(msg, "'synthetic:test:100000000': COUNT must be at most 1000000")) << msg;
  msg = testing::error_of([] { load_gold_dataset("synthetic:test:99999999999999999999999"); });
  EXPECT_TRUE(testing::contains(msg, "COUNT must be at most 1000000")) << msg;
  EXPECT_EQ(load_gold_dataset("synthetic:test:3").size(), 3u);
  EXPECT_EQ(load_gold_dataset("synthetic:test:3")[2].answer, mathworld_answer_text(mathworld_problem("test", 2, 1)));
  msg = testing::error_of([] { mathworld_generate("test", kMaxMathProblems + 1, 1); });
  EXPECT_TRUE(testing::contains(msg, "at most 10000000")) << msg;
  msg = testing::error_of([] { grade_predictions({{"q", "1"}}, "/dev/zero"); });
  EXPECT_TRUE(testing::contains(msg, "cannot read '/dev/zero': it is a device, not a file")) << msg;
}

TEST(GraderParsers, MalformedPredictionFiles) {
  std::vector<GoldItem> gold = {{"q", "1"}};
  std::string dir = testing::temp_dir("preds_bad");
  std::string path = path_join(dir, "p.jsonl");
  Rng rng(5);
  std::string content;
  for (int i = 0; i < 300; i++) {
    switch (rng.below(6)) {
      case 0: content += random_text(rng, 20); break;
      case 1: content += "{\"id\": " + std::to_string((int64_t)rng.below(5) - 2) + ", \"completion\": \"1\"}"; break;
      case 2: content += "{\"id\": \"0\", \"completion\": \"1\"}"; break;
      case 3: content += "{\"id\": 0, \"completion\": 5}"; break;
      case 4: content += "{\"id\": 1e30, \"completion\": \"x\"}"; break;
      default: content += "{\"id\": 0, \"completion\": \"\\\\boxed{1}\"}"; break;
    }
    content += "\n";
  }
  write_file_atomic(path, content);
  nlohmann::json r = grade_predictions(gold, path);
  EXPECT_EQ(r["graded"].get<int64_t>() + (int64_t)r["malformed"].size(), r["lines"].get<int64_t>());
  EXPECT_GT(r["malformed"].size(), 0u);
  write_file_atomic(path, std::string("\0\0\0", 3));
  EXPECT_EQ(grade_predictions(gold, path)["graded"], 0);
}

TEST(GraderParsers, MalformedDataSpecs) {
  for (const char* yaml : {"[1, 2]", "sources: 5", "sources: [5]", "sources: [{kind: [1]}]",
                           "sources: [{kind: text, path: a, weight: abc}]", "{? [a] : 1, sources: []}",
                           "sources: [{kind: synthetic, style: omi1, count: -3}]",
                           "sources: [{kind: synthetic, style: omi1, split: moon, count: 3}]",
                           "tokenizer: {vocab_size: 10}\nsources: [{kind: text, path: a}]",
                           "tokenizer: 5\nsources: [{kind: text, path: a}]",
                           "val_fraction: 2\nsources: [{kind: text, path: a}]",
                           "sources: [{kind: text, path: a, separator: ''}]"}) {
    EXPECT_THROW(data_spec_from_yaml(YAML::Load(yaml), "bad.yaml"), Error) << yaml;
  }
  std::string dir = testing::temp_dir("spec_bad");
  write_file_atomic(path_join(dir, "s.yaml"), "sources: [{kind: text, path: a\n");
  EXPECT_THROW(data_spec_load(path_join(dir, "s.yaml")), Error);
  DataSpec spec = data_spec_from_yaml(YAML::Load("sources: [{kind: text, path: /nonexistent/notes.txt}]"), "s.yaml");
  EXPECT_THROW(dataset_build(spec, path_join(dir, "out"), false), Error);
  // A corrupt manifest from an earlier build means "rebuild", not a crash.
  DataSpec ok = data_spec_from_yaml(
      YAML::Load("tokenizer: {vocab_size: 260, sample_bytes: 2000}\nsources: [{kind: text, path: tests/data/samples/notes.txt}]"),
      "s.yaml");
  for (const char* manifest : {"{\"spec_hash\": 5, \"train_shards\": 3}", "[1]", "\xff\xfe", "{\"spec_hash\": null}"}) {
    std::string out = path_join(dir, "rebuild");
    make_dirs(out);
    write_file_atomic(path_join(out, "manifest.json"), manifest);
    EXPECT_NO_THROW(dataset_build(ok, out, false)) << manifest;
  }
}

}  // namespace
}  // namespace chamber
