// BPE training: learn merges from texts.
//
// Merges never cross pre-token boundaries, so the corpus is first reduced to its distinct pieces
// ("words") with their counts; 4 MB of English has only tens of thousands of them. Then:
//   pair_count[(a, b)] = sum over words of count(word) * occurrences of a next to b in it
//   repeat: take the most frequent pair (ties: smallest (a, b)), give it the next id, rewrite the
//           words that contain it, and update pair_count where they changed (only the pairs
//           touching a merged occurrence change, so the cost follows the occurrences).
// The most frequent pair comes from a max-heap with lazy deletion: every count change pushes a
// fresh (count, pair) entry and entries whose count is no longer current are dropped when popped.
// pair_words[(a, b)] lists words that may hold the pair (stale entries are harmless: the rewrite
// finds nothing). Everything is ordered by (count, pair) only, so training is deterministic.
//
// Token texts come out distinct: a span of bytes that ends up as exactly two tokens was never
// touched by merges with its neighbours, so it evolved as it would alone and was already merged
// into one token the first time its bytes were made. tokenizer.json needs one id per text, so a
// pair whose bytes are already a token is still checked for and skipped, as a safety net.
#include <algorithm>
#include <queue>
#include <unordered_map>
#include <unordered_set>

#include "data/tokenizer.h"
#include "util/util.h"

