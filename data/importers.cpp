// JSON-lines importers (contract in importers.h).
#include "data/importers.h"

#include <nlohmann/json.hpp>

#include "data/answer_parse.h"
#include "util/util.h"

namespace chamber {

bool importer_kind_known(std::string_view kind) {
  return kind == "gsm8k" || kind == "math" || kind == "tinygsm" || kind == "omi1" || kind == "omi2" ||
         kind == "text";
}

const char* importer_kinds_list() { return "gsm8k, math, tinygsm, omi1, omi2, text"; }

static std::string string_field(const nlohmann::json& row, const char* field, const std::string& where) {
  auto it = row.find(field);
  if (it == row.end()) fail(where, ": missing field '", field, "'");
  if (it->is_string()) return it->get<std::string>();
  // expected_answer is sometimes stored as a number.
  if (it->is_number()) return it->dump();
  fail(where, ": field '", field, "' must be a string");
}

std::string gsm8k_final_answer(std::string_view answer_field) {
  auto a = answer_after_hashes(answer_field);
  if (!a) return "";
  std::string out;
  for (char c : *a) if (c != ',') out.push_back(c);
  return out;
}

ImportedRecord import_record(std::string_view kind, const nlohmann::json& row, const std::string& where,
                             const std::string& text_field) {
  if (!row.is_object()) fail(where, ": expected a JSON object");
  ImportedRecord r;
  if (kind == "gsm8k") {
    r.question = string_field(row, "question", where);
    r.solution = string_field(row, "answer", where);
    r.gold_answer = gsm8k_final_answer(r.solution);
    if (r.gold_answer.empty()) fail(where, ": GSM8K field 'answer' has no final '#### N' line");
  } else if (kind == "math") {
    r.question = string_field(row, "problem", where);
    r.solution = string_field(row, "solution", where);
    if (auto boxed = answer_last_boxed(r.solution)) r.gold_answer = *boxed;
    // MATH-500 style files carry the answer separately too.
    if (row.contains("answer") && row["answer"].is_string()) r.gold_answer = row["answer"].get<std::string>();
  } else if (kind == "tinygsm") {
    r.question = string_field(row, "question", where);
    r.solution = string_field(row, "code", where);
  } else if (kind == "omi1" || kind == "omi2") {
    r.question = string_field(row, "question", where);
    r.solution = string_field(row, "generated_solution", where);
    r.gold_answer = string_field(row, "expected_answer", where);
  } else if (kind == "text") {
    r.solution = string_field(row, text_field.c_str(), where);
  } else {
    fail(where, ": unknown importer '", std::string(kind), "' (known: ", importer_kinds_list(), ")");
  }
  return r;
}

std::vector<ImportedRecord> import_jsonl(std::string_view kind, const std::string& path,
                                         const std::string& text_field) {
  if (!importer_kind_known(kind))
    fail(path, ": unknown importer '", std::string(kind), "' (known: ", importer_kinds_list(), ")");
  std::string text = read_file(path);
  std::vector<ImportedRecord> out;
  for_each_nonblank_line(text, [&](std::string_view line, int line_no) {
    std::string where = path + ":" + std::to_string(line_no);
    nlohmann::json row = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (row.is_discarded()) fail(where, ": not valid JSON");
    out.push_back(import_record(kind, row, where, text_field));
  });
  return out;
}

std::string record_document(const ImportedRecord& r) {
  if (r.question.empty()) return r.solution;
  return r.question + "\n\n" + r.solution;
}

std::string record_prompt(const ImportedRecord& r) { return r.question + "\n\n"; }

}  // namespace chamber
