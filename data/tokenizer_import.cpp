// Importing byte-level BPE vocabularies (tokenizer.json, or vocab.json + merges.txt) into Chamber's
// tokenizer, renumbered into its order. See tokenizer_import.h for what is kept and what is refused.
#include "data/tokenizer_import.h"

#include <algorithm>
#include <cstdio>
#include <unordered_map>

#include <nlohmann/json.hpp>

#include "util/util.h"

namespace chamber {

namespace {

using json = nlohmann::json;
constexpr const char* kEot = "<|endoftext|>";
// Far above any GPT-2 vocabulary (50,257); a bound so a hostile file cannot ask for gigabytes.
constexpr size_t kMaxImportVocab = size_t(1) << 22;

// A token text for messages: JSON-escaped (control characters stay visible) and kept short.
std::string shown(const std::string& s) {
  std::string t = json(s).dump(-1, ' ', false, json::error_handler_t::replace);
  return t.size() > 80 ? t.substr(0, 77) + "...\"" : t;
}

struct MergeText {
  std::string left, right;
  std::string where;  // "merge 12" or "line 14", for messages
};

// The shared core: vocab {text: id} from vocab_name and merges in rank order from merges_name.
ImportedTokenizer build(const json& vocab, const std::string& vocab_name, const std::vector<MergeText>& merges,
                        const std::string& merges_name) {
  const size_t n = vocab.size();
  if (n > kMaxImportVocab)
    fail(vocab_name, ": the vocabulary has ", n, " tokens, more than Chamber imports (", kMaxImportVocab, ")");
  // Source ids must be 0..n-1, each once: they index the model's embedding rows.
  std::vector<const std::string*> text_of(n, nullptr);
  for (auto it = vocab.begin(); it != vocab.end(); ++it) {
    if (!it->is_number_integer())
      fail(vocab_name, ": vocab[", shown(it.key()), "] must be an integer id, not ", it->type_name());
    int64_t id = it->get<int64_t>();
    if (id < 0 || (size_t)id >= n)
      fail(vocab_name, ": vocab[", shown(it.key()), "] = ", id, " is outside [0, ", n,
           "): the ids must number the ", n, " tokens without gaps");
    if (text_of[id]) fail(vocab_name, ": id ", id, " is used by two tokens, ", shown(*text_of[id]), " and ", shown(it.key()));
    text_of[id] = &it.key();
  }
  auto eot_it = vocab.find(kEot);
  if (eot_it == vocab.end())
    fail(vocab_name, ": there is no ", kEot, " token; Chamber needs it to mark where documents end");
  const int eot_source = eot_it->get<int>();

  std::vector<std::string> bytes_of(n);
  std::unordered_map<std::string, int> id_of_bytes;
  id_of_bytes.reserve(n);
  for (size_t id = 0; id < n; id++) {
    if ((int)id == eot_source) continue;
    if (!byte_level_unspell(*text_of[id], bytes_of[id]))
      fail(vocab_name, ": token ", shown(*text_of[id]), " (id ", id, ") is not spelled in the byte-level "
           "alphabet: Chamber imports byte-level BPE vocabularies (GPT-2's) whose only special token is ", kEot);
    id_of_bytes[bytes_of[id]] = (int)id;  // distinct texts spell distinct bytes
  }

  ImportedTokenizer out;
  std::vector<int>& chamber_id = out.chamber_id;
  chamber_id.assign(n, -1);
  for (int b = 0; b < 256; b++) {
    auto it = id_of_bytes.find(std::string(1, (char)b));
    if (it == id_of_bytes.end()) {
      char hex[8];
      std::snprintf(hex, sizeof hex, "0x%02x", b);
      fail(vocab_name, ": no token stands for the byte ", hex, " (", shown(byte_level_spell(std::string(1, (char)b))),
           "); a byte-level vocabulary has all 256");
    }
    chamber_id[it->second] = b;
  }

  Tokenizer& tok = out.tok;
  tok.merges.reserve(merges.size());
  for (size_t r = 0; r < merges.size(); r++) {
    const MergeText& m = merges[r];
    const int made_id = 256 + (int)r;
    int ids[2];
    const std::string* parts[2] = {&m.left, &m.right};
    for (int k = 0; k < 2; k++) {
      auto v = vocab.find(*parts[k]);
      if (v == vocab.end() || *parts[k] == kEot)
        fail(merges_name, ": ", m.where, " (", shown(m.left), " ", shown(m.right), ") uses ", shown(*parts[k]),
             ", which is not a token of ", vocab_name);
      ids[k] = v->get<int>();
      if (chamber_id[ids[k]] < 0)
        fail(merges_name, ": ", m.where, " (", shown(m.left), " ", shown(m.right), ") uses ", shown(*parts[k]),
             ", which no earlier merge makes; Chamber applies merges in rank order and needs their inputs first");
    }
    std::string made = bytes_of[ids[0]] + bytes_of[ids[1]];
    auto it = id_of_bytes.find(made);
    if (it == id_of_bytes.end())
      fail(merges_name, ": ", m.where, " (", shown(m.left), " ", shown(m.right), ") makes ",
           shown(byte_level_spell(made)), ", which is not a token of ", vocab_name);
    if (chamber_id[it->second] >= 0)
      fail(merges_name, ": ", m.where, " (", shown(m.left), " ", shown(m.right), ") makes ",
           shown(byte_level_spell(made)), ", which a byte or an earlier merge already makes");
    chamber_id[it->second] = made_id;
    tok.merges.push_back({chamber_id[ids[0]], chamber_id[ids[1]]});
  }
  const int eot_id = 256 + (int)merges.size();
  chamber_id[eot_source] = eot_id;
  for (size_t id = 0; id < n; id++)
    if (chamber_id[id] < 0)
      fail(vocab_name, ": token ", shown(*text_of[id]), " (id ", id, ") is neither a single byte nor made by a merge of ",
           merges_name, "; Chamber's tokenizer holds only the bytes, the merges' tokens and ", kEot);
  // Every id now has a distinct Chamber id in [0, eot_id], so n == eot_id + 1.
  tok.token_bytes.assign(n, std::string());
  for (size_t id = 0; id < n; id++) tok.token_bytes[chamber_id[id]] = bytes_of[id];
  tok.token_bytes[eot_id] = kEot;
  tok.eot_id = eot_id;
  try {
    tokenizer_finalize(tok);
  } catch (const Error& e) {
    fail(merges_name, ": ", e.what());
  }
  for (size_t id = 0; id < n; id++)
    if (chamber_id[id] != (int)id) {
      out.notes.push_back(vocab_name + ": token ids are renumbered into Chamber's order (the bytes in byte "
                          "order, then each merge's token in rank order, " + kEot + " last); the model's "
                          "embedding rows move with their tokens");
      break;
    }
  return out;
}

std::string pretokenizer_note(const std::string& path) {
  return path + " splits text with another pre-tokenizer than Chamber's. Chamber keeps the vocabulary "
         "and merges but splits text its own way (every digit a separate piece, no rules for "
         "contractions, bytes >= 0x80 treated as punctuation), so some text becomes different tokens "
         "than under the source tokenizer";
}

json parse_json(std::string_view text, const std::string& path) {
  try {
    return json::parse(text);
  } catch (const json::exception& e) {
    fail(path, ": not valid JSON (", e.what(), ")");
  }
}

}  // namespace

ImportedTokenizer tokenizer_import_hf_json(std::string_view json_text, const std::string& path) {
  json root = parse_json(json_text, path);
  if (!root.is_object()) fail(path, ": the top level must be a JSON object");
  if (!root.contains("model") || !root["model"].is_object()) fail(path, ": 'model' must be an object");
  const json& model = root["model"];
  if (model.value("type", json()) != "BPE")
    fail(path, ": model.type is ", model.value("type", json()).dump(), "; Chamber imports BPE tokenizers");
  if (model.contains("dropout") && !model["dropout"].is_null())
    fail(path, ": model.dropout must be null (Chamber's BPE is deterministic)");
  for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"})
    if (model.contains(key) && !model[key].is_null() && model[key] != "")
      fail(path, ": model.", key, " is ", model[key].dump(), "; Chamber's BPE has no such affix");
  if (model.contains("byte_fallback") && model["byte_fallback"] != false)
    fail(path, ": model.byte_fallback must be false (byte-level vocabularies need no fallback)");
  if (model.contains("ignore_merges") && model["ignore_merges"] != false)
    fail(path, ": model.ignore_merges must be false (Chamber's BPE always applies the merges)");
  if (root.contains("normalizer") && !root["normalizer"].is_null())
    fail(path, ": normalizer is set; Chamber's tokenizer does not normalize text, so the same text would "
         "become other tokens");
  if (!model.contains("vocab") || !model["vocab"].is_object()) fail(path, ": model.vocab must be an object");
  if (!model.contains("merges") || !model["merges"].is_array()) fail(path, ": model.merges must be an array");
  json vocab = model["vocab"];

  // Special tokens live in added_tokens; Chamber has one, <|endoftext|>.
  if (root.contains("added_tokens") && !root["added_tokens"].is_null()) {
    if (!root["added_tokens"].is_array()) fail(path, ": added_tokens must be an array");
    for (const json& a : root["added_tokens"]) {
      if (!a.is_object() || !a.contains("content") || !a["content"].is_string() || !a.contains("id") ||
          !a["id"].is_number_integer())
        fail(path, ": each added_tokens entry must be an object with an integer 'id' and a string 'content'");
      const std::string& content = a["content"].get_ref<const std::string&>();
      if (content != kEot)
        fail(path, ": added token ", shown(content), " (id ", a["id"].dump(), ") cannot be imported: Chamber's "
             "tokenizer has no special token but ", kEot);
      if (!vocab.contains(kEot)) vocab[kEot] = a["id"];  // listed only here: its id joins the vocab
      else if (vocab[kEot] != a["id"])
        fail(path, ": added_tokens gives ", kEot, " id ", a["id"].dump(), " but model.vocab gives ", vocab[kEot].dump());
    }
  }

  std::vector<MergeText> merges;
  const json& mj = model["merges"];
  merges.reserve(mj.size());
  for (size_t r = 0; r < mj.size(); r++) {
    const json& m = mj[r];
    MergeText t;
    t.where = "model.merges[" + std::to_string(r) + "]";
    if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
      t.left = m[0].get<std::string>();
      t.right = m[1].get<std::string>();
    } else if (m.is_string() && std::count(m.get_ref<const std::string&>().begin(), m.get_ref<const std::string&>().end(), ' ') == 1) {
      const std::string& s = m.get_ref<const std::string&>();
      t.left = s.substr(0, s.find(' '));
      t.right = s.substr(s.find(' ') + 1);
    } else {
      fail(path, ": ", t.where, " must be a [left, right] pair of strings or a \"left right\" string");
    }
    merges.push_back(std::move(t));
  }
  ImportedTokenizer out = build(vocab, path, merges, path);

