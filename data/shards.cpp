// Token shards and the batch loader (layout and contract in shards.h).
//
// Width: 2 bytes per token when every id fits in a u16 (vocab <= 65535, the usual case: half the
// disk and page cache), else 4. The reader trusts nothing: magic, version, width, the exact file
// size for the stated count (checked without overflow) and every token against the vocab size.
//
// Loader walk: a window of T+1 tokens starts at cursor.offset in shard cursor.shard; after it the
// offset moves on by T, so consecutive windows share one token and every token except a shard's
// first is a target exactly once per epoch. When the next window would run past the end of the
// shard the loader moves to the next shard (the few tokens left over are skipped this epoch);
// after the last shard it wraps to shard 0 and epoch + 1. No randomness: the cursor alone says
// where the data stream is, so saving it in a checkpoint makes a resumed run see the same batches.
#include "data/shards.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fnmatch.h>

#include "util/util.h"

namespace chamber {

namespace {

constexpr char kMagic[8] = {'C', 'H', 'M', 'B', 'T', 'O', 'K', '1'};
constexpr uint32_t kVersion = 1;
constexpr size_t kHeaderBytes = 64;

void put_u32(std::string& s, size_t at, uint32_t v) {
  for (int i = 0; i < 4; i++) s[at + i] = (char)((v >> (8 * i)) & 0xff);
}
void put_u64(std::string& s, size_t at, uint64_t v) {
  for (int i = 0; i < 8; i++) s[at + i] = (char)((v >> (8 * i)) & 0xff);
}
uint64_t get_le(std::string_view s, size_t at, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; i++) v |= (uint64_t)(unsigned char)s[at + i] << (8 * i);
  return v;
}

}  // namespace

void shard_write(const std::string& path, const std::vector<int>& tokens, int vocab_size) {
  if (vocab_size <= 0) fail("shard_write '", path, "': vocab size must be positive, got ", vocab_size);
  const uint32_t width = vocab_size <= 65535 ? 2 : 4;
  std::string buf(kHeaderBytes + tokens.size() * width, '\0');
  std::memcpy(buf.data(), kMagic, 8);
  put_u32(buf, 8, kVersion);
  put_u32(buf, 12, width);
  put_u64(buf, 16, tokens.size());
  put_u32(buf, 24, (uint32_t)vocab_size);
  size_t at = kHeaderBytes;
  for (size_t i = 0; i < tokens.size(); i++) {
    int t = tokens[i];
    if (t < 0 || t >= vocab_size)
      fail("shard_write '", path, "': token ", t, " at position ", i, " is outside [0, ", vocab_size, ")");
    for (uint32_t k = 0; k < width; k++) buf[at++] = (char)(((uint32_t)t >> (8 * k)) & 0xff);
  }
  write_file_atomic(path, buf);
}

std::vector<int> shard_read(const std::string& path, int* vocab_size_out) {
  return shard_from_bytes(read_file(path), path, vocab_size_out);
}

std::vector<int> shard_from_bytes(std::string_view buf, const std::string& path, int* vocab_size_out) {
  if (buf.size() < kHeaderBytes)
    fail("shard '", path, "': ", buf.size(), " bytes is shorter than the 64-byte header (truncated?)");
  if (std::memcmp(buf.data(), kMagic, 8) != 0)
    fail("shard '", path, "': bad magic (expected \"CHMBTOK1\"); not a Chamber token shard");
  uint64_t version = get_le(buf, 8, 4);
  if (version != kVersion)
    fail("shard '", path, "': version ", version, " is not supported (this build reads version 1)");
  uint64_t width = get_le(buf, 12, 4);
  if (width != 2 && width != 4) fail("shard '", path, "': token width ", width, " must be 2 or 4");
  uint64_t count = get_le(buf, 16, 8);
  uint64_t vocab = get_le(buf, 24, 4);
  if (vocab == 0 || vocab > (uint64_t)INT32_MAX)
    fail("shard '", path, "': vocab size ", vocab, " must be in [1, 2^31)");
  for (size_t i = 28; i < kHeaderBytes; i++)
    if (buf[i] != 0) fail("shard '", path, "': header padding byte ", i, " is not zero (corrupt header)");
  uint64_t payload = buf.size() - kHeaderBytes;
  if (payload % width != 0 || payload / width != count)
    fail("shard '", path, "': header says ", count, " tokens of ", width, " bytes but the file holds ",
         payload, " bytes after the header (truncated or corrupt)");
  std::vector<int> tokens(count);
  const unsigned char* p = (const unsigned char*)buf.data() + kHeaderBytes;
  for (uint64_t i = 0; i < count; i++, p += width) {
    uint64_t t = width == 2 ? (uint64_t)(p[0] | (p[1] << 8)) : get_le(buf, kHeaderBytes + i * 4, 4);
    if (t >= vocab)
      fail("shard '", path, "': token ", t, " at position ", i, " is not below the vocab size ", vocab);
    tokens[i] = (int)t;
  }
  if (vocab_size_out) *vocab_size_out = (int)vocab;
  return tokens;
}

nlohmann::json cursor_to_json(const LoaderCursor& c) {
  return {{"epoch", c.epoch}, {"shard", c.shard}, {"offset", c.offset}};
}

