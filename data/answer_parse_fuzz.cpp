// libFuzzer entry point for the answer parsers and normalisation (built by
// tests/data/run_fuzz.sh; excluded from the library). The input is split at the first "\x01" into
// a completion and a gold answer.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "data/answer_parse.h"
#include "data/grader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  size_t cut = in.find('\x01');
  std::string_view text = in.substr(0, cut), gold = cut == std::string_view::npos ? "7" : in.substr(cut + 1);
  std::string answer = chamber::extract_text_answer(text);
  chamber::answer_to_number(text);
  chamber::answer_to_number(answer);
  chamber::answers_equal(answer, gold);
  chamber::answers_equal(text, gold);
  chamber::grade_label(text);
  chamber::extract_function_code(text);
  chamber::extract_code_blocks(text);
  return 0;
}
