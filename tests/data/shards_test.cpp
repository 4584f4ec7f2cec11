// Token shards: write/read round trips at both widths, and the loader against a list of windows
// computed independently (never across shards, wrap-around with epoch + 1), determinism, and
// resuming from a cursor saved as JSON. Corrupt files are in shards_parsers.cpp.
#include <gtest/gtest.h>

#include "data/shards.h"
#include "data/tokenizer.h"
#include "util/util.h"
#include "tests/data/sample_text.h"
#include "tests/test_util.h"

namespace chamber {
namespace {

struct Batch {
  std::vector<int> inputs, targets;
  bool operator==(const Batch&) const = default;
};

Batch next_batch(DataLoader& dl) {
  Batch b{std::vector<int>((size_t)dl.B * dl.T), std::vector<int>((size_t)dl.B * dl.T)};
  loader_next(dl, b.inputs.data(), b.targets.data());
  return b;
}

// Shards whose tokens encode (shard, position) so a window's origin can be read back.
std::vector<std::vector<int>> write_shards(const std::string& dir, const std::vector<int>& sizes) {
  std::vector<std::vector<int>> all;
  for (size_t s = 0; s < sizes.size(); s++) {
    std::vector<int> t(sizes[s]);
    for (int i = 0; i < sizes[s]; i++) t[i] = (int)s * 1000 + i;
    shard_write(path_join(dir, "shard_" + std::to_string(s) + ".bin"), t, 5000);
    all.push_back(t);
  }
  return all;
}

TEST(Shards, RoundTripBothWidths) {
  std::string dir = testing::temp_dir("shards_roundtrip");
  for (int vocab : {1, 300, 65535, 65536, 1 << 20}) {
    std::vector<int> t = testing::random_tokens(1001, vocab, (uint64_t)vocab);
    t[0] = vocab - 1;  // the largest legal id
    std::string path = path_join(dir, std::to_string(vocab) + ".bin");
    shard_write(path, t, vocab);
    int width = vocab <= 65535 ? 2 : 4;
    EXPECT_EQ(read_file(path).size(), 64u + t.size() * width) << "vocab " << vocab;
    int vocab_back = 0;
    EXPECT_EQ(shard_read(path, &vocab_back), t);
    EXPECT_EQ(vocab_back, vocab);
  }
  shard_write(path_join(dir, "empty.bin"), {}, 10);
  EXPECT_TRUE(shard_read(path_join(dir, "empty.bin")).empty());
  EXPECT_FALSE(file_exists(path_join(dir, "empty.bin.tmp")));
}

TEST(Shards, WriteRejectsTokensOutsideVocab) {
  std::string dir = testing::temp_dir("shards_reject");
  EXPECT_THROW(shard_write(path_join(dir, "a.bin"), {1, 2, 300}, 300), Error);
  EXPECT_THROW(shard_write(path_join(dir, "a.bin"), {1, -1}, 300), Error);
  EXPECT_THROW(shard_write(path_join(dir, "a.bin"), {1}, 0), Error);
  EXPECT_FALSE(file_exists(path_join(dir, "a.bin")));
}

TEST(Loader, WindowsFollowShardsAndWrap) {
  std::string dir = testing::temp_dir("loader_windows");
  const int B = 3, T = 8;
  // Shard 1 is shorter than T+1 and is skipped; shard 2 leaves a remainder that is skipped.
  auto shards = write_shards(dir, {40, 5, 30});
  // Independent list of window starts in one epoch: (shard, offset).
  std::vector<std::pair<int, int>> starts;
  for (int s = 0; s < (int)shards.size(); s++)
    for (int off = 0; off + T + 1 <= (int)shards[s].size(); off += T) starts.push_back({s, off});
  ASSERT_EQ(starts.size(), 4u + 0u + 3u);

  DataLoader dl = loader_open(path_join(dir, "shard_*.bin"), B, T);
  ASSERT_EQ(dl.paths.size(), 3u);
  EXPECT_EQ(dl.vocab_size, 5000);
  EXPECT_EQ(loader_total_tokens(dl), 75);
  size_t window = 0;
  for (int step = 0; step < 10; step++) {
    Batch b = next_batch(dl);
    for (int row = 0; row < B; row++, window++) {
      auto [s, off] = starts[window % starts.size()];
      for (int t = 0; t < T; t++) {
        ASSERT_EQ(b.inputs[row * T + t], shards[s][off + t]) << "step " << step << " row " << row;
        ASSERT_EQ(b.targets[row * T + t], shards[s][off + t + 1]);
      }
    }
    EXPECT_EQ(dl.cursor.epoch, (int64_t)((window - 1) / starts.size()));
  }
}

TEST(Loader, SameFilesSameBatchesAndResumeFromCursor) {
  std::string dir = testing::temp_dir("loader_resume");
  write_shards(dir, {100, 57, 81});
  std::string pattern = path_join(dir, "shard_*.bin");
  DataLoader a = loader_open(pattern, 2, 7), b = loader_open(pattern, 2, 7);
  for (int i = 0; i < 5; i++) ASSERT_EQ(next_batch(a), next_batch(b));

  // Save the cursor as a checkpoint would (JSON text), reopen, continue: the same batches.
  std::string saved = cursor_to_json(a.cursor).dump();
  std::vector<Batch> continued;
  for (int i = 0; i < 40; i++) continued.push_back(next_batch(a));  // crosses several epochs
  DataLoader resumed = loader_open(pattern, 2, 7);
  resumed.cursor = cursor_from_json(nlohmann::json::parse(saved));
  for (int i = 0; i < 40; i++) ASSERT_EQ(next_batch(resumed), continued[i]) << "batch " << i;
  EXPECT_EQ(resumed.cursor.epoch, a.cursor.epoch);
  EXPECT_GT(a.cursor.epoch, 1);
}

TEST(Loader, CursorJsonRoundTripAndErrors) {
  LoaderCursor c{3, 1, 12345678901};
  LoaderCursor back = cursor_from_json(nlohmann::json::parse(cursor_to_json(c).dump()));
  EXPECT_EQ(back.epoch, 3);
  EXPECT_EQ(back.shard, 1);
  EXPECT_EQ(back.offset, 12345678901);
  for (const char* bad : {"[]", "{}", R"({"epoch": 0, "shard": 0})", R"({"epoch": 0, "shard": "0", "offset": 0})",
                          R"({"epoch": 0, "shard": 0, "offset": -1})", R"({"epoch": 0.5, "shard": 0, "offset": 0})",
                          R"({"epoch": 18446744073709551615, "shard": 0, "offset": 0})"})
    EXPECT_THROW(cursor_from_json(nlohmann::json::parse(bad)), Error) << bad;
}

TEST(Loader, OpenErrors) {
  std::string dir = testing::temp_dir("loader_errors");
  EXPECT_THROW(loader_open(path_join(dir, "none_*.bin"), 1, 4), Error);
  EXPECT_THROW(loader_open(path_join(dir, "missing.bin"), 1, 4), Error);
  write_shards(dir, {5, 6});
  EXPECT_THROW(loader_open(path_join(dir, "shard_*.bin"), 1, 6), Error);  // no shard has T+1 = 7
  EXPECT_NO_THROW(loader_open(path_join(dir, "shard_*.bin"), 1, 5));
  EXPECT_NO_THROW(loader_open(path_join(dir, "shard_1.bin"), 1, 5));       // a single file, no '*'
  EXPECT_THROW(loader_open(path_join(dir, "shard_*.bin"), 0, 5), Error);
  EXPECT_THROW(loader_open(path_join(dir, "shard_*.bin"), 1, 0), Error);
  EXPECT_THROW(loader_open(path_join(dir, "*/shard_0.bin"), 1, 4), Error);  // wildcard in a directory
  shard_write(path_join(dir, "shard_2.bin"), {1, 2, 3, 4, 5, 6, 7}, 70000);  // another vocab
  try {
    loader_open(path_join(dir, "shard_*.bin"), 1, 4);
    FAIL() << "mixed vocab sizes accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("shard_2.bin"), std::string::npos) << e.what();
  }
}

TEST(Loader, CursorThatDoesNotFitTheDataIsAnError) {
  std::string dir = testing::temp_dir("loader_bad_cursor");
  write_shards(dir, {50, 50});
  DataLoader dl = loader_open(path_join(dir, "shard_*.bin"), 2, 4);
  dl.cursor = LoaderCursor{0, 2, 0};
  EXPECT_THROW(next_batch(dl), Error);
  dl.cursor = LoaderCursor{0, 1, 51};
  EXPECT_THROW(next_batch(dl), Error);
  dl.cursor = LoaderCursor{0, 1, 50};  // end of the last shard: wraps to the next epoch
  Batch b = next_batch(dl);
  EXPECT_EQ(b.inputs[0], 0);
  EXPECT_EQ(dl.cursor.epoch, 1);
}

TEST(Loader, TrainEncodeShardLoadDecode) {
  // The whole data path: train a tokenizer, encode documents separated by <|endoftext|>, write a
  // shard, load batches and decode them back into the original text.
  std::string dir = testing::temp_dir("loader_text");
  std::vector<std::string> docs = {testing::sample_text(1, 3000), testing::sample_text(2, 3000)};
  Tokenizer tok = tokenizer_train(docs, 600);
  std::vector<int> stream;
  for (const auto& d : docs) {
    std::vector<int> ids = tokenizer_encode(tok, d);
    stream.insert(stream.end(), ids.begin(), ids.end());
    stream.push_back(tok.eot_id);
  }
  shard_write(path_join(dir, "text.bin"), stream, tok.vocab_size());
  const int T = 64;
  DataLoader dl = loader_open(path_join(dir, "text.bin"), 1, T);
  std::vector<int> seen;
  for (size_t i = 0; i < (stream.size() - 1) / T; i++) {
    Batch b = next_batch(dl);
    seen.insert(seen.end(), b.inputs.begin(), b.inputs.end());
  }
  std::string expected = docs[0] + "<|endoftext|>" + docs[1];
  EXPECT_EQ(tokenizer_decode(tok, seen), expected.substr(0, tokenizer_decode(tok, seen).size()));
  EXPECT_GT(seen.size(), stream.size() - T - 1);
}

}  // namespace
}  // namespace chamber