LoaderCursor cursor_from_json(const nlohmann::json& j) {
  if (!j.is_object()) fail("loader cursor: must be a JSON object with epoch, shard, offset");
  auto get = [&](const char* key) -> int64_t {
    auto it = j.find(key);
    if (it == j.end()) fail("loader cursor: missing field '", key, "'");
    if (!it->is_number_integer()) fail("loader cursor: field '", key, "' must be an integer, not ", it->type_name());
    if (it->is_number_unsigned() && it->get<uint64_t>() > (uint64_t)INT64_MAX)
      fail("loader cursor: field '", key, "' is too large");
    int64_t v = it->get<int64_t>();
    if (v < 0) fail("loader cursor: field '", key, "' must be >= 0, got ", v);
    return v;
  };
  LoaderCursor c;
  c.epoch = get("epoch");
  c.shard = get("shard");
  c.offset = get("offset");
  return c;
}

DataLoader loader_open(const std::string& pattern, int B, int T) {
  if (B <= 0 || T <= 0) fail("loader_open '", pattern, "': B and T must be positive, got B=", B, " T=", T);
  DataLoader dl;
  dl.B = B;
  dl.T = T;
  size_t slash = pattern.find_last_of('/');
  std::string dir = slash == std::string::npos ? "." : pattern.substr(0, slash + 1);
  std::string file_pattern = slash == std::string::npos ? pattern : pattern.substr(slash + 1);
  if (dir.find_first_of("*?[") != std::string::npos)
    fail("loader_open '", pattern, "': wildcards are only allowed in the file name, not the directory");
  if (file_pattern.find_first_of("*?[") == std::string::npos) {
    if (!file_exists(pattern)) fail("loader_open: shard file '", pattern, "' does not exist");
    dl.paths.push_back(pattern);
  } else {
    std::error_code ec;
    for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
      std::string file = it->path().filename().string();
      if (fnmatch(file_pattern.c_str(), file.c_str(), FNM_PERIOD) == 0 && file_exists(it->path().string()))
        dl.paths.push_back(slash == std::string::npos ? file : dir + file);
    }
    if (ec) fail("loader_open '", pattern, "': cannot list directory '", dir, "': ", ec.message());
    std::sort(dl.paths.begin(), dl.paths.end());
    if (dl.paths.empty()) fail("loader_open: no shard files match '", pattern, "'");
  }
  bool any_window = false;
  for (const std::string& path : dl.paths) {
    int vocab = 0;
    dl.shards.push_back(shard_read(path, &vocab));
    if (dl.vocab_size != 0 && vocab != dl.vocab_size)
      fail("loader_open: shard '", path, "' has vocab size ", vocab, " but '", dl.paths[0], "' has ",
           dl.vocab_size, " (shards from different tokenizers?)");
    dl.vocab_size = vocab;
    if ((int64_t)dl.shards.back().size() >= (int64_t)T + 1) any_window = true;
  }
  if (!any_window)
    fail("loader_open '", pattern, "': no shard holds T+1 = ", T + 1, " tokens; use a smaller "
         "sequence length or more data");
  return dl;
}

void loader_next(DataLoader& dl, int* inputs, int* targets) {
  const int64_t n_shards = (int64_t)dl.shards.size();
  LoaderCursor& c = dl.cursor;
  if (n_shards == 0) fail("loader_next: loader has no shards (use loader_open)");
  if (c.shard < 0 || c.shard >= n_shards || c.offset < 0 || c.epoch < 0 ||
      c.offset > (int64_t)dl.shards[c.shard].size())
    fail("loader_next: cursor (epoch ", c.epoch, ", shard ", c.shard, ", offset ", c.offset,
         ") does not fit these ", n_shards, " shards (resuming with different data?)");
  const int64_t T = dl.T;
  for (int b = 0; b < dl.B; b++) {
    // Find the next shard position with a whole window; loader_open guaranteed one exists (the
    // step count guards against a loader whose T was changed afterwards).
    for (int64_t steps = 0; c.offset + T + 1 > (int64_t)dl.shards[c.shard].size(); steps++) {
      if (steps > n_shards) fail("loader_next: no shard holds T+1 = ", T + 1, " tokens");
      c.offset = 0;
      if (++c.shard == n_shards) {
        c.shard = 0;
        c.epoch++;
      }
    }
    const int* src = dl.shards[c.shard].data() + c.offset;
    std::memcpy(inputs + (size_t)b * T, src, T * sizeof(int));
    std::memcpy(targets + (size_t)b * T, src + 1, T * sizeof(int));
    c.offset += T;
  }
}

int64_t loader_total_tokens(const DataLoader& dl) {
  int64_t total = 0;
  for (const auto& s : dl.shards) total += (int64_t)s.size();
  return total;
}

void loader_check_vocab(const DataLoader& dl, int vocab_size) {
  if (dl.vocab_size <= vocab_size) return;   // shard_read checked every id against the header's vocab
  for (size_t s = 0; s < dl.shards.size(); s++) {
    const std::vector<int>& tokens = dl.shards[s];
    for (size_t i = 0; i < tokens.size(); i++)
      if (tokens[i] >= vocab_size)
        fail("shard '", dl.paths[s], "': token ", tokens[i], " at position ", i, " is not below the model's vocab size ",
             vocab_size, " (the shard was written with a vocabulary of ", dl.vocab_size, "; shards and tokenizer from ",
             "different builds? delete the data directory to rebuild it)");
  }
}

}  // namespace chamber