namespace chamber {

namespace {

inline uint64_t pair_key(int left, int right) { return ((uint64_t)(uint32_t)left << 32) | (uint32_t)right; }
inline int key_left(uint64_t k) { return (int)(k >> 32); }
inline int key_right(uint64_t k) { return (int)(k & 0xffffffffu); }

struct HeapEntry {
  int64_t count;
  uint64_t key;
};
// priority_queue pops the "largest": higher count first, then the smaller pair.
struct HeapOrder {
  bool operator()(const HeapEntry& a, const HeapEntry& b) const {
    if (a.count != b.count) return a.count < b.count;
    return a.key > b.key;
  }
};

// Replaces every non-overlapping (a, b), left to right, with z, in place, and reports how the
// word's adjacent pairs change through on_pair(left, right, +1 or -1). Only pairs next to a merge
// change, so this costs O(occurrences) pair updates instead of recounting the word: for each
// maximal run "x [a b a b ... a b] y" (n_merged pairs) the pairs (x,a), (a,b), (b,a), ..., (b,y)
// go and (x,z), (z,z)..., (z,y) come. Returns whether anything changed.
template <typename OnPair>
bool merge_in_word(std::vector<int>& w, int a, int b, int z, OnPair&& on_pair) {
  const size_t n = w.size();
  size_t out = 0;  // writes trail reads, so w[i..] is still the old word
  bool changed = false;
  for (size_t i = 0; i < n;) {
    if (!(i + 1 < n && w[i] == a && w[i + 1] == b)) {
      w[out++] = w[i++];
      continue;
    }
    size_t end = i;
    while (end + 1 < n && w[end] == a && w[end + 1] == b) end += 2;
    const size_t n_merged = (end - i) / 2;
    const bool has_left = out > 0, has_right = end < n;
    if (has_left) on_pair(w[out - 1], a, -1);
    for (size_t p = i; p + 1 < n && p < end; p++) on_pair(w[p], w[p + 1], -1);
    if (has_left) on_pair(w[out - 1], z, +1);
    for (size_t k = 1; k < n_merged; k++) on_pair(z, z, +1);
    if (has_right) on_pair(z, w[end], +1);
    for (size_t k = 0; k < n_merged; k++) w[out++] = z;
    i = end;
    changed = true;
  }
  w.resize(out);
  return changed;
}

}  // namespace

Tokenizer tokenizer_train(const std::vector<std::string>& texts, int vocab_size) {
  if (vocab_size < 257 || vocab_size > (1 << 24))
    fail("tokenizer_train: vocab_size must be in [257, 16777216] (256 bytes + <|endoftext|> at "
         "least), got ", vocab_size);

  // 1. Distinct pieces and their counts. Views point into `texts`, which outlive this function.
  std::unordered_map<std::string_view, int64_t> piece_counts;
  for (const std::string& text : texts)
    for (std::string_view piece : tokenizer_pretokenize(text)) piece_counts[piece]++;
  // Words in a fixed (sorted) order so nothing below depends on hash-table iteration order.
  std::vector<std::pair<std::string_view, int64_t>> sorted(piece_counts.begin(), piece_counts.end());
  std::sort(sorted.begin(), sorted.end());
  std::vector<std::vector<int>> words;
  std::vector<int64_t> word_count;
  for (auto& [piece, count] : sorted) {
    if (piece.size() < 2) continue;  // a single byte holds no pair
    words.emplace_back(piece.begin(), piece.end());
    for (int& id : words.back()) id &= 0xff;  // char may be signed
    word_count.push_back(count);
  }

  // 2. Initial pair counts and where each pair occurs.
  std::unordered_map<uint64_t, int64_t> pair_count;
  std::unordered_map<uint64_t, std::vector<int>> pair_words;
  for (int w = 0; w < (int)words.size(); w++) {
    const auto& ids = words[w];
    for (size_t i = 0; i + 1 < ids.size(); i++) {
      uint64_t k = pair_key(ids[i], ids[i + 1]);
      pair_count[k] += word_count[w];
      auto& list = pair_words[k];
      if (list.empty() || list.back() != w) list.push_back(w);
    }
  }
  std::priority_queue<HeapEntry, std::vector<HeapEntry>, HeapOrder> heap;
  for (auto& [k, c] : pair_count) heap.push({c, k});

  Tokenizer tok;
  tok.token_bytes.resize(256);
  for (int b = 0; b < 256; b++) tok.token_bytes[b] = std::string(1, (char)b);
  std::unordered_set<std::string> known_tokens(tok.token_bytes.begin(), tok.token_bytes.end());

  const int target_merges = vocab_size - 257;
  std::vector<int> seen_at(words.size(), -1);  // last merge that rewrote each word (dedupe)
  std::unordered_map<uint64_t, int64_t> delta;
  while ((int)tok.merges.size() < target_merges && !heap.empty()) {
    HeapEntry top = heap.top();
    heap.pop();
    auto it = pair_count.find(top.key);
    if (it == pair_count.end() || it->second != top.count || top.count <= 0) continue;  // stale
    const int a = key_left(top.key), b = key_right(top.key);
    std::string merged = tok.token_bytes[a] + tok.token_bytes[b];
    if (known_tokens.count(merged)) {
      pair_count.erase(it);  // never merge this pair; drop it so later pushes are ignored too
      continue;
    }
    pair_count.erase(it);  // every occurrence is merged below
    const int z = 256 + (int)tok.merges.size();
    tok.merges.push_back({a, b});
    tok.token_bytes.push_back(merged);
    known_tokens.insert(std::move(merged));

    // 3. Rewrite the words holding (a, b); collect the pair-count changes.
    delta.clear();
    std::vector<int> affected = std::move(pair_words[top.key]);
    pair_words.erase(top.key);
    for (int w : affected) {
      if (seen_at[w] == z) continue;
      seen_at[w] = z;
      const int64_t c = word_count[w];
      merge_in_word(words[w], a, b, z, [&](int left, int right, int sign) {
        uint64_t k = pair_key(left, right);
        delta[k] += sign * c;
        if (sign > 0) {  // every added pair holds z: remember that this word has it
          auto& list = pair_words[k];
          if (list.empty() || list.back() != w) list.push_back(w);
        }
      });
    }
    for (auto& [k, d] : delta) {
      if (d == 0 || k == top.key) continue;
      auto pc = pair_count.find(k);
      if (pc == pair_count.end()) {
        // Only pairs with the new id can appear; any other missing pair is banned or gone.
        bool is_new = key_left(k) == z || key_right(k) == z;
        if (!is_new) continue;
        pc = pair_count.emplace(k, 0).first;
      }
      pc->second += d;
      if (pc->second > 0) heap.push({pc->second, k});
      else pair_count.erase(pc);
    }
  }

  tok.eot_id = (int)tok.token_bytes.size();
  tok.token_bytes.push_back("<|endoftext|>");
  tokenizer_finalize(tok);
  return tok;
}

}  // namespace chamber