  // Chamber's own file (tokenizer_save) names its pre-tokenizer; anything else splits differently.
  const json* pattern = nullptr;
  const json& pre = root.value("pre_tokenizer", json());
  if (pre.is_object() && pre.value("type", json()) == "Sequence" && pre.contains("pretokenizers") &&
      pre["pretokenizers"].is_array() && !pre["pretokenizers"].empty()) {
    const json& split = pre["pretokenizers"][0];
    if (split.is_object() && split.contains("pattern") && split["pattern"].is_object() &&
        split["pattern"].contains("Regex"))
      pattern = &split["pattern"]["Regex"];
  }
  if (!pattern || *pattern != kPretokenizerPattern) out.notes.push_back(pretokenizer_note(path));
  return out;
}

ImportedTokenizer tokenizer_import_vocab_merges(std::string_view vocab_json, const std::string& vocab_path,
                                                std::string_view merges_txt, const std::string& merges_path) {
  json vocab = parse_json(vocab_json, vocab_path);
  if (!vocab.is_object()) fail(vocab_path, ": the top level must be a JSON object {token: id}");
  std::vector<MergeText> merges;
  for_each_nonblank_line(merges_txt, [&](std::string_view line, int line_no) {
    if (line.size() && line.back() == '\r') line.remove_suffix(1);
    if (line_no == 1 && line.substr(0, 8) == "#version") return;  // GPT-2's header line
    size_t space = line.find(' ');
    if (space == std::string_view::npos || space == 0 || space + 1 == line.size() ||
        line.find(' ', space + 1) != std::string_view::npos)
      fail(merges_path, ":", line_no, ": ", shown(std::string(line)), " must be two tokens separated by one space");
    merges.push_back({std::string(line.substr(0, space)), std::string(line.substr(space + 1)),
                      "line " + std::to_string(line_no)});
  });
  ImportedTokenizer out = build(vocab, vocab_path, merges, merges_path);
  out.notes.push_back(pretokenizer_note(vocab_path + " + " + merges_path));
  return out;
}

}  // namespace chamber
