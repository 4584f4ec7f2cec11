// tokenizer.json in the Hugging Face `tokenizers` format, so other tools can load a Chamber
// tokenizer (tokenizers.Tokenizer.from_file gives the same ids as tokenizer_encode on ASCII text).
//
// What goes in the file:
//   model: BPE with vocab {token text: id} and merges [[left, right], ...] in rank order
//   pre_tokenizer: Sequence[ Split(kPretokenizerPattern, Isolated), ByteLevel(no regex) ]
//   decoder: ByteLevel; added_tokens: <|endoftext|> (special) with the last id
// JSON strings must be text, so each byte is spelled as one printable character using the GPT-2
// byte-level alphabet: bytes that are printable Latin-1 stand for themselves and the other 68
// (controls, space, 0x7f-0xa0, 0xad) take code points 256, 257, ... in byte order. A token's text
// is the concatenation of its bytes' characters, e.g. " the" is "Ġthe".
//
// Loading checks everything a corrupt or foreign file could get wrong (parse errors, missing or
// ill-typed fields, ids duplicated or out of range, the byte tokens not at ids 0..255, merges
// naming unknown tokens or not matching the vocab) and throws a chamber::Error naming the file.
#include <nlohmann/json.hpp>

#include "data/tokenizer.h"
#include "util/util.h"

namespace chamber {

namespace {

using json = nlohmann::json;
constexpr const char* kEot = "<|endoftext|>";

struct ByteAlphabet {
  uint32_t char_of_byte[256];
  int byte_of_char[512];  // code point -> byte, or -1 (all used code points are < 324)
  ByteAlphabet() {
    for (int& b : byte_of_char) b = -1;
    int next_extra = 256;
    for (int b = 0; b < 256; b++) {
      bool printable = (b >= '!' && b <= '~') || (b >= 0xa1 && b <= 0xac) || (b >= 0xae);
      char_of_byte[b] = printable ? (uint32_t)b : (uint32_t)next_extra++;
      byte_of_char[char_of_byte[b]] = b;
    }
  }
};
const ByteAlphabet kAlphabet;

}  // namespace

std::string byte_level_spell(const std::string& bytes) {
  std::string out;
  for (unsigned char b : bytes) {
    uint32_t cp = kAlphabet.char_of_byte[b];
    if (cp < 0x80) {
      out += (char)cp;
    } else {
      out += (char)(0xc0 | (cp >> 6));
      out += (char)(0x80 | (cp & 0x3f));
    }
  }
  return out;
}

bool byte_level_unspell(const std::string& text, std::string& bytes) {
  bytes.clear();
  for (size_t i = 0; i < text.size();) {
    unsigned char c = (unsigned char)text[i];
    uint32_t cp;
    if (c < 0x80) {
      cp = c;
      i += 1;
    } else if ((c & 0xe0) == 0xc0 && i + 1 < text.size() && ((unsigned char)text[i + 1] & 0xc0) == 0x80) {
      cp = ((c & 0x1fu) << 6) | ((unsigned char)text[i + 1] & 0x3fu);
      i += 2;
    } else {
      return false;  // 3- and 4-byte characters are never in the alphabet
    }
    if (cp >= 512 || kAlphabet.byte_of_char[cp] < 0) return false;
    bytes += (char)kAlphabet.byte_of_char[cp];
  }
  return !bytes.empty();
}

namespace {

// A token text for error messages: JSON-escaped so control characters stay visible.
std::string shown(const std::string& s) {
  return json(s).dump(-1, ' ', false, json::error_handler_t::replace);
}

const json& field(const json& obj, const char* key, json::value_t type, const char* type_name,
                  const std::string& where, const std::string& name) {
  auto it = obj.find(key);
  if (it == obj.end()) fail(name, ": ", where, " has no '", key, "' field");
  bool ok = it->type() == type ||
            (type == json::value_t::number_integer && it->type() == json::value_t::number_unsigned);
  if (!ok) fail(name, ": ", where, ".", key, " must be ", type_name, ", not ", it->type_name());
  return *it;
}

}  // namespace

void tokenizer_save(const Tokenizer& tok, const std::string& path) {
  const int n = tok.vocab_size();
  if (tok.eot_id != n - 1 || n != 256 + (int)tok.merges.size() + 1)
    fail("tokenizer_save '", path, "': expected 256 bytes + ", tok.merges.size(),
         " merges + <|endoftext|> as the last id, have ", n, " tokens and eot_id ", tok.eot_id);
  // Written by hand around json::dump so that each vocab entry and each merge is one line.
  std::string s = "{\n  \"version\": \"1.0\",\n  \"truncation\": null,\n  \"padding\": null,\n";
  json eot = {{"id", tok.eot_id}, {"content", kEot}, {"single_word", false}, {"lstrip", false},
              {"rstrip", false}, {"normalized", false}, {"special", true}};
  s += "  \"added_tokens\": [" + eot.dump() + "],\n  \"normalizer\": null,\n";
  json split = {{"type", "Split"},
                {"pattern", {{"Regex", kPretokenizerPattern}}},
                {"behavior", "Isolated"},
                {"invert", false}};
  json byte_level = {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true},
                     {"use_regex", false}};
  json pre = {{"type", "Sequence"}, {"pretokenizers", {split, byte_level}}};
  s += "  \"pre_tokenizer\": " + pre.dump() + ",\n  \"post_processor\": null,\n";
  s += "  \"decoder\": " + byte_level.dump() + ",\n";
  s += "  \"model\": {\"type\": \"BPE\", \"dropout\": null, \"unk_token\": null, "
       "\"continuing_subword_prefix\": null, \"end_of_word_suffix\": null, \"fuse_unk\": false, "
       "\"byte_fallback\": false, \"ignore_merges\": false,\n    \"vocab\": {\n";
  for (int id = 0; id < n; id++) {
    std::string text = id == tok.eot_id ? std::string(kEot) : byte_level_spell(tok.token_bytes[id]);
    s += "      " + json(text).dump() + ": " + std::to_string(id) + (id + 1 < n ? ",\n" : "\n");
  }
  s += "    },\n    \"merges\": [\n";
  for (size_t r = 0; r < tok.merges.size(); r++) {
    auto [l, rt] = tok.merges[r];
    json pair = {byte_level_spell(tok.token_bytes[l]), byte_level_spell(tok.token_bytes[rt])};
    s += "      " + pair.dump() + (r + 1 < tok.merges.size() ? ",\n" : "\n");
  }
  s += "    ]\n  }\n}\n";
  write_file_atomic(path, s);
}

