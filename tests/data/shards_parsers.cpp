// Hostile token shards: truncated at every length, wrong magic/version/width/vocab, counts that
// disagree with the file size, tokens at or above the vocab size, random header flips. Every one
// must give a chamber::Error naming the file, never a crash (this file also runs under ASan+UBSan).
#include <gtest/gtest.h>

#include <cstring>

#include "data/shards.h"
#include "util/util.h"
#include "tests/test_util.h"

namespace chamber {
namespace {

struct ShardFiles {
  std::string dir;
  std::string good;  // bytes of a valid shard: vocab 300, tokens 0..9 (width 2)
  ShardFiles() : dir(testing::temp_dir("shards_parsers")) {
    std::string path = path_join(dir, "good.bin");
    shard_write(path, {0, 1, 2, 3, 4, 5, 6, 7, 8, 299}, 300);
    good = read_file(path);
  }
  // shard_from_bytes's Error message ("" if the bytes were accepted).
  std::string error_of(const std::string& bytes, std::vector<int>* tokens = nullptr) {
    const std::string name = "hostile/shard.bin";
    try {
      int vocab = 0;
      std::vector<int> t = shard_from_bytes(bytes, name, &vocab);
      for (int id : t) EXPECT_TRUE(id >= 0 && id < vocab);
      if (tokens) *tokens = t;
      return "";
    } catch (const Error& e) {
      std::string msg = e.what();
      EXPECT_NE(msg.find(name), std::string::npos) << "message does not name the file: " << msg;
      return msg.empty() ? "?" : msg;
    }
  }
};

void put_le(std::string& s, size_t at, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; i++) s[at + i] = (char)((v >> (8 * i)) & 0xff);
}

TEST(ShardParsers, GoodFileLoads) {
  ShardFiles f;
  ASSERT_EQ(f.good.size(), 64u + 10 * 2);
  std::vector<int> t;
  EXPECT_EQ(f.error_of(f.good, &t), "");
  EXPECT_EQ(t.back(), 299);
}

TEST(ShardParsers, TruncatedAtEveryLength) {
  ShardFiles f;
  for (size_t n = 0; n < f.good.size(); n++)
    EXPECT_NE(f.error_of(f.good.substr(0, n)), "") << "truncated to " << n << " bytes accepted";
  EXPECT_NE(f.error_of(f.good + '\0'), "") << "trailing byte accepted";
}

TEST(ShardParsers, BadHeaderFields) {
  ShardFiles f;
  auto with = [&](size_t at, uint64_t v, int bytes) {
    std::string s = f.good;
    put_le(s, at, v, bytes);
    return f.error_of(s);
  };
  for (size_t i = 0; i < 8; i++) {
    std::string s = f.good;
    s[i] ^= 0x20;
    EXPECT_NE(f.error_of(s).find("magic"), std::string::npos) << "magic byte " << i;
  }
  EXPECT_NE(with(8, 2, 4).find("version"), std::string::npos);
  EXPECT_NE(with(8, 0xffffffff, 4).find("version"), std::string::npos);
  for (uint64_t width : {0ull, 1ull, 3ull, 8ull, 0xffffffffull}) EXPECT_NE(with(12, width, 4).find("width"), std::string::npos);
  EXPECT_NE(with(12, 4, 4), "");  // width 4 with a width-2 payload: size mismatch
  for (uint64_t count : {9ull, 11ull, 0ull, 1ull << 63, ~0ull, (~0ull) / 2 + 1})
    EXPECT_NE(with(16, count, 8).find("tokens"), std::string::npos) << count;
  EXPECT_NE(with(24, 0, 4).find("vocab"), std::string::npos);
  EXPECT_NE(with(24, 0x80000000u, 4).find("vocab"), std::string::npos);
  EXPECT_NE(with(24, 299, 4).find("below the vocab"), std::string::npos);  // last token is 299
  EXPECT_NE(with(40, 1, 1).find("padding"), std::string::npos);
}

TEST(ShardParsers, TokenAtOrAboveVocab) {
  ShardFiles f;
  std::string s = f.good;
  put_le(s, 64 + 2 * 3, 300, 2);
  EXPECT_NE(f.error_of(s).find("position 3"), std::string::npos);
  put_le(s, 64 + 2 * 3, 0xffff, 2);
  EXPECT_NE(f.error_of(s), "");
  // Width 4: a token that would be negative as int32 is rejected too.
  std::string path = path_join(f.dir, "wide.bin");
  shard_write(path, {1, 2, 70000}, 70001);
  s = read_file(path);
  put_le(s, 64 + 4 * 2, 0xffffffffu, 4);
  EXPECT_NE(f.error_of(s), "");
}

// Shards written with a larger vocabulary than the model's (another tokenizer's build): the error
// names the shard, the position and the id, where the model would only name the id.
TEST(ShardParsers, IdsBeyondTheModelVocabNameTheShard) {
  ShardFiles f;
  shard_write(path_join(f.dir, "mix_000.bin"), {1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 300);
  shard_write(path_join(f.dir, "mix_001.bin"), {1, 2, 3, 299, 5, 6, 7, 8, 9, 10}, 300);
  DataLoader dl = loader_open(path_join(f.dir, "mix_*.bin"), 1, 4);
  EXPECT_EQ(testing::error_of([&] { loader_check_vocab(dl, 300); }), "");
  std::string msg = testing::error_of([&] { loader_check_vocab(dl, 260); });
  EXPECT_NE(msg.find("shard '" + path_join(f.dir, "mix_001.bin") + "': token 299 at position 3 is not below the "
                     "model's vocab size 260"), std::string::npos) << msg;
}

TEST(ShardParsers, RandomFlips) {
  ShardFiles f;
  Rng rng(99);
  int rejected = 0;
  for (int trial = 0; trial < 2000; trial++) {
    std::string s = f.good;
    for (int k = 0, n = 1 + (int)rng.below(3); k < n; k++) {
      size_t at = trial % 2 ? rng.below(64) : rng.below(s.size());
      s[at] = (char)rng.below(256);
    }
    if (rng.below(4) == 0) s.resize(rng.below(s.size() + 1));
    rejected += f.error_of(s) != "";  // accepted files are checked for tokens < vocab
  }
  EXPECT_GT(rejected, 500);
}

TEST(ShardParsers, LoaderNamesTheCorruptShard) {
  ShardFiles f;
  std::string dir = testing::temp_dir("shards_parsers_loader");
  shard_write(path_join(dir, "s_0.bin"), std::vector<int>(100, 7), 300);
  std::string bad = f.good;
  bad[0] = 'X';
  write_file_atomic(path_join(dir, "s_1.bin"), bad);
  try {
    loader_open(path_join(dir, "s_*.bin"), 2, 8);
    FAIL() << "corrupt shard accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("s_1.bin"), std::string::npos) << e.what();
  }
  EXPECT_THROW(shard_read(path_join(dir, "missing.bin")), Error);
  // The file reader goes through the same checks.
  write_file_atomic(path_join(dir, "short.bin"), f.good.substr(0, 70));
  try {
    shard_read(path_join(dir, "short.bin"));
    FAIL() << "truncated shard file accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("short.bin"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace chamber
