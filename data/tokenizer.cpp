// Byte-level BPE: the pre-tokenizer, encoding and decoding (training is in tokenizer_train.cpp,
// tokenizer.json in tokenizer_json.cpp).
//
// Pre-tokenizer. A hand-written matcher for kPretokenizerPattern, tried left to right at each
// position, first alternative that matches wins (regex alternation semantics):
//   1. ` ?[A-Za-z]+`        a word with its leading space
//   2. ` ?[0-9]`            ONE digit (numbers are spelled digit by digit)
//   3. ` ?[^\sA-Za-z0-9]+`  a run of punctuation (bytes >= 0x80 count as punctuation)
//   4. `\s+(?!\S)`          whitespace, leaving the last space of a run for the next word
//   5. `\s+`                a single whitespace byte right before a non-space (e.g. "\n" in "\nx")
// Alternative 4 is the greedy run backed off by one when a non-space follows, so "a   b" splits
// as "a", "  ", " b". The pieces cover the text exactly, so encode/decode is lossless.
//
// Encoding a piece is standard BPE: start from its bytes and repeatedly apply the merge of lowest
// rank among adjacent pairs (leftmost first on ties of the same pair). A min-heap of candidate
// pairs over a linked list of symbols makes that O(n log n) even for a hostile 1 MB piece. Pieces
// repeat a lot in real text, so each call caches piece -> ids.
#include "data/tokenizer.h"

#include <algorithm>
#include <queue>
#include <unordered_map>

#include "util/util.h"

