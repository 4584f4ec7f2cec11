// Hostile tokenizer.json files: truncated at many points, random byte flips, wrong types, ids
// out of range or duplicated, merges that do not match the vocab. Every one must give a
// chamber::Error naming the file, never a crash or another exception type (this file also runs
// under ASan+UBSan). A flip that still leaves a valid file must give a working tokenizer.
#include <gtest/gtest.h>

#include <functional>
#include <nlohmann/json.hpp>

#include "data/tokenizer.h"
#include "util/util.h"
#include "tests/data/sample_text.h"
#include "tests/test_util.h"

namespace chamber {
namespace {

using json = nlohmann::json;
const char* kName = "hostile/tokenizer.json";

std::string valid_file() {
  static const std::string text = [] {
    Tokenizer tok = tokenizer_train({testing::sample_text(5, 20000)}, 300);
    std::string path = path_join(testing::temp_dir("tokenizer_parsers"), "tokenizer.json");
    tokenizer_save(tok, path);
    return read_file(path);
  }();
  return text;
}

// Outcome of loading: "" if it loaded, else the Error message. Any other exception fails the test.
std::string load_error(std::string_view text) {
  try {
    Tokenizer tok = tokenizer_from_json(text, kName);
    std::string sample = "Tom has 12 apples.\n\x01\xff";  // must work if the file was accepted
    EXPECT_EQ(tokenizer_decode(tok, tokenizer_encode(tok, sample)), sample);
    return "";
  } catch (const Error& e) {
    return e.what();
  }
}

void expect_error(const std::string& text, const std::string& needle, const std::string& what) {
  std::string e = load_error(text);
  ASSERT_FALSE(e.empty()) << what << ": accepted";
  EXPECT_NE(e.find(kName), std::string::npos) << what << ": message does not name the file: " << e;
  EXPECT_NE(e.find(needle), std::string::npos) << what << ": expected '" << needle << "' in: " << e;
}

TEST(TokenizerParsers, ValidFileLoads) { EXPECT_EQ(load_error(valid_file()), ""); }

TEST(TokenizerParsers, TruncatedAnywhere) {
  const std::string full = valid_file();
  size_t end = full.rfind('}') + 1;  // shorter than this is never valid JSON
  std::vector<size_t> lengths;
  for (size_t n = 0; n < std::min<size_t>(end, 300); n++) lengths.push_back(n);
  for (size_t n = 300; n < end; n += std::max<size_t>(1, end / 400)) lengths.push_back(n);
  lengths.push_back(end - 1);
  for (size_t n : lengths) {
    std::string e = load_error(std::string_view(full).substr(0, n));
    ASSERT_FALSE(e.empty()) << "truncated at " << n << " of " << full.size() << " accepted";
    ASSERT_NE(e.find(kName), std::string::npos) << e;
  }
}

TEST(TokenizerParsers, RandomByteFlips) {
  const std::string full = valid_file();
  Rng rng(2024);
  int rejected = 0;
  const int trials = 1500;
  for (int trial = 0; trial < trials; trial++) {
    std::string s = full;
    for (int k = 0, n = 1 + (int)rng.below(3); k < n; k++) {
      size_t at = rng.below(s.size());
      s[at] = trial % 2 ? (char)rng.below(256) : "0123456789\"{}[],: \\-"[rng.below(20)];
    }
    rejected += !load_error(s).empty();  // load_error checks an accepted file works
  }
  EXPECT_GT(rejected, trials / 2);  // most flips break something; the rest must load cleanly
}

TEST(TokenizerParsers, WrongStructureAndTypes) {
  expect_error("", "not valid JSON", "empty file");
  expect_error("[]", "top level", "array");
  expect_error("{}", "'model'", "empty object");
  expect_error(std::string(100000, '[') , "not valid JSON", "deep nesting, truncated");
  expect_error("{\"model\": " + std::string(20000, '[') + std::string(20000, ']') + "}", "model", "deep nesting");

  const json good = json::parse(valid_file());
  struct Case {
    const char* what;
    std::function<void(json&)> edit;
    const char* needle;
  };
  const std::vector<Case> cases = {
      {"model not object", [](json& j) { j["model"] = "BPE"; }, "model must be an object"},
      {"model type", [](json& j) { j["model"]["type"] = "WordPiece"; }, "BPE"},
      {"model type number", [](json& j) { j["model"]["type"] = 3; }, "model.type must be a string"},
      {"dropout", [](json& j) { j["model"]["dropout"] = 0.1; }, "dropout"},
      {"no vocab", [](json& j) { j["model"].erase("vocab"); }, "'vocab'"},
      {"vocab array", [](json& j) { j["model"]["vocab"] = json::array(); }, "vocab must be an object"},
      {"no merges", [](json& j) { j["model"].erase("merges"); }, "'merges'"},
      {"merges object", [](json& j) { j["model"]["merges"] = json::object(); }, "merges must be an array"},
      {"id string", [](json& j) { j["model"]["vocab"]["a"] = "97"; }, "integer id"},
      {"id float", [](json& j) { j["model"]["vocab"]["a"] = 97.5; }, "integer id"},
      {"id negative", [](json& j) { j["model"]["vocab"]["a"] = -3; }, "outside"},
      {"id too big", [](json& j) { j["model"]["vocab"]["a"] = 100000; }, "outside"},
      {"id huge", [](json& j) { j["model"]["vocab"]["a"] = 18446744073709551615ull; }, "outside"},
      {"id duplicated",
       [](json& j) {
         for (auto& [text, id] : j["model"]["vocab"].items())
           if (id == 257) id = 256;
       },
       "used by two"},
      {"byte at wrong id",
       [](json& j) {
         j["model"]["vocab"]["a"] = 98;
         j["model"]["vocab"]["b"] = 97;
       },
       "single byte"},
      {"extra token", [](json& j) { j["model"]["vocab"]["zzzz"] = 300; }, "vocab has 301 tokens"},
      {"token outside alphabet",
       [](json& j) {
         json& v = j["model"]["vocab"];
         int id = v["a"];
         v.erase("a");
         v["\xe6\x9d\xb1"] = id;  // a CJK character is not a byte-level character
       },
       "outside the byte-level alphabet"},
      {"no eot in vocab",
       [](json& j) {
         json& v = j["model"]["vocab"];
         v.erase("<|endoftext|>");
         v["QQ"] = 299;
       },
       "no <|endoftext|>"},
      {"eot not last",
       [](json& j) {
         json& v = j["model"]["vocab"];
         std::swap(v["<|endoftext|>"], v["a"]);
       },
       "last id"},
      {"merge unknown token", [](json& j) { j["model"]["merges"][3] = {"a", "qqqq"}; }, "not a vocab token"},
      {"merge makes wrong token", [](json& j) { j["model"]["merges"][0] = {"Q", "Z"}; }, "should make id"},
      {"merge of eot", [](json& j) { j["model"]["merges"][0] = {"<|endoftext|>", "a"}; }, "not a vocab token"},
      {"merge wrong arity", [](json& j) { j["model"]["merges"][0] = {"a", "b", "c"}; }, "pair of strings"},
      {"merge number", [](json& j) { j["model"]["merges"][0] = 7; }, "pair of strings"},
      {"merge string two spaces", [](json& j) { j["model"]["merges"][0] = "a b c"; }, "one space"},
      {"merge string no space", [](json& j) { j["model"]["merges"][0] = "ab"; }, "one space"},
      {"merge uses later token",
       [](json& j) {
         auto& m = j["model"]["merges"];
         m[0] = {m[1][0].get<std::string>() + m[1][1].get<std::string>(), "a"};
       },
       "later merge"},
      {"added_tokens missing", [](json& j) { j.erase("added_tokens"); }, "'added_tokens'"},
      {"added_tokens empty", [](json& j) { j["added_tokens"] = json::array(); }, "must list"},
      {"added token other", [](json& j) { j["added_tokens"][0]["content"] = "<pad>"; }, "only hold"},
      {"added token id", [](json& j) { j["added_tokens"][0]["id"] = 5; }, "only hold"},
      {"added token junk", [](json& j) { j["added_tokens"].push_back(3); }, "must be an object"},
      {"pre_tokenizer missing", [](json& j) { j.erase("pre_tokenizer"); }, "'pre_tokenizer'"},
      {"pre_tokenizer other regex",
       [](json& j) { j["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"] = "\\s+"; }, "not Chamber's"},
      {"pre_tokenizer wrong type", [](json& j) { j["pre_tokenizer"]["pretokenizers"] = 5; }, "not Chamber's"},
  };
  for (const Case& c : cases) {
    json j = good;
    c.edit(j);
    expect_error(j.dump(), c.needle, c.what);
  }
}

TEST(TokenizerParsers, LoadNamesThePath) {
  std::string dir = testing::temp_dir("tokenizer_parsers_path");
  std::string path = path_join(dir, "broken.json");
  write_file_atomic(path, valid_file().substr(0, 100));
  try {
    tokenizer_load(path);
    FAIL() << "accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
  }
  EXPECT_THROW(tokenizer_load(path_join(dir, "missing.json")), Error);
}

}  // namespace
}  // namespace chamber
