// Per-generation grading (contract in grader.h): label, run the code through the interpreter,
// fall back to text parsing, compare numerically.
#include "data/grader.h"

#include "data/answer_parse.h"
#include "data/interpreter.h"

namespace chamber {

static bool ident_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

// Position of the first "def" used as a keyword (not inside a longer word), or npos.
static size_t find_def(std::string_view s) {
  for (size_t at = s.find("def"); at != std::string_view::npos; at = s.find("def", at + 1)) {
    bool left_ok = at == 0 || !ident_char(s[at - 1]);
    bool right_ok = at + 3 < s.size() && (s[at + 3] == ' ' || s[at + 3] == '\t');
    if (left_ok && right_ok) return at;
  }
  return std::string_view::npos;
}

const char* grade_label(std::string_view completion) {
  if (completion.find("<llm-code>") != std::string_view::npos) return "omi1";
  if (find_def(completion) != std::string_view::npos) return "tinygsm";
  return "text";
}

std::string_view extract_function_code(std::string_view s) {
  size_t at = find_def(s);
  if (at == std::string_view::npos) return {};
  size_t start = s.rfind('\n', at);
  start = start == std::string_view::npos ? 0 : start + 1;
  // The def line, then every line that is blank, indented, or another top-level def.
  size_t end = s.find('\n', at);
  if (end == std::string_view::npos) return s.substr(start);
  size_t pos = end + 1;
  while (pos < s.size()) {
    size_t nl = s.find('\n', pos);
    size_t line_end = nl == std::string_view::npos ? s.size() : nl;
    std::string_view line = s.substr(pos, line_end - pos);
    bool blank = line.find_first_not_of(" \t\r") == std::string_view::npos;
    bool indented = !line.empty() && (line[0] == ' ' || line[0] == '\t');
    if (!blank && !indented && line.substr(0, 4) != "def ") break;
    end = line_end;
    if (nl == std::string_view::npos) break;
    pos = nl + 1;
  }
  return s.substr(start, end - start);
}

std::vector<std::string_view> extract_code_blocks(std::string_view s) {
  static constexpr std::string_view kOpen = "<llm-code>", kClose = "</llm-code>", kOutput = "<llm-code-output>";
  std::vector<std::string_view> blocks;
  size_t pos = 0;
  while (true) {
    size_t open = s.find(kOpen, pos);
    if (open == std::string_view::npos) break;
    size_t body = open + kOpen.size();
    size_t close = s.find(kClose, body);
    size_t stop = close == std::string_view::npos ? s.size() : close;
    // The output marker is looked for only inside this block, so the whole scan stays linear
    // (searching the rest of the text for every block made 50,000 blocks take seconds).
    size_t out = s.substr(0, stop).find(kOutput, body);
    if (out != std::string_view::npos) stop = out;
    blocks.push_back(s.substr(body, stop - body));
    if (close == std::string_view::npos) break;
    pos = close + kClose.size();
  }
  return blocks;
}

// A Python repr as an answer: strings lose their quotes.
static std::string answer_from_value(const std::string& v) {
  if (v.size() >= 2 && (v.front() == '\'' || v.front() == '"') && v.back() == v.front()) return v.substr(1, v.size() - 2);
  return v;
}

// The last printed line, reduced to its number when it is a sentence ("Total: 42").
static std::string answer_from_output(std::string_view out) {
  size_t end = out.size();
  while (end > 0) {
    size_t start = out.rfind('\n', end - 1);
    start = start == std::string_view::npos ? 0 : start + 1;
    std::string_view line = out.substr(start, end - start);
    if (line.find_first_not_of(" \t\r\n") != std::string_view::npos) {
      if (answer_to_number(line)) return std::string(line);
      return extract_text_answer(line);
    }
    if (start == 0) break;
    end = start - 1;
  }
  return "";
}

GradeResult grade_completion(std::string_view completion, const std::string& gold_answer) {
  GradeResult g;
  g.label = grade_label(completion);
  if (g.label == "omi1") {
    PyRunResult r = py_run_cells(extract_code_blocks(completion));
    if (r.ok && r.has_value) g.answer = answer_from_value(r.value), g.executed = true;
    else if (r.ok && !r.output.empty()) g.answer = answer_from_output(r.output), g.executed = !g.answer.empty();
    if (!r.ok) g.error = r.error;
  } else if (g.label == "tinygsm") {
    std::string_view code = extract_function_code(completion);
    bool named = code.find("def simple_math_problem") != std::string_view::npos;
    PyRunResult r = py_run_function(code, named ? "simple_math_problem" : "");
    if (r.ok && r.has_value) g.answer = answer_from_value(r.value), g.executed = true;
    if (!r.ok) g.error = r.error;
  }
  if (!g.executed) g.answer = extract_text_answer(completion);
  g.correct = answers_equal(g.answer, gold_answer);
  return g;
}

}  // namespace chamber
