// Answer extraction and normalisation (contract in answer_parse.h). Plain scanning code: every loop
// moves forward by at least one byte, so the cost is linear in the input whatever it holds.
#include "data/answer_parse.h"

#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <utility>
#include <vector>

namespace chamber {

static bool is_digit(char c) { return c >= '0' && c <= '9'; }
static bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

static std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

// Content of the brace group that opens at s[open] == '{', or nullopt if it never closes.
static std::optional<std::string_view> brace_group(std::string_view s, size_t open) {
  int depth = 0;
  for (size_t i = open; i < s.size(); i++) {
    if (s[i] == '{') depth++;
    else if (s[i] == '}' && --depth == 0) return s.substr(open + 1, i - open - 1);
  }
  return std::nullopt;
}

std::optional<std::string> answer_last_boxed(std::string_view text) {
  // One pass backwards finds the \boxed and \fbox commands followed by "{" (their group's
  // opening brace), one pass forwards finds where each of those groups closes; the answer is the
  // last command whose group closes. Linear: scanning each candidate's group on its own made
  // 100,000 unclosed "\boxed{" take quadratic time.
  std::vector<size_t> opens;  // opening brace of each candidate, last candidate first
  for (size_t at = text.size(); at-- > 0;) {
    if (text[at] != '\\') continue;
    std::string_view rest = text.substr(at + 1);
    size_t len = rest.substr(0, 5) == "boxed" ? 5 : rest.substr(0, 4) == "fbox" ? 4 : 0;
    if (len == 0) continue;
    size_t open = at + 1 + len;
    while (open < text.size() && text[open] == ' ') open++;
    if (open < text.size() && text[open] == '{') opens.push_back(open);
  }
  if (opens.empty()) return std::nullopt;
  // close_of[k]: where the group of opens[k] closes (npos: never). depth counts the braces open
  // since the first candidate; a candidate's group closes when depth falls back below its level.
  std::vector<size_t> close_of(opens.size(), std::string_view::npos);
  std::vector<std::pair<size_t, size_t>> open_groups;  // (candidate index, depth inside its group)
  size_t next = opens.size();                          // candidates in text order: opens[next - 1]
  size_t depth = 0;
  for (size_t i = opens.back(); i < text.size(); i++) {
    if (text[i] == '{') {
      depth++;
      if (next > 0 && opens[next - 1] == i) open_groups.push_back({--next, depth});
    } else if (text[i] == '}' && depth > 0) {
      if (!open_groups.empty() && open_groups.back().second == depth) {
        close_of[open_groups.back().first] = i;
        open_groups.pop_back();
      }
      depth--;
    }
  }
  for (size_t k = 0; k < opens.size(); k++)
    if (close_of[k] != std::string_view::npos)
      return std::string(trim(text.substr(opens[k] + 1, close_of[k] - opens[k] - 1)));
  return std::nullopt;
}

std::optional<std::string> answer_after_hashes(std::string_view text) {
  size_t at = text.rfind("####");
  if (at == std::string_view::npos) return std::nullopt;
  std::string_view rest = text.substr(at + 4);
  size_t nl = rest.find('\n');
  if (nl != std::string_view::npos) rest = rest.substr(0, nl);
  rest = trim(rest);
  if (rest.empty()) return std::nullopt;
  return std::string(rest);
}

// Position just past a number starting at i ("-1,234.5"), or i if none starts there. Commas count
// only when followed by exactly three digits, so "3, 4" is two numbers.
static size_t scan_number(std::string_view s, size_t i) {
  size_t j = i;
  if (j < s.size() && s[j] == '-') j++;
  if (j >= s.size() || !is_digit(s[j])) return i;
  while (j < s.size() && is_digit(s[j])) j++;
  while (j + 3 < s.size() && s[j] == ',' && is_digit(s[j + 1]) && is_digit(s[j + 2]) &&
         is_digit(s[j + 3]) && (j + 4 >= s.size() || !is_digit(s[j + 4])))
    j += 4;
  if (j + 1 < s.size() && s[j] == '.' && is_digit(s[j + 1])) {
    j++;
    while (j < s.size() && is_digit(s[j])) j++;
  }
  return j;
}

static std::optional<std::string> first_number(std::string_view s) {
  for (size_t i = 0; i < s.size(); i++) {
    if (i > 0 && (is_digit(s[i - 1]) || s[i - 1] == '.')) continue;  // not mid-number
    size_t e = scan_number(s, i);
    if (e > i) {
      // "a/b" directly after counts as one fraction answer.
      if (e + 1 < s.size() && s[e] == '/' && is_digit(s[e + 1])) {
        size_t e2 = scan_number(s, e + 1);
        return std::string(s.substr(i, e2 - i));
      }
      return std::string(s.substr(i, e - i));
    }
  }
  return std::nullopt;
}

std::optional<std::string> answer_after_answer_is(std::string_view text) {
  static const char kPhrase[] = "the answer is";
  const size_t n = sizeof(kPhrase) - 1;
  size_t found = std::string_view::npos;
  for (size_t i = 0; i + n <= text.size(); i++) {
    size_t k = 0;
    while (k < n && std::tolower((unsigned char)text[i + k]) == kPhrase[k]) k++;
    if (k == n) found = i;
  }
  if (found == std::string_view::npos) return std::nullopt;
  std::string_view rest = text.substr(found + n);
  size_t nl = rest.find('\n');
  if (nl != std::string_view::npos) rest = rest.substr(0, nl);
  if (auto boxed = answer_last_boxed(rest)) return boxed;
  return first_number(rest);
}

std::optional<std::string> answer_last_number(std::string_view text) {
  // Walk back to the start of the last digit run, then scan the whole number from its start.
  size_t i = text.size();
  while (i > 0 && !is_digit(text[i - 1])) i--;
  if (i == 0) return std::nullopt;
  // Move to the first character of this number (digits, commas between digit groups, a dot).
  size_t start = i - 1;
  while (start > 0 && (is_digit(text[start - 1]) || text[start - 1] == ',' || text[start - 1] == '.'))
    start--;
  while (start < text.size() && !is_digit(text[start])) start++;  // drop a leading ',' or '.'
  if (start > 0 && text[start - 1] == '-') start--;
  size_t e = scan_number(text, start);
  if (e <= start) return std::nullopt;
  // If commas did not group cleanly, keep only the final run after the last separator.
  if (e < i) {
    size_t s2 = i - 1;
    while (s2 > 0 && is_digit(text[s2 - 1])) s2--;
    return std::string(text.substr(s2, i - s2));
  }
  return std::string(text.substr(start, e - start));
}

std::string extract_text_answer(std::string_view text) {
  if (auto a = answer_last_boxed(text)) return *a;
  if (auto a = answer_after_hashes(text)) return *a;
  if (auto a = answer_after_answer_is(text)) return *a;
  if (auto a = answer_last_number(text)) return *a;
  return "";
}

static bool starts_with(std::string_view s, size_t i, std::string_view prefix) {
  return s.substr(i, prefix.size()) == prefix;
}

// Removes LaTeX wrappers and symbols that never change the value.
static std::string normalise(std::string_view in) {
  std::string s;
  s.reserve(in.size());
  size_t i = 0;
  while (i < in.size()) {
    char c = in[i];
    if (c == '\\') {
      if (starts_with(in, i, "\\text{") || starts_with(in, i, "\\mbox{")) {  // units: dropped
        size_t open = in.find('{', i);
        auto g = brace_group(in, open);
        i = g ? open + g->size() + 2 : in.size();
        continue;
      }
      if (i + 1 < in.size() && (in[i + 1] == '$' || in[i + 1] == '%' || in[i + 1] == '!' ||
                                in[i + 1] == ',' || in[i + 1] == ' ' || in[i + 1] == ';')) {
        i += 2;
        continue;
      }
      if (starts_with(in, i, "\\left")) { i += 5; continue; }
      if (starts_with(in, i, "\\right")) { i += 6; continue; }
      if (starts_with(in, i, "\\dfrac") || starts_with(in, i, "\\tfrac")) { s += "\\frac"; i += 6; continue; }
    }
    if (starts_with(in, i, "^\\circ")) { i += 6; continue; }
    if (starts_with(in, i, "^{\\circ}")) { i += 8; continue; }
    if (c == '$' || c == '%' || is_space(c)) { i++; continue; }
    if (c == ',' && i > 0 && i + 1 < in.size() && is_digit(in[i - 1]) && is_digit(in[i + 1])) { i++; continue; }
    s.push_back(c);
    i++;
  }
  while (!s.empty() && s.back() == '.') s.pop_back();
  return s;
}

// Parses an optionally signed decimal that fills the whole of s.
static std::optional<double> parse_decimal(std::string_view s) {
  if (s.empty() || s.size() > 64) return std::nullopt;
  size_t i = 0;
  if (s[i] == '+' || s[i] == '-') i++;
  size_t digits = 0, dots = 0;
  for (size_t j = i; j < s.size(); j++) {
    if (is_digit(s[j])) digits++;
    else if (s[j] == '.') dots++;
    else return std::nullopt;
  }
  if (digits == 0 || dots > 1) return std::nullopt;
  char buf[80];
  size_t n = 0;
  for (char c : s) if (c != '+') buf[n++] = c;
  buf[n] = 0;
  double v = std::strtod(buf, nullptr);
  if (!std::isfinite(v)) return std::nullopt;
  return v;
}

std::optional<double> answer_to_number(std::string_view answer) {
  std::string s = normalise(trim(answer));
  if (s.empty()) return std::nullopt;
  if (auto v = parse_decimal(s)) return v;
  double sign = 1.0;
  std::string_view t = s;
  if (!t.empty() && (t[0] == '-' || t[0] == '+')) { if (t[0] == '-') sign = -1.0; t.remove_prefix(1); }
  // \frac{a}{b} or \frac ab
  if (t.substr(0, 5) == "\\frac") {
    t.remove_prefix(5);
    std::string_view a, b;
    if (!t.empty() && t[0] == '{') {
      auto g = brace_group(t, 0);
      if (!g) return std::nullopt;
      a = *g;
      t.remove_prefix(g->size() + 2);
    } else if (!t.empty()) { a = t.substr(0, 1); t.remove_prefix(1); }
    if (!t.empty() && t[0] == '{') {
      auto g = brace_group(t, 0);
      if (!g) return std::nullopt;
      b = *g;
      t.remove_prefix(g->size() + 2);
    } else if (!t.empty()) { b = t.substr(0, 1); t.remove_prefix(1); }
    if (!t.empty()) return std::nullopt;
    auto va = parse_decimal(a), vb = parse_decimal(b);
    if (!va || !vb || *vb == 0) return std::nullopt;
    return sign * *va / *vb;
  }
  size_t slash = t.find('/');
  if (slash != std::string_view::npos) {
    auto va = parse_decimal(t.substr(0, slash)), vb = parse_decimal(t.substr(slash + 1));
    if (!va || !vb || *vb == 0) return std::nullopt;
    return sign * *va / *vb;
  }
  // A number followed by words ("18 dollars", "5 cm"): take the number.
  size_t e = 0;
  while (e < t.size() && (is_digit(t[e]) || t[e] == '.')) e++;
  if (e > 0 && e < t.size() && std::isalpha((unsigned char)t[e])) {
    bool all_alpha = true;
    for (size_t j = e; j < t.size(); j++) all_alpha &= std::isalpha((unsigned char)t[j]) != 0;
    if (all_alpha) if (auto v = parse_decimal(t.substr(0, e))) return sign * *v;
  }
  return std::nullopt;
}

// An answer that is a whole number written out ("-1,234", "$18", "42.0") as its sign and digits
// without leading zeros ("-1234", "18", "42"), or nullopt.
static std::optional<std::string> integer_digits(std::string_view answer) {
  std::string s = normalise(trim(answer));
  size_t i = 0;
  bool negative = false;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) negative = s[i++] == '-';
  while (i + 1 < s.size() && s[i] == '0' && is_digit(s[i + 1])) i++;
  size_t start = i;
  while (i < s.size() && is_digit(s[i])) i++;
  if (i == start) return std::nullopt;
  std::string digits = s.substr(start, i - start);
  if (i < s.size() && s[i] == '.') {
    i++;
    while (i < s.size() && s[i] == '0') i++;
  }
  if (i != s.size()) return std::nullopt;
  return negative && digits != "0" ? "-" + digits : digits;
}

bool answers_equal(std::string_view predicted, std::string_view gold) {
  if (trim(predicted).empty()) return false;
  auto a = answer_to_number(predicted), b = answer_to_number(gold);
  // Two whole numbers compare exactly: as doubles, 9223372036854775807 would equal ...806.
  if (a && b) {
    auto da = integer_digits(predicted), db = integer_digits(gold);
    if (da && db) return *da == *db;
    return std::fabs(*a - *b) <= 1e-9 + 1e-9 * std::fabs(*b);
  }
  if (a || b) return false;
  return normalise(predicted) == normalise(gold);
}

std::string format_answer_number(double v) {
  char buf[64];
  if (std::isfinite(v) && std::fabs(v) < 9e15 && v == std::floor(v)) {
    std::snprintf(buf, sizeof buf, "%lld", (long long)v);
  } else {
    std::snprintf(buf, sizeof buf, "%.10g", v);
  }
  return buf;
}

}  // namespace chamber
