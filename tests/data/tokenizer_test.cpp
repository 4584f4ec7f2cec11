// Tokenizer: the pre-tokenizer against std::regex running the same pattern; training and encoding
// against deliberately naive references (recount every pair each merge; merge one pair at a time);
// exact round trips on arbitrary bytes; digits one per token; determinism; tokenizer.json round
// trip. (The comparison with Hugging Face `tokenizers` is in tokenizer_hf_test.cpp; corrupt files
// in tokenizer_parsers.cpp.)
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>

#include "data/tokenizer.h"
#include "util/util.h"
#include "tests/data/sample_text.h"
#include "tests/test_util.h"

namespace chamber {
namespace {

using Pieces = std::vector<std::string>;

Pieces pieces_of(std::string_view text) {
  Pieces out;
  for (std::string_view p : tokenizer_pretokenize(text)) out.emplace_back(p);
  return out;
}

// Reference pre-tokenizer: std::regex (ECMAScript: leftmost alternative wins, lookahead supported).
Pieces regex_pieces(const std::string& text) {
  static const std::regex re(kPretokenizerPattern);
  Pieces out;
  for (auto it = std::sregex_iterator(text.begin(), text.end(), re); it != std::sregex_iterator(); ++it)
    out.push_back(it->str());
  return out;
}

// Naive BPE training: every merge recounts all pairs over every occurrence of every piece.
Tokenizer naive_train(const std::vector<std::string>& texts, int vocab_size) {
  std::vector<std::vector<int>> words;
  for (const auto& t : texts)
    for (auto p : tokenizer_pretokenize(t)) {
      std::vector<int> w;
      for (unsigned char c : p) w.push_back(c);
      words.push_back(w);
    }
  Tokenizer tok;
  for (int b = 0; b < 256; b++) tok.token_bytes.push_back(std::string(1, (char)b));
  std::set<std::string> known(tok.token_bytes.begin(), tok.token_bytes.end());
  while (tok.vocab_size() < vocab_size - 1) {
    std::map<std::pair<int, int>, int64_t> counts;  // ordered: ties go to the smallest pair
    for (const auto& w : words)
      for (size_t i = 0; i + 1 < w.size(); i++) counts[{w[i], w[i + 1]}]++;
    std::pair<int, int> best{-1, -1};
    int64_t best_count = 0;
    for (auto& [p, c] : counts)
      if (c > best_count && !known.count(tok.token_bytes[p.first] + tok.token_bytes[p.second])) {
        best = p;
        best_count = c;
      }
    if (best_count == 0) break;
    int z = tok.vocab_size();
    tok.merges.push_back(best);
    tok.token_bytes.push_back(tok.token_bytes[best.first] + tok.token_bytes[best.second]);
    known.insert(tok.token_bytes.back());
    for (auto& w : words) {
      std::vector<int> out;
      for (size_t i = 0; i < w.size(); i++) {
        if (i + 1 < w.size() && w[i] == best.first && w[i + 1] == best.second) {
          out.push_back(z);
          i++;
        } else {
          out.push_back(w[i]);
        }
      }
      w = out;
    }
  }
  tok.eot_id = tok.vocab_size();
  tok.token_bytes.push_back("<|endoftext|>");
  tokenizer_finalize(tok);
  return tok;
}

// Naive BPE encoding: per piece, apply the single lowest-rank, leftmost merge until none applies.
std::vector<int> naive_encode(const Tokenizer& tok, std::string_view text) {
  std::map<std::pair<int, int>, int> rank;
  for (int r = 0; r < (int)tok.merges.size(); r++) rank[tok.merges[r]] = r;
  std::vector<int> out;
  for (auto p : tokenizer_pretokenize(text)) {
    std::vector<int> w;
    for (unsigned char c : p) w.push_back(c);
    for (;;) {
      int best = -1, at = -1;
      for (size_t i = 0; i + 1 < w.size(); i++) {
        auto it = rank.find({w[i], w[i + 1]});
        if (it != rank.end() && (best < 0 || it->second < best)) best = it->second, at = (int)i;
      }
      if (best < 0) break;
      w[at] = 256 + best;
      w.erase(w.begin() + at + 1);
    }
    out.insert(out.end(), w.begin(), w.end());
  }
  return out;
}

std::string random_bytes(Rng& rng, size_t n, int alphabet = 256) {
  std::string s(n, '\0');
  for (char& c : s) c = (char)rng.below(alphabet);
  return s;
}

TEST(Pretokenize, HandPickedSplits) {
  EXPECT_EQ(pieces_of("Hello world!"), (Pieces{"Hello", " world", "!"}));
  EXPECT_EQ(pieces_of("12+345=357"), (Pieces{"1", "2", "+", "3", "4", "5", "=", "3", "5", "7"}));
  EXPECT_EQ(pieces_of("x = 42"), (Pieces{"x", " =", " 4", "2"}));
  EXPECT_EQ(pieces_of("a   b"), (Pieces{"a", "  ", " b"}));
  EXPECT_EQ(pieces_of("x\n\ny"), (Pieces{"x", "\n", "\n", "y"}));
  EXPECT_EQ(pieces_of("end  "), (Pieces{"end", "  "}));
  EXPECT_EQ(pieces_of(" ...\tTom's"), (Pieces{" ...", "\t", "Tom", "'", "s"}));
  EXPECT_EQ(pieces_of("caf\xc3\xa9!"), (Pieces{"caf", "\xc3\xa9!"}));  // bytes >= 0x80 are punctuation
  EXPECT_EQ(pieces_of(std::string("a\0b", 3)), (Pieces{"a", std::string(1, '\0'), "b"}));
  EXPECT_TRUE(pieces_of("").empty());
}

TEST(Pretokenize, MatchesStdRegexOnRandomAsciiText) {
  // Characters chosen so that every alternative and the lookahead back-off get exercised.
  const std::string alphabet = "ab Z09 \t\n\r\v\f.,!-";
  Rng rng(7);
  for (int trial = 0; trial < 300; trial++) {
    std::string s;
    for (size_t i = 0, n = rng.below(40); i < n; i++) s += alphabet[rng.below(alphabet.size())];
    ASSERT_EQ(pieces_of(s), regex_pieces(s)) << "text: " << ::testing::PrintToString(s);
  }
}

TEST(Pretokenize, PiecesCoverArbitraryBytes) {
  Rng rng(3);
  for (int trial = 0; trial < 200; trial++) {
    std::string s = random_bytes(rng, rng.below(300));
    std::string joined;
    for (auto p : tokenizer_pretokenize(s)) {
      ASSERT_FALSE(p.empty());
      joined += p;
    }
    ASSERT_EQ(joined, s);
  }
}

TEST(Tokenizer, TrainingMatchesNaiveReference) {
  for (uint64_t seed = 1; seed <= 3; seed++) {
    std::vector<std::string> texts = {testing::sample_text(seed, 3000), testing::sample_text(seed + 10, 2000)};
    Rng rng(seed);
    texts.push_back(random_bytes(rng, 500, 4) + random_bytes(rng, 300));  // repeats like "aaaa"
    Tokenizer fast = tokenizer_train(texts, 600);
    Tokenizer slow = naive_train(texts, 600);
    ASSERT_EQ(fast.merges, slow.merges) << "seed " << seed;
    ASSERT_EQ(fast.token_bytes, slow.token_bytes);
    EXPECT_EQ(fast.eot_id, fast.vocab_size() - 1);
  }
}

TEST(Tokenizer, EncodingMatchesNaiveReference) {
  Tokenizer tok = tokenizer_train({testing::sample_text(11, 20000)}, 700);
  Rng rng(5);
  for (int trial = 0; trial < 50; trial++) {
    std::string text = trial % 2 ? testing::sample_text(100 + trial, 500) : random_bytes(rng, 300, 128);
    ASSERT_EQ(tokenizer_encode(tok, text), naive_encode(tok, text)) << "trial " << trial;
  }
  // A long single piece takes the same path as a short one.
  std::string long_word(5000, 'a');
  for (size_t i = 0; i < long_word.size(); i += 7) long_word[i] = 't';
  EXPECT_EQ(tokenizer_encode(tok, long_word), naive_encode(tok, long_word));
}

TEST(Tokenizer, RoundTripsArbitraryBytes) {
  Rng rng(42);
  std::vector<std::string> texts = {testing::sample_text(1, 20000), random_bytes(rng, 20000)};
  Tokenizer tok = tokenizer_train(texts, 1000);
  ASSERT_EQ(tok.vocab_size(), 1000);
  for (int trial = 0; trial < 200; trial++) {
    std::string s = random_bytes(rng, rng.below(2000), trial % 3 == 0 ? 4 : 256);  // NULs, invalid UTF-8
    std::vector<int> ids = tokenizer_encode(tok, s);
    for (int id : ids) ASSERT_TRUE(id >= 0 && id < tok.eot_id);
    ASSERT_EQ(tokenizer_decode(tok, ids), s);
  }
  EXPECT_TRUE(tokenizer_encode(tok, "").empty());
}

TEST(Tokenizer, NumbersAreSpelledDigitByDigit) {
  Tokenizer tok = tokenizer_train({testing::sample_text(2, 100000)}, 1200);
  for (const std::string& t : tok.token_bytes)
    EXPECT_LE(std::count_if(t.begin(), t.end(), [](char c) { return c >= '0' && c <= '9'; }), 1)
        << "token '" << t << "' holds two digits";
  std::vector<int> ids = tokenizer_encode(tok, "12345+678=13023");
  std::vector<std::string> spelled;
  for (int id : ids) spelled.push_back(tok.token_bytes[id]);
  EXPECT_EQ(spelled, (std::vector<std::string>{"1", "2", "3", "4", "5", "+", "6", "7", "8", "=", "1",
                                               "3", "0", "2", "3"}));
  // With a leading space the first digit carries it, the rest are bare digits.
  ids = tokenizer_encode(tok, " 907");
  ASSERT_EQ(ids.size(), 3u);
  EXPECT_EQ(tokenizer_decode(tok, {ids[1], ids[2]}), "07");
}

TEST(Tokenizer, TrainingIsDeterministicAndOrderFree) {
  std::vector<std::string> texts = {testing::sample_text(5, 30000), testing::sample_text(6, 30000), "zzz zzz"};
  Tokenizer a = tokenizer_train(texts, 900);
  Tokenizer b = tokenizer_train(texts, 900);
  std::reverse(texts.begin(), texts.end());
  Tokenizer c = tokenizer_train(texts, 900);  // counts do not depend on the order of documents
  EXPECT_EQ(a.merges, b.merges);
  EXPECT_EQ(a.merges, c.merges);
  EXPECT_EQ(a.token_bytes, c.token_bytes);
}

TEST(Tokenizer, LearnsCommonWordsAndCompresses) {
  std::string text = testing::sample_text(9, 200000);
  Tokenizer tok = tokenizer_train({text}, 1024);
  std::vector<int> ids = tokenizer_encode(tok, text);
  EXPECT_LT(ids.size(), text.size() / 2);  // English + arithmetic: well under 2 bytes per token
  std::vector<int> the = tokenizer_encode(tok, " the apples");
  EXPECT_EQ(the.size(), 2u);
  EXPECT_EQ(tokenizer_decode(tok, ids), text);
}

TEST(Tokenizer, TokenBytesAreDistinct) {
  // Corpora over a tiny alphabet give the most chances for the same bytes to be reachable by two
  // merge paths, e.g. (ab, c) and (a, bc); every token text must still map to one id.
  Rng rng(8);
  for (int trial = 0; trial < 5; trial++) {
    Tokenizer tok = tokenizer_train({random_bytes(rng, 4000, 3), random_bytes(rng, 100, 2)}, 500);
    std::set<std::string> distinct(tok.token_bytes.begin(), tok.token_bytes.end());
    EXPECT_EQ(distinct.size(), tok.token_bytes.size());
  }
}

TEST(Tokenizer, SmallCorpusStopsEarly) {
  Tokenizer tok = tokenizer_train({"ab ab"}, 1000);
  // pieces "ab", " ab": merges (a,b) then (' ', ab)
  EXPECT_EQ(tok.merges.size(), 2u);
  EXPECT_EQ(tok.vocab_size(), 259);
  EXPECT_EQ(tok.eot_id, 258);
  EXPECT_EQ(tokenizer_encode(tok, "ab ab"), (std::vector<int>{256, 257}));
  EXPECT_EQ(tokenizer_decode(tok, {tok.eot_id}), "<|endoftext|>");
  Tokenizer empty = tokenizer_train({}, 300);
  EXPECT_EQ(empty.vocab_size(), 257);
}

TEST(Tokenizer, EncodeNeverProducesTheSpecialToken) {
  Tokenizer tok = tokenizer_train({testing::sample_text(4, 5000)}, 400);
  std::vector<int> ids = tokenizer_encode(tok, "a<|endoftext|>b");
  EXPECT_EQ(std::count(ids.begin(), ids.end(), tok.eot_id), 0);
  EXPECT_EQ(tokenizer_decode(tok, ids), "a<|endoftext|>b");
}

TEST(Tokenizer, RejectsBadArguments) {
  EXPECT_THROW(tokenizer_train({"abc"}, 256), Error);
  Tokenizer tok = tokenizer_train({"abc abc"}, 300);
  EXPECT_THROW(tokenizer_decode(tok, {0, tok.vocab_size()}), Error);
  EXPECT_THROW(tokenizer_decode(tok, {-1}), Error);
  Tokenizer unfinalized = tok;
  unfinalized.merge_rank.clear();
  EXPECT_THROW(tokenizer_encode(unfinalized, "abc"), Error);
  Tokenizer bad = tok;
  bad.merges.push_back({5, 9999});
  bad.token_bytes.insert(bad.token_bytes.end() - 1, "x");
  EXPECT_THROW(tokenizer_finalize(bad), Error);
}

TEST(Tokenizer, JsonRoundTrip) {
  Rng rng(12);
  Tokenizer tok = tokenizer_train({testing::sample_text(3, 50000), random_bytes(rng, 5000)}, 800);
  std::string dir = testing::temp_dir("tokenizer_json");
  std::string path = path_join(dir, "tokenizer.json");
  tokenizer_save(tok, path);
  EXPECT_FALSE(file_exists(path + ".tmp"));
  Tokenizer back = tokenizer_load(path);
  EXPECT_EQ(back.token_bytes, tok.token_bytes);
  EXPECT_EQ(back.merges, tok.merges);
  EXPECT_EQ(back.eot_id, tok.eot_id);
  std::string text = testing::sample_text(77, 3000) + random_bytes(rng, 500);
  EXPECT_EQ(tokenizer_encode(back, text), tokenizer_encode(tok, text));
  // Saving what was loaded gives the same file byte for byte.
  std::string again = path_join(dir, "again.json");
  tokenizer_save(back, again);
  EXPECT_EQ(read_file(again), read_file(path));
}

TEST(Tokenizer, JsonAcceptsMergesAsStrings) {
  // Older `tokenizers` versions write merges as "left right" strings.
  Tokenizer tok = tokenizer_train({testing::sample_text(3, 5000)}, 300);
  std::string dir = testing::temp_dir("tokenizer_json_strings");
  tokenizer_save(tok, path_join(dir, "t.json"));
  nlohmann::json j = nlohmann::json::parse(read_file(path_join(dir, "t.json")));
  for (auto& m : j["model"]["merges"]) m = m[0].get<std::string>() + " " + m[1].get<std::string>();
  Tokenizer back = tokenizer_from_json(j.dump(), "strings.json");
  EXPECT_EQ(back.merges, tok.merges);
}

}  // namespace
}  // namespace chamber
