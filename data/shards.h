// Token shards: the binary files pretraining reads, and the loader that turns them into (B, T)
// batches with a deterministic, resumable cursor.
//
// File layout (little endian):
//   bytes 0..7    magic "CHMBTOK1"
//   u32           version (1)
//   u32           token width in bytes (2 or 4)
//   u64           token count
//   u32           vocab size (every token must be < this)
//   pad to 64 bytes with zeros, then count tokens of the given width.
// A reader checks magic, version, width, that the file size is exactly 64 + count*width, and that
// every token is below the vocab size; anything else is a chamber::Error naming the file.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace chamber {

void shard_write(const std::string& path, const std::vector<int>& tokens, int vocab_size);  // atomic
std::vector<int> shard_read(const std::string& path, int* vocab_size_out = nullptr);
// The checks and decoding of shard_read on bytes already in memory; errors name `name`.
std::vector<int> shard_from_bytes(std::string_view bytes, const std::string& name, int* vocab_size_out = nullptr);

// Where the loader is: which pass over the data, which shard, which token offset in it.
struct LoaderCursor {
  int64_t epoch = 0;
  int64_t shard = 0;
  int64_t offset = 0;
};
nlohmann::json cursor_to_json(const LoaderCursor& c);
LoaderCursor cursor_from_json(const nlohmann::json& j);   // Error on missing/ill-typed fields

// Yields batches of B rows of T+1 consecutive tokens (inputs = first T, targets = last T), walking
// the shards in order; a window never spans two shards; after the last shard it wraps to the first
// (epoch + 1). Same files + same cursor -> same batches, so a resumed run sees the same data.
struct DataLoader {
  std::vector<std::string> paths;
  std::vector<std::vector<int>> shards;   // loaded fully (the proxy-scale data fits in memory)
  int vocab_size = 0;
  int B = 0, T = 0;
  LoaderCursor cursor;
};
// Opens every shard matching `pattern` (a path with an optional '*' in the file name, sorted).
// Error if there are none or no shard holds at least T+1 tokens.
DataLoader loader_open(const std::string& pattern, int B, int T);
// Fills inputs and targets, each B*T ints, and advances the cursor.
void loader_next(DataLoader& dl, int* inputs, int* targets);
int64_t loader_total_tokens(const DataLoader& dl);
// Error naming the shard, the position and the id if any token is not below `vocab_size` (the
// model's): shards written by another tokenizer than the run's.
void loader_check_vocab(const DataLoader& dl, int vocab_size);

}  // namespace chamber
