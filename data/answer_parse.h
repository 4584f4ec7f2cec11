// Answer extraction from model text and numeric comparison of answers.
//
// Extraction order for natural-language solutions (the paper's rule for its text style, widened so
// GSM8K-style and free-form answers are found too):
//   1. the content of the last \boxed{...} (braces balanced; \fbox too),
//   2. the text after the last "#### " up to the end of its line,
//   3. the first number after the last "the answer is" (any case),
//   4. the last number anywhere.
// Comparison is numeric after normalising: thousands commas, "$"/"\$", "%"/"\%", a trailing ".0"
// or ".", \frac{a}{b} (\dfrac, \tfrac), a/b, leading signs, \text{...} units, surrounding spaces.
// Two answers that do not both parse as numbers are compared as normalised strings.
//
// Everything here takes untrusted text: no allocation proportional to anything but the input, no
// recursion, and every loop advances (libFuzzer target: data/answer_parse_fuzz.cpp).
#pragma once
#include <optional>
#include <string>
#include <string_view>

namespace chamber {

std::optional<std::string> answer_last_boxed(std::string_view text);
std::optional<std::string> answer_after_hashes(std::string_view text);
std::optional<std::string> answer_after_answer_is(std::string_view text);
std::optional<std::string> answer_last_number(std::string_view text);

// The chain above; empty string when the text holds no candidate at all.
std::string extract_text_answer(std::string_view text);

// The value of an answer string after normalisation, or nullopt when it is not a number.
std::optional<double> answer_to_number(std::string_view answer);

// Numeric equality when both sides parse: exact when both are whole numbers, else within a
// relative tolerance 1e-9 (absolute 1e-9); equality of the normalised strings when neither parses.
// An empty prediction never equals anything.
bool answers_equal(std::string_view predicted, std::string_view gold);

// Formats a value as an answer string: integers without a decimal point ("18", "-3"), others with
// up to 10 significant digits ("2.5").
std::string format_answer_number(double v);

}  // namespace chamber
