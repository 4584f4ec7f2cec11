// Importing byte-level BPE vocabularies (data/tokenizer_import.h): a GPT-2 style vocab.json +
// merges.txt in GPT-2's order is renumbered into Chamber's and encodes the same tokens; Chamber's
// own tokenizer.json comes back unchanged; every corrupt or unrepresentable input is an error
// naming the file and the token, merge or line. Runs under ASan+UBSan with the other parsers.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "data/tokenizer_import.h"
#include "tests/test_util.h"
#include "util/util.h"

namespace chamber {
namespace {

using json = nlohmann::json;
using testing::contains;
using testing::error_of;

std::string spelled(const std::string& bytes) { return byte_level_spell(bytes); }

// GPT-2's layout: the byte tokens in the order of the byte-level alphabet (printable bytes first),
// then merges' tokens, then <|endoftext|>. Merges: "a a" -> "aa", "Ġ c" -> "Ġc", "aa b" -> "aab".
struct Gpt2Style {
  json vocab = json::object();
  std::string merges = "#version: 0.2\n";
  Gpt2Style() {
    std::vector<int> order;
    auto printable = [](int b) { return (b >= '!' && b <= '~') || (b >= 0xa1 && b <= 0xac) || b >= 0xae; };
    for (int b = 0; b < 256; b++) if (printable(b)) order.push_back(b);
    for (int b = 0; b < 256; b++) if (!printable(b)) order.push_back(b);
    for (int i = 0; i < 256; i++) vocab[spelled(std::string(1, (char)order[i]))] = i;
    for (const char* m : {"a a", "Ġ c", "aa b"}) merges += std::string(m) + "\n";
    vocab["aa"] = 256;
    vocab["Ġc"] = 257;
    vocab["aab"] = 258;
    vocab["<|endoftext|>"] = 259;
  }
  ImportedTokenizer import() const {
    return tokenizer_import_vocab_merges(vocab.dump(), "vocab.json", merges, "merges.txt");
  }
  std::string error() const { return error_of([&] { import(); }); }
};

TEST(TokenizerImportParsers, Gpt2OrderIsRenumbered) {
  Gpt2Style g;
  ImportedTokenizer t = g.import();
  ASSERT_EQ(t.tok.vocab_size(), 260);
  EXPECT_EQ(t.tok.eot_id, 259);
  for (int b = 0; b < 256; b++) EXPECT_EQ(t.tok.token_bytes[b], std::string(1, (char)b));
  EXPECT_EQ(t.tok.token_bytes[256], "aa");
  EXPECT_EQ(t.tok.token_bytes[258], "aab");
  EXPECT_EQ(t.chamber_id[g.vocab["a"].get<int>()], 'a');
  EXPECT_EQ(t.chamber_id[g.vocab["Ġc"].get<int>()], 257);
  EXPECT_EQ(tokenizer_encode(t.tok, "aab c"), (std::vector<int>{258, 257}));
  ASSERT_EQ(t.notes.size(), 2u);  // renumbered, and another pre-tokenizer
  EXPECT_TRUE(contains(t.notes[0], "renumbered")) << t.notes[0];
  EXPECT_TRUE(contains(t.notes[1], "pre-tokenizer")) << t.notes[1];
}

TEST(TokenizerImportParsers, ChamberTokenizerJsonComesBackUnchanged) {
  std::vector<std::string> texts(3, "Natalia sold 48 clips in April, and then half as many clips in May.");
  Tokenizer tok = tokenizer_train(texts, 290);
  std::string dir = testing::temp_dir("tok-import-own");
  tokenizer_save(tok, dir + "/tokenizer.json");
  ImportedTokenizer t = tokenizer_import_hf_json(read_file(dir + "/tokenizer.json"), "tokenizer.json");
  EXPECT_TRUE(t.notes.empty());
  for (int i = 0; i < tok.vocab_size(); i++) EXPECT_EQ(t.chamber_id[i], i);
  tokenizer_save(t.tok, dir + "/again.json");
  EXPECT_EQ(read_file(dir + "/tokenizer.json"), read_file(dir + "/again.json"));
}

TEST(TokenizerImportParsers, VocabAndMergesErrors) {
  struct Case {
    const char* name;
    std::function<void(Gpt2Style&)> edit;
    std::vector<std::string> expect;
  };
  const std::vector<Case> cases = {
      {"gap", [](Gpt2Style& g) { g.vocab["aab"] = 400; }, {"vocab.json: vocab[\"aab\"] = 400 is outside [0, 260)"}},
      {"twice", [](Gpt2Style& g) { g.vocab["aab"] = 256; }, {"vocab.json", "id 256 is used by two tokens"}},
      {"text-id", [](Gpt2Style& g) { g.vocab["aab"] = "258"; }, {"vocab.json: vocab[\"aab\"] must be an integer id"}},
      {"no-eot", [](Gpt2Style& g) { g.vocab.erase("<|endoftext|>"); g.vocab["x y"] = 259; },
       {"vocab.json: there is no <|endoftext|> token"}},
      {"no-byte", [](Gpt2Style& g) { int id = g.vocab["A"]; g.vocab.erase("A"); g.vocab["AA"] = id; },
       {"vocab.json: no token stands for the byte 0x41 (\"A\")"}},
      {"not-byte-level", [](Gpt2Style& g) { g.vocab.erase("aab"); g.vocab["\u20ac"] = 258; },
       {"vocab.json: token \"\u20ac\" (id 258) is not spelled in the byte-level alphabet"}},
      {"special", [](Gpt2Style& g) { g.vocab["<pad>"] = 259; g.vocab["<|endoftext|>"] = 260; },
       {"vocab.json: token \"<pad>\" (id 259) is neither a single byte nor made by a merge of merges.txt"}},
      {"unknown-input", [](Gpt2Style& g) { g.merges += "zz b\n"; }, {"merges.txt: line 5 (\"zz\" \"b\") uses \"zz\", which is not a token"}},
      {"not-made", [](Gpt2Style& g) { g.merges += "c c\n"; }, {"merges.txt: line 5 (\"c\" \"c\") makes \"cc\", which is not a token of vocab.json"}},
      {"later-input", [](Gpt2Style& g) { g.merges += "a ab\n"; g.vocab["ab"] = 259; g.vocab["<|endoftext|>"] = 260; },
       {"merges.txt: line 5 (\"a\" \"ab\") uses \"ab\", which no earlier merge makes"}},
      {"remade", [](Gpt2Style& g) { g.merges = "#version: 0.2\na a\nĠ c\naa b\na ab\n"; },
       {"merges.txt: line 5 (\"a\" \"ab\") uses \"ab\""}},
      {"three-parts", [](Gpt2Style& g) { g.merges += "a b c\n"; }, {"merges.txt:5: \"a b c\" must be two tokens separated by one space"}},
      {"one-part", [](Gpt2Style& g) { g.merges += "ab\n"; }, {"merges.txt:5:"}},
      {"eot-merged", [](Gpt2Style& g) { g.merges += "<|endoftext|> a\n"; }, {"merges.txt: line 5", "which is not a token of vocab.json"}},
  };
  for (const Case& c : cases) {
    Gpt2Style g;
    c.edit(g);
    std::string err = g.error();
    for (const std::string& part : c.expect) EXPECT_TRUE(contains(err, part)) << c.name << ": " << err;
  }
  // A merge making a token a byte already is: "a" + "b" made twice is refused as well.
  Gpt2Style g;
  g.merges = "#version: 0.2\na a\nĠ c\naa b\naa b\n";
  EXPECT_TRUE(contains(g.error(), "line 5 (\"aa\" \"b\") makes \"aab\", which a byte or an earlier merge already makes")) << g.error();
  EXPECT_TRUE(contains(error_of([] { tokenizer_import_vocab_merges("[1]", "vocab.json", "", "merges.txt"); }),
                       "vocab.json: the top level must be a JSON object"));
  EXPECT_TRUE(contains(error_of([] { tokenizer_import_vocab_merges("{\"a\": ", "vocab.json", "", "merges.txt"); }),
                       "vocab.json: not valid JSON"));
}

TEST(TokenizerImportParsers, TokenizerJsonErrors) {
  Gpt2Style g;
  json good = {{"model", {{"type", "BPE"}, {"dropout", nullptr}, {"vocab", g.vocab},
                          {"merges", {"a a", {"Ġ", "c"}, "aa b"}}}},
               {"added_tokens", {{{"id", 259}, {"content", "<|endoftext|>"}, {"special", true}}}},
               {"normalizer", nullptr},
               {"pre_tokenizer", {{"type", "ByteLevel"}, {"add_prefix_space", false}}}};
  auto error = [](const json& j) { return error_of([&] { tokenizer_import_hf_json(j.dump(), "tokenizer.json"); }); };
  EXPECT_EQ(error(good), "");
  EXPECT_EQ(tokenizer_import_hf_json(good.dump(), "tokenizer.json").tok.token_bytes[257], " c");
  struct Case {
    const char* name;
    std::function<void(json&)> edit;
    std::string expect;
  };
  const std::vector<Case> cases = {
      {"type", [](json& j) { j["model"]["type"] = "WordPiece"; }, "tokenizer.json: model.type is \"WordPiece\""},
      {"no-model", [](json& j) { j.erase("model"); }, "tokenizer.json: 'model' must be an object"},
      {"dropout", [](json& j) { j["model"]["dropout"] = 0.1; }, "tokenizer.json: model.dropout must be null"},
      {"suffix", [](json& j) { j["model"]["end_of_word_suffix"] = "</w>"; }, "tokenizer.json: model.end_of_word_suffix"},
      {"ignore-merges", [](json& j) { j["model"]["ignore_merges"] = true; }, "tokenizer.json: model.ignore_merges"},
      {"fallback", [](json& j) { j["model"]["byte_fallback"] = true; }, "tokenizer.json: model.byte_fallback"},
      {"normalizer", [](json& j) { j["normalizer"] = {{"type", "NFC"}}; }, "tokenizer.json: normalizer is set"},
      {"vocab", [](json& j) { j["model"]["vocab"] = json::array(); }, "tokenizer.json: model.vocab must be an object"},
      {"merges", [](json& j) { j["model"]["merges"] = "a a"; }, "tokenizer.json: model.merges must be an array"},
      {"merge-int", [](json& j) { j["model"]["merges"][1] = 7; }, "tokenizer.json: model.merges[1] must be a [left, right]"},
      {"merge-spaces", [](json& j) { j["model"]["merges"][1] = "a  a"; }, "tokenizer.json: model.merges[1] must be"},
      {"added", [](json& j) { j["added_tokens"].push_back({{"id", 260}, {"content", "<|im_start|>"}}); },
       "tokenizer.json: added token \"<|im_start|>\" (id 260) cannot be imported"},
      {"added-id", [](json& j) { j["added_tokens"][0]["id"] = 3; }, "added_tokens gives <|endoftext|> id 3 but model.vocab gives 259"},
      {"added-shape", [](json& j) { j["added_tokens"] = {1}; }, "each added_tokens entry must be an object"},
      {"merge-order", [](json& j) { j["model"]["merges"] = {"aa b", "a a", "Ġ c"}; },
       "tokenizer.json: model.merges[0] (\"aa\" \"b\") uses \"aa\", which no earlier merge makes"},
  };
  for (const Case& c : cases) {
    json j = good;
    c.edit(j);
    std::string err = error(j);
    EXPECT_TRUE(contains(err, c.expect)) << c.name << ": " << err;
  }
  // <|endoftext|> listed only in added_tokens joins the vocabulary with its id.
  json j = good;
  j["model"]["vocab"].erase("<|endoftext|>");
  EXPECT_EQ(tokenizer_import_hf_json(j.dump(), "tokenizer.json").tok.eot_id, 259);
  EXPECT_TRUE(contains(error(json::array()), "tokenizer.json: the top level must be a JSON object"));
  EXPECT_TRUE(contains(error_of([] { tokenizer_import_hf_json("{\"model\"", "tokenizer.json"); }), "tokenizer.json: not valid JSON"));
}

TEST(TokenizerImportParsers, RandomBytesAreErrorsNotCrashes) {
  Gpt2Style g;
  const std::string vocab = g.vocab.dump();
  Rng rng(3);
  for (int trial = 0; trial < 300; trial++) {
    std::string v = vocab, m = g.merges;
    for (int k = 0; k < 3; k++) v[rng.below(v.size())] = (char)rng.below(256);
    for (int k = 0; k < 2; k++) m[rng.below(m.size())] = (char)rng.below(256);
    try {
      tokenizer_import_vocab_merges(v, "vocab.json", m, "merges.txt");  // a harmless flip may load
    } catch (const Error&) {
    }
  }
}

}  // namespace
}  // namespace chamber