namespace chamber {

namespace {

enum CharClass : uint8_t { kLetter, kDigit, kSpace, kOther };

struct ClassTable {
  uint8_t cls[256];
  ClassTable() {
    for (int c = 0; c < 256; c++) {
      if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')) cls[c] = kLetter;
      else if (c >= '0' && c <= '9') cls[c] = kDigit;
      else if (c == ' ' || (c >= '\t' && c <= '\r')) cls[c] = kSpace;  // \t \n \v \f \r
      else cls[c] = kOther;                                            // incl. bytes >= 0x80
    }
  }
};
const ClassTable kClasses;

inline uint8_t class_of(const std::string_view& s, size_t i) { return kClasses.cls[(uint8_t)s[i]]; }

// Length of the piece starting at i (always >= 1).
size_t piece_length(std::string_view s, size_t i) {
  const size_t n = s.size();
  size_t start = i;
  // An optional leading ' ' belongs to the word/digit/punctuation that follows it.
  if (s[i] == ' ' && i + 1 < n && class_of(s, i + 1) != kSpace) start = i + 1;
  uint8_t c = class_of(s, start);
  if (c == kLetter || c == kOther) {
    size_t j = start + 1;
    while (j < n && class_of(s, j) == c) j++;
    return j - i;
  }
  if (c == kDigit) return start + 1 - i;
  // Whitespace run [i, j).
  size_t j = i + 1;
  while (j < n && class_of(s, j) == kSpace) j++;
  if (j == n) return j - i;          // alt 4: run reaches the end
  if (j - i >= 2) return j - 1 - i;  // alt 4: back off one so the last space joins the next piece
  return 1;                          // alt 5
}

inline uint64_t pair_key(int left, int right) { return ((uint64_t)(uint32_t)left << 32) | (uint32_t)right; }

// Merge index of (left, right), or -1.
inline int rank_of(const Tokenizer& tok, int left, int right) {
  uint64_t key = pair_key(left, right);
  auto it = std::lower_bound(tok.merge_rank.begin(), tok.merge_rank.end(), std::make_pair(key, -1));
  return (it != tok.merge_rank.end() && it->first == key) ? it->second : -1;
}

// Scratch for bpe_piece, reused across pieces of one encode call.
struct PieceScratch {
  std::vector<int> id, prev, next;
  // (rank, position of the left symbol); min-heap so the lowest rank, then leftmost, comes first.
  std::priority_queue<std::pair<int, int>, std::vector<std::pair<int, int>>, std::greater<>> heap;
};

void bpe_piece(const Tokenizer& tok, std::string_view piece, PieceScratch& s, std::vector<int>& out) {
  const int n = (int)piece.size();
  if (n == 1) {
    out.push_back((uint8_t)piece[0]);
    return;
  }
  s.id.resize(n);
  s.prev.resize(n);
  s.next.resize(n);
  for (int i = 0; i < n; i++) {
    s.id[i] = (uint8_t)piece[i];
    s.prev[i] = i - 1;
    s.next[i] = i + 1 < n ? i + 1 : -1;
  }
  s.heap = {};
  auto push_pair = [&](int pos) {
    if (pos < 0 || s.next[pos] < 0) return;
    int r = rank_of(tok, s.id[pos], s.id[s.next[pos]]);
    if (r >= 0) s.heap.push({r, pos});
  };
  for (int i = 0; i + 1 < n; i++) push_pair(i);
  while (!s.heap.empty()) {
    auto [r, pos] = s.heap.top();
    s.heap.pop();
    // Stale entries: the left symbol was absorbed (id -1) or its pair has changed. A pair's rank
    // identifies the pair, so an equal rank means the entry is still exactly right.
    if (s.id[pos] < 0 || s.next[pos] < 0) continue;
    if (rank_of(tok, s.id[pos], s.id[s.next[pos]]) != r) continue;
    int right = s.next[pos];
    s.id[pos] = 256 + r;
    s.id[right] = -1;
    s.next[pos] = s.next[right];
    if (s.next[pos] >= 0) s.prev[s.next[pos]] = pos;
    push_pair(s.prev[pos]);
    push_pair(pos);
  }
  for (int i = 0; i >= 0; i = s.next[i]) out.push_back(s.id[i]);
}

}  // namespace

std::vector<std::string_view> tokenizer_pretokenize(std::string_view text) {
  std::vector<std::string_view> pieces;
  for (size_t i = 0; i < text.size();) {
    size_t len = piece_length(text, i);
    pieces.push_back(text.substr(i, len));
    i += len;
  }
  return pieces;
}

void tokenizer_finalize(Tokenizer& tok) {
  const int n_merges = (int)tok.merges.size();
  if ((int)tok.token_bytes.size() < 256 + n_merges)
    fail("tokenizer: ", n_merges, " merges need at least ", 256 + n_merges, " tokens, have ",
         tok.token_bytes.size());
  tok.merge_rank.clear();
  tok.merge_rank.reserve(n_merges);
  for (int r = 0; r < n_merges; r++) {
    auto [l, rt] = tok.merges[r];
    if (l < 0 || rt < 0 || l >= 256 + r || rt >= 256 + r)
      fail("tokenizer: merge ", r, " uses id ", std::max(l, rt), " which does not exist before it");
    tok.merge_rank.push_back({pair_key(l, rt), r});
  }
  std::sort(tok.merge_rank.begin(), tok.merge_rank.end());
  for (size_t i = 1; i < tok.merge_rank.size(); i++)
    if (tok.merge_rank[i].first == tok.merge_rank[i - 1].first)
      fail("tokenizer: merges ", tok.merge_rank[i - 1].second, " and ", tok.merge_rank[i].second,
           " merge the same pair");
}

std::vector<int> tokenizer_encode(const Tokenizer& tok, std::string_view text) {
  if (tok.merge_rank.size() != tok.merges.size())
    fail("tokenizer_encode: tokenizer not finalized (call tokenizer_finalize after filling merges)");
  std::vector<int> out;
  out.reserve(text.size() / 3 + 16);
  PieceScratch scratch;
  // piece -> (start, length) of its ids in `out` the first time it was encoded.
  std::unordered_map<std::string_view, std::pair<size_t, size_t>> cache;
  for (size_t i = 0; i < text.size();) {
    size_t len = piece_length(text, i);
    std::string_view piece = text.substr(i, len);
    i += len;
    if (len == 1) {
      out.push_back((uint8_t)piece[0]);
      continue;
    }
    auto it = cache.find(piece);
    if (it != cache.end()) {
      auto [start, count] = it->second;
      for (size_t k = 0; k < count; k++) out.push_back(out[start + k]);  // index: out may grow
      continue;
    }
    size_t start = out.size();
    bpe_piece(tok, piece, scratch, out);
    cache.emplace(piece, std::make_pair(start, out.size() - start));
  }
  return out;
}

std::string tokenizer_decode(const Tokenizer& tok, const int* ids, size_t n) {
  std::string out;
  out.reserve(n * 4);
  const int vocab = tok.vocab_size();
  for (size_t i = 0; i < n; i++) {
    int id = ids[i];
    if (id < 0 || id >= vocab)
      fail("tokenizer_decode: id ", id, " at position ", i, " is outside the vocabulary [0, ", vocab,
           ")");
    out += tok.token_bytes[id];
  }
  return out;
}

}  // namespace chamber
