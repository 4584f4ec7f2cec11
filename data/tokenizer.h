// Byte-level BPE tokenizer: training, encode/decode, and tokenizer.json in the Hugging Face
// `tokenizers` format (loads there as a byte-level BPE and gives the same ids on ASCII text).
//
// Ids 0..255 are the 256 single bytes; merges add ids 256.. in training order; the special token
// <|endoftext|> is the last id. Before BPE, text is split into pieces that merges never cross
// (words with an optional leading space, every digit on its own, punctuation runs, whitespace), so
// that numbers are always spelled digit by digit: the model can then copy operands, which the math
// world needs. Decoding any id sequence concatenates bytes: encode then decode returns the input
// bytes exactly, for any bytes (invalid UTF-8 included). Encoding treats its input as plain bytes:
// the text "<|endoftext|>" is spelled with ordinary tokens, never turned into the special id, so
// data (or model output) cannot forge a document boundary; callers append eot_id themselves.
//
// Files: tokenizer.cpp (pre-tokenizer, encode, decode), tokenizer_train.cpp (learning merges),
// tokenizer_json.cpp (tokenizer.json save/load and validation), tokenizer_import.cpp (vocabularies
// from other tools: tokenizer_import.h).
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace chamber {

struct Tokenizer {
  std::vector<std::string> token_bytes;            // id -> the bytes it stands for
  std::vector<std::pair<int, int>> merges;         // merge r makes id 256 + r from (left, right)
  int eot_id = -1;                                 // <|endoftext|>
  int vocab_size() const { return (int)token_bytes.size(); }
  // internal lookup built by tokenizer_finalize(): pair -> merged id and rank
  std::vector<std::pair<uint64_t, int>> merge_rank; // sorted (left<<32|right) -> merge index
};

// The pre-tokenizer as a regex (the same text goes into tokenizer.json's Split pre-tokenizer).
// \s is ASCII whitespace (tab, LF, VT, FF, CR, space); bytes >= 0x80 count as punctuation.
inline constexpr const char* kPretokenizerPattern =
    R"( ?[A-Za-z]+| ?[0-9]| ?[^\sA-Za-z0-9]+|\s+(?!\S)|\s+)";

// Splits text into the pieces BPE works inside (views into `text`; concatenated they give text).
std::vector<std::string_view> tokenizer_pretokenize(std::string_view text);

// Builds the merge_rank lookup from merges; train and load call it, anyone filling a Tokenizer by
// hand must call it before encoding.
void tokenizer_finalize(Tokenizer& tok);

// Learns merges from `texts` until the vocabulary (bytes + merges + <|endoftext|>) reaches
// vocab_size (>= 257), or earlier if no adjacent pair is left to merge (tiny corpora), so check
// vocab_size() afterwards. Deterministic: ties between equally frequent pairs break by smallest
// (left, right) id pair. Every token has distinct bytes (tokenizer.json's vocab maps text to id).
Tokenizer tokenizer_train(const std::vector<std::string>& texts, int vocab_size);

std::vector<int> tokenizer_encode(const Tokenizer& tok, std::string_view text);
std::string tokenizer_decode(const Tokenizer& tok, const int* ids, size_t n);
inline std::string tokenizer_decode(const Tokenizer& tok, const std::vector<int>& ids) {
  return tokenizer_decode(tok, ids.data(), ids.size());
}

// The byte-level alphabet tokenizer.json spells token bytes in (one printable character per byte,
// " the" is "Ġthe"). byte_level_unspell is false for an empty text or a character outside it.
std::string byte_level_spell(const std::string& bytes);
bool byte_level_unspell(const std::string& text, std::string& bytes);

// tokenizer.json (Hugging Face format). save is atomic; load validates everything and throws
// chamber::Error naming the file and what is wrong (never crashes on a corrupt file).
void tokenizer_save(const Tokenizer& tok, const std::string& path);
Tokenizer tokenizer_load(const std::string& path);
Tokenizer tokenizer_from_json(std::string_view json_text, const std::string& name_for_errors);

}  // namespace chamber
