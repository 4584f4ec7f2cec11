// Malformed input for the grader, answer parsers, importers and data specs (runs under ASan+UBSan
// too): random bytes and broken structure must give a clean answer or a chamber::Error naming the
// place, never a crash.
#include <gtest/gtest.h>

#include "data/answer_parse.h"
#include "data/dataset.h"
#include "data/grader.h"
#include "data/importers.h"
#include "engine/util.h"
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