Tokenizer tokenizer_load(const std::string& path) {
  return tokenizer_from_json(read_file(path), path);
}

Tokenizer tokenizer_from_json(std::string_view json_text, const std::string& name) {
  using vt = json::value_t;
  json root;
  try {
    root = json::parse(json_text);
  } catch (const json::exception& e) {
    fail(name, ": not valid JSON (", e.what(), ")");
  }
  if (!root.is_object()) fail(name, ": top level must be a JSON object");
  const json& model = field(root, "model", vt::object, "an object", "tokenizer", name);
  const std::string& type = field(model, "type", vt::string, "a string", "model", name).get_ref<const std::string&>();
  if (type != "BPE") fail(name, ": model.type is '", type, "', Chamber only reads BPE tokenizers");
  for (const char* key : {"dropout", "continuing_subword_prefix", "end_of_word_suffix"})
    if (model.contains(key) && !model[key].is_null())
      fail(name, ": model.", key, " must be null (Chamber's BPE does not use it)");

  // The pre-tokenizer must be Chamber's, or our encoder would split text differently.
  const json& pre = field(root, "pre_tokenizer", vt::object, "an object", "tokenizer", name);
  const json* pattern = nullptr;
  if (pre.value("type", json()) == "Sequence" && pre.contains("pretokenizers") &&
      pre["pretokenizers"].is_array() && !pre["pretokenizers"].empty()) {
    const json& split = pre["pretokenizers"][0];
    if (split.is_object() && split.contains("pattern") && split["pattern"].is_object() &&
        split["pattern"].contains("Regex"))
      pattern = &split["pattern"]["Regex"];
  }
  if (!pattern || *pattern != kPretokenizerPattern)
    fail(name, ": pre_tokenizer is not Chamber's (a Split on ", json(kPretokenizerPattern).dump(),
         " then ByteLevel); this file was not written by Chamber's tokenizer_save");

  const json& vocab = field(model, "vocab", vt::object, "an object", "model", name);
  const json& merges = field(model, "merges", vt::array, "an array", "model", name);
  const int n = (int)vocab.size();
  if (n != 256 + (int)merges.size() + 1)
    fail(name, ": vocab has ", n, " tokens but 256 bytes + ", merges.size(),
         " merges + <|endoftext|> make ", 256 + merges.size() + 1);

  Tokenizer tok;
  tok.token_bytes.assign(n, std::string());
  std::vector<bool> id_used(n, false);
  std::string bytes;
  for (auto it = vocab.begin(); it != vocab.end(); ++it) {
    const std::string& text = it.key();
    if (!it->is_number_integer())
      fail(name, ": vocab[", shown(text), "] must be an integer id, not ", it->type_name());
    int64_t id = it->get<int64_t>();
    if (id < 0 || id >= n) fail(name, ": vocab[", shown(text), "] = ", id, " is outside [0, ", n, ")");
    if (id_used[id]) fail(name, ": id ", id, " is used by two vocab entries (second: ", shown(text), ")");
    id_used[id] = true;
    if (text == kEot) {
      if (id != n - 1) fail(name, ": <|endoftext|> must have the last id ", n - 1, ", has ", id);
      tok.eot_id = (int)id;
      tok.token_bytes[id] = kEot;
      continue;
    }
    if (!byte_level_unspell(text, bytes))
      fail(name, ": vocab token ", shown(text), " has a character outside the byte-level alphabet");
    if (id < 256 && (bytes.size() != 1 || (unsigned char)bytes[0] != id))
      fail(name, ": id ", id, " must be the single byte ", id, ", is ", shown(text));
    tok.token_bytes[id] = bytes;
  }
  if (tok.eot_id < 0) fail(name, ": vocab has no <|endoftext|> token");

  const json& added = field(root, "added_tokens", vt::array, "an array", "tokenizer", name);
  bool eot_listed = false;
  for (const json& a : added) {
    if (!a.is_object() || !a.contains("content") || !a.contains("id"))
      fail(name, ": each added_tokens entry must be an object with 'id' and 'content'");
    if (a["content"] != kEot || a["id"] != tok.eot_id)
      fail(name, ": added_tokens may only hold <|endoftext|> with id ", tok.eot_id, ", found ",
           a.dump(-1, ' ', false, json::error_handler_t::replace));
    eot_listed = true;
  }
  if (!eot_listed) fail(name, ": added_tokens must list <|endoftext|>");

  // Merges, as [left, right] pairs or as "left right" strings (both forms are in use).
  tok.merges.reserve(merges.size());
  for (size_t r = 0; r < merges.size(); r++) {
    const json& m = merges[r];
    std::string parts[2];
    if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
      parts[0] = m[0].get<std::string>();
      parts[1] = m[1].get<std::string>();
    } else if (m.is_string()) {
      const std::string& s = m.get_ref<const std::string&>();
      size_t space = s.find(' ');
      if (space == std::string::npos || s.find(' ', space + 1) != std::string::npos)
        fail(name, ": merge ", r, " ", shown(s), " must be two tokens separated by one space");
      parts[0] = s.substr(0, space);
      parts[1] = s.substr(space + 1);
    } else {
      fail(name, ": merge ", r, " must be a [left, right] pair of strings or a \"left right\" string");
    }
    int ids[2];
    for (int k = 0; k < 2; k++) {
      auto v = vocab.find(parts[k]);
      if (v == vocab.end() || parts[k] == kEot)
        fail(name, ": merge ", r, " uses ", shown(parts[k]), " which is not a vocab token");
      ids[k] = v->get<int>();
      if (ids[k] >= 256 + (int)r)
        fail(name, ": merge ", r, " uses ", shown(parts[k]), " (id ", ids[k],
             ") which is only made by a later merge");
    }
    const int out_id = 256 + (int)r;
    if (tok.token_bytes[out_id] != tok.token_bytes[ids[0]] + tok.token_bytes[ids[1]])
      fail(name, ": merge ", r, " (", shown(parts[0]), ", ", shown(parts[1]), ") should make id ",
           out_id, " but that id is ", shown(byte_level_spell(tok.token_bytes[out_id])));
    tok.merges.push_back({ids[0], ids[1]});
  }
  try {
    tokenizer_finalize(tok);
  } catch (const Error& e) {
    fail(name, ": ", e.what());
  }
  return tok;
}

}  // namespace chamber
