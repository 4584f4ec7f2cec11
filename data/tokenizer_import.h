// Byte-level BPE vocabularies written by other tools, turned into Chamber's tokenizer: a Hugging
// Face tokenizer.json, or GPT-2's vocab.json + merges.txt (`chamber import --format hf`).
//
// Chamber's tokenizer numbers its tokens in one fixed order (ids 0..255 are the bytes in byte
// order, merge r makes id 256 + r, <|endoftext|> is last); GPT-2's vocabulary holds the same kinds
// of tokens in another order (its byte tokens follow the byte-level alphabet). The import keeps
// every token and merge and renumbers them into Chamber's order, and reports the renumbering so
// that the model's embedding rows can move with their tokens: the model then computes the same
// function of the text's tokens.
//
// What cannot be carried over is an error naming the file and the token, merge or field: a token
// that is neither a byte nor made by a merge (extra special tokens), a merge that makes a token
// another merge or a byte already is, a merge that uses a token only a later merge makes, a
// normalizer, BPE options Chamber's encoder does not have. Text is always split with Chamber's
// pre-tokenizer (every digit its own piece); when the source's differs, `notes` says so.
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "data/tokenizer.h"

namespace chamber {

struct ImportedTokenizer {
  Tokenizer tok;                    // finalized, in Chamber's order
  std::vector<int> chamber_id;      // source id -> Chamber id (a permutation of 0..n-1)
  std::vector<std::string> notes;   // what the user should know (not errors), one line each
};

// Hugging Face `tokenizers` JSON (model.type BPE over the byte-level alphabet).
ImportedTokenizer tokenizer_import_hf_json(std::string_view json_text, const std::string& path);
// GPT-2's pair: vocab.json {token text: id} and merges.txt ("left right" per line, an optional
// first line "#version: ...").
ImportedTokenizer tokenizer_import_vocab_merges(std::string_view vocab_json, const std::string& vocab_path,
                                                std::string_view merges_txt, const std::string& merges_path);

}  // namespace chamber
