// `chamber tokenizer ...`: train a byte-level BPE tokenizer on text files and try it out.
//
//   chamber tokenizer train --input a.txt b.jsonl [--field text] --vocab-size 4096 --out tok.json
//   chamber tokenizer encode --tokenizer tok.json --text "12+7=19"      -> [49, 50, 43, ...]
//   chamber tokenizer decode --tokenizer tok.json --ids "[49, 50]"      -> "12"
//
// Input files: a *.jsonl file is one JSON object per line and each line's --field string is one
// document; any other file is a single document of raw bytes.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>

#include "data/tokenizer.h"
#include "util/util.h"
#include "train/cli.h"

namespace chamber {

namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Appends the documents of one input file to `texts`.
void read_documents(const std::string& path, const std::string& field, std::vector<std::string>& texts) {
  std::string contents = read_file(path);
  if (!ends_with(path, ".jsonl")) {
    texts.push_back(std::move(contents));
    return;
  }
  size_t line_no = 0;
  for (size_t start = 0; start < contents.size();) {
    size_t end = contents.find('\n', start);
    if (end == std::string::npos) end = contents.size();
    std::string_view line(contents.data() + start, end - start);
    start = end + 1;
    line_no++;
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;  // blank line
    nlohmann::json doc = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (doc.is_discarded()) fail(path, ":", line_no, ": not valid JSON");
    if (!doc.is_object() || !doc.contains(field) || !doc[field].is_string())
      fail(path, ":", line_no, ": expected an object with a string field '", field,
           "' (choose the field with --field)");
    texts.push_back(doc[field].get<std::string>());
  }
}

struct TrainOptions {
  std::vector<std::string> inputs;
  std::string field = "text";
  int vocab_size = 0;
  std::string out;
};

void run_train(const TrainOptions& o) {
  double t0 = now_seconds();
  std::vector<std::string> texts;
  size_t bytes = 0;
  for (const std::string& path : o.inputs) read_documents(path, o.field, texts);
  for (const std::string& t : texts) bytes += t.size();
  std::printf("read %zu documents, %s, from %zu file(s)\n", texts.size(), human_bytes((double)bytes).c_str(),
              o.inputs.size());
  double t1 = now_seconds();
  Tokenizer tok = tokenizer_train(texts, o.vocab_size);
  double t2 = now_seconds();
  if (tok.vocab_size() < o.vocab_size)
    std::printf("note: the corpus ran out of pairs to merge; vocab is %d, not %d\n", tok.vocab_size(),
                o.vocab_size);
  size_t tokens = 0;
  for (const std::string& t : texts) tokens += tokenizer_encode(tok, t).size();
  double t3 = now_seconds();
  tokenizer_save(tok, o.out);
  std::printf("trained %d tokens (%zu merges) in %.2fs; encoding the corpus: %zu tokens, %.2f bytes/token, "
              "%.1f MB/s\n", tok.vocab_size(), tok.merges.size(), t2 - t1, tokens,
              tokens ? (double)bytes / tokens : 0.0, bytes / 1e6 / std::max(t3 - t2, 1e-9));
  std::printf("wrote %s (total %.2fs)\n", o.out.c_str(), now_seconds() - t0);
}

}  // namespace

void register_tokenizer_commands(CLI::App& app) {
  CLI::App* group = app.add_subcommand("tokenizer", "Train and use the byte-level BPE tokenizer");
  group->require_subcommand(1);

  auto train = std::make_shared<TrainOptions>();
  CLI::App* cmd = group->add_subcommand("train", "Learn a BPE vocabulary from text and write tokenizer.json");
  cmd->add_option("--input", train->inputs, "Text files (*.jsonl: one JSON document per line)")
      ->required()->expected(1, -1);
  cmd->add_option("--field", train->field, "String field holding the text in *.jsonl inputs")
      ->capture_default_str();
  cmd->add_option("--vocab-size", train->vocab_size, "Vocabulary size incl. 256 bytes and <|endoftext|>")
      ->required()->check(CLI::Range(257, 1 << 24));
  cmd->add_option("--out", train->out, "Where to write tokenizer.json")->required();
  cmd->callback([train] { run_train(*train); });

  auto encode_path = std::make_shared<std::string>();
  auto encode_text = std::make_shared<std::string>();
  cmd = group->add_subcommand("encode", "Print the token ids of a text as a JSON array");
  cmd->add_option("--tokenizer", *encode_path, "tokenizer.json")->required();
  cmd->add_option("--text", *encode_text, "Text to encode")->required();
  cmd->callback([encode_path, encode_text] {
    Tokenizer tok = tokenizer_load(*encode_path);
    std::printf("%s\n", nlohmann::json(tokenizer_encode(tok, *encode_text)).dump().c_str());
  });

  auto decode_path = std::make_shared<std::string>();
  auto decode_ids = std::make_shared<std::string>();
  cmd = group->add_subcommand("decode", "Print the text of a JSON array of token ids");
  cmd->add_option("--tokenizer", *decode_path, "tokenizer.json")->required();
  cmd->add_option("--ids", *decode_ids, "JSON array of ids, e.g. \"[49, 50]\"")->required();
  cmd->callback([decode_path, decode_ids] {
    Tokenizer tok = tokenizer_load(*decode_path);
    nlohmann::json ids = nlohmann::json::parse(*decode_ids, nullptr, false);
    if (!ids.is_array()) fail("tokenizer decode: --ids must be a JSON array of integers");
    std::vector<int> v;
    for (const auto& id : ids) {
      if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() >= tok.vocab_size())
        fail("tokenizer decode: id ", id.dump(), " is not in [0, ", tok.vocab_size(), ")");
      v.push_back(id.get<int>());
    }
    std::string text = tokenizer_decode(tok, v);
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::printf("\n");
  });
}

}  // namespace chamber
