// Importers for real math datasets stored as JSON lines, one record per line.
//
//   kind      fields read                                     gold answer
//   gsm8k     question, answer (ends in "#### N")             N
//   math      problem, solution (answer in \boxed{})          content of the last \boxed{}
//   tinygsm   question, code (def simple_math_problem())      the code's return value (run by the
//                                                             caller through the interpreter; left
//                                                             empty here)
//   omi1      question, generated_solution, expected_answer   expected_answer
//   omi2      question, generated_solution, expected_answer   expected_answer
//   text      one string field (default "text")               none
//
// A record becomes one pretraining document in the paper's format: question, a blank line, the
// solution (a `text` record is its field as is). A line that is not a JSON object, or lacks a
// field, is a chamber::Error naming the file, the 1-based line and the field.
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace chamber {

struct ImportedRecord {
  std::string question;     // empty for `text`
  std::string solution;     // the whole document for `text`
  std::string gold_answer;  // empty when the source gives none
};

bool importer_kind_known(std::string_view kind);
const char* importer_kinds_list();  // "gsm8k, math, tinygsm, omi1, omi2, text" for messages

// One parsed row; `where` ("file:line") prefixes error messages.
ImportedRecord import_record(std::string_view kind, const nlohmann::json& row, const std::string& where,
                             const std::string& text_field = "text");
// Every non-blank line of a jsonl file.
std::vector<ImportedRecord> import_jsonl(std::string_view kind, const std::string& path,
                                         const std::string& text_field = "text");

// question + "\n\n" + solution (just the solution when there is no question).
std::string record_document(const ImportedRecord& r);
// The prompt an RL or evaluation run gives the model: question + "\n\n".
std::string record_prompt(const ImportedRecord& r);

// GSM8K answers: the text after "####", commas removed ("1,000" -> "1000").
std::string gsm8k_final_answer(std::string_view answer_field);

}  // namespace chamber
