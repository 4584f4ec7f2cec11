// omi2_steps's working (data/mathworld_steps.cpp): exact text for hand-computed examples, and a
// checker written apart from the renderer that re-verifies every step of rendered solutions: each
// column statement's arithmetic, each carry, borrow and remainder against the column after it, the
// result the digits assemble to against the operation the line names, and every "a op b = c".
// A style meant to teach a small model arithmetic must never show it a wrong step.
#include <gtest/gtest.h>

#include <sstream>

#include "data/grader.h"
#include "data/mathworld.h"
#include "util/util.h"

namespace chamber {
namespace {

TEST(MathWorldSteps, HandComputedExamples) {
  EXPECT_EQ(mathworld_working(17, '+', 25), "Add 17 and 25: 7 plus 5 is 12, carry 1; 1 plus 2 plus 1 is 4.");
  EXPECT_EQ(mathworld_working(75, '+', 48), "Add 75 and 48: 5 plus 8 is 13, carry 1; 7 plus 4 plus 1 is 12.");
  EXPECT_EQ(mathworld_working(195, '+', 8),
            "Add 195 and 8: 5 plus 8 is 13, carry 1; 9 plus 1 is 10, carry 1; 1 plus 1 is 2.");
  EXPECT_EQ(mathworld_working(125, '+', 4), "Add 125 and 4: 5 plus 4 is 9; bring down 2; bring down 1.");
  EXPECT_EQ(mathworld_working(42, '-', 25), "Subtract 25 from 42: 2 minus 5 borrows: 12 minus 5 is 7; 4 minus 1 minus 2 is 1.");
  EXPECT_EQ(mathworld_working(105, '-', 98),
            "Subtract 98 from 105: 5 minus 8 borrows: 15 minus 8 is 7; 0 minus 1 minus 9 borrows: 10 minus 1 minus 9 is 0; "
            "1 minus 1 is 0.");
  EXPECT_EQ(mathworld_working(300, '-', 4),
            "Subtract 4 from 300: 0 minus 4 borrows: 10 minus 4 is 6; 0 minus 1 borrows: 10 minus 1 is 9; 3 minus 1 is 2.");
  EXPECT_EQ(mathworld_working(3, '*', 17), "Multiply 17 by 3: 3 times 7 is 21, carry 2; 3 times 1 is 3, plus 2 is 5.");
  EXPECT_EQ(mathworld_working(17, '*', 100), "Multiply 17 by 100: write two zeros after 17.");
  EXPECT_EQ(mathworld_working(100, '*', 4), "Multiply 4 by 100: write two zeros after 4.");
  EXPECT_EQ(mathworld_working(240, '*', 25),
            "Multiply 240 by 5: 5 times 0 is 0; 5 times 4 is 20, carry 2; 5 times 2 is 10, plus 2 is 12.\n"
            "Multiply 240 by 20: 2 times 0 is 0; 2 times 4 is 8; 2 times 2 is 4.\n"
            "Add 1200 and 4800: 0 plus 0 is 0; 0 plus 0 is 0; 2 plus 8 is 10, carry 1; 1 plus 4 plus 1 is 6.");
  EXPECT_EQ(mathworld_working(50, '*', 15), "Multiply 15 by 50: 5 times 5 is 25, carry 2; 5 times 1 is 5, plus 2 is 7.");
  EXPECT_EQ(mathworld_working(12, '*', 11), "Add 12 and 120: 2 plus 0 is 2; 1 plus 2 is 3; bring down 1.");
  EXPECT_EQ(mathworld_working(123, '*', 456),
            "Multiply 123 by 6: 6 times 3 is 18, carry 1; 6 times 2 is 12, plus 1 is 13, carry 1; 6 times 1 is 6, plus 1 is 7.\n"
            "Multiply 123 by 50: 5 times 3 is 15, carry 1; 5 times 2 is 10, plus 1 is 11, carry 1; 5 times 1 is 5, plus 1 is 6.\n"
            "Multiply 123 by 400: 4 times 3 is 12, carry 1; 4 times 2 is 8, plus 1 is 9; 4 times 1 is 4.\n"
            "Add 738 and 6150: 8 plus 0 is 8; 3 plus 5 is 8; 7 plus 1 is 8; bring down 6. So 738 + 6150 = 6888.\n"
            "Add 6888 and 49200: 8 plus 0 is 8; 8 plus 0 is 8; 8 plus 2 is 10, carry 1; 6 plus 9 plus 1 is 16, carry 1; 4 plus 1 is 5.");
  EXPECT_EQ(mathworld_working(84, '/', 4), "Divide 84 by 4: 8 divided by 4 is 2; 4 divided by 4 is 1.");
  EXPECT_EQ(mathworld_working(612, '/', 6), "Divide 612 by 6: 6 divided by 6 is 1; 1 divided by 6 is 0, remainder 1; 12 divided by 6 is 2.");
  EXPECT_EQ(mathworld_working(76, '/', 4), "Divide 76 by 4: 7 divided by 4 is 1, remainder 3; 36 divided by 4 is 9.");
  EXPECT_EQ(mathworld_working(3600, '/', 100), "Divide 3600 by 100: drop two zeros from 3600.");
  // One-digit facts get no working.
  EXPECT_EQ(mathworld_working(7, '*', 8), "");
  EXPECT_EQ(mathworld_working(3, '+', 5), "");
  EXPECT_EQ(mathworld_working(8, '/', 2), "");
  EXPECT_THROW(mathworld_working(5, '-', 12), Error);
  EXPECT_THROW(mathworld_working(10, '/', 3), Error);
}

// ---- the checker ----

std::vector<std::string> split(const std::string& s, const std::string& sep) {
  std::vector<std::string> out;
  size_t at = 0;
  for (size_t next; (next = s.find(sep, at)) != std::string::npos; at = next + sep.size()) out.push_back(s.substr(at, next - at));
  out.push_back(s.substr(at));
  return out;
}

std::vector<std::string> words(const std::string& s) {
  std::istringstream in(s);
  std::vector<std::string> w;
  for (std::string x; in >> x;) w.push_back(x);
  return w;
}

bool starts_with(const std::string& s, const std::string& p) { return s.rfind(p, 0) == 0; }

// "7 plus 5 plus 1" -> 13 (left to right; a leading "plus 2" continues from `previous`).
int64_t chain_value(const std::vector<std::string>& w, int64_t previous) {
  size_t i = 0;
  int64_t v = previous;
  if (w.empty()) throw std::runtime_error("empty chain");
  if (w[0] != "plus") v = std::stoll(w[i++]);
  for (; i + 1 < w.size(); i += 2) {
    int64_t x = std::stoll(w[i + 1]);
    if (w[i] == "plus") v += x;
    else if (w[i] == "minus") v -= x;
    else if (w[i] == "times") v *= x;
    else throw std::runtime_error("bad operator '" + w[i] + "'");
  }
  if (i != w.size()) throw std::runtime_error("dangling word");
  return v;
}

// Checks one working line "<Verb> ...: <columns>.[ So ...]" and returns what it computes; adds
// a failure message to `errors` for every wrong step.
void check_working_line(const std::string& line, std::vector<std::string>& errors) {
  auto bad = [&](const std::string& what) { errors.push_back(what + " in: " + line); };
  size_t colon = line.find(": ");
  std::vector<std::string> head = words(line.substr(0, colon));
  std::string body = line.substr(colon + 2);
  size_t end = body.find(". So ");
  body = body.substr(0, end == std::string::npos ? body.size() - 1 : end);
  int64_t a = 0, b = 0, want = 0;
  char op = 0;
  if (head.size() == 4 && head[0] == "Add" && head[2] == "and") a = std::stoll(head[1]), b = std::stoll(head[3]), op = '+', want = a + b;
  else if (head.size() == 4 && head[0] == "Subtract" && head[2] == "from") a = std::stoll(head[3]), b = std::stoll(head[1]), op = '-', want = a - b;
  else if (head.size() == 4 && head[0] == "Multiply" && head[2] == "by") a = std::stoll(head[1]), b = std::stoll(head[3]), op = '*', want = a * b;
  else if (head.size() == 4 && head[0] == "Divide" && head[2] == "by") a = std::stoll(head[1]), b = std::stoll(head[3]), op = '/', want = a / b;
  else return bad("unknown header");
  if (op == '-' && a < b) return bad("negative subtraction");
  if (op == '/' && a % b) return bad("inexact division");
  std::string zeros = std::to_string(b).substr(1);
  if (starts_with(body, "write ") || starts_with(body, "drop ")) {
    const char* names[] = {"", "one zero", "two zeros", "three zeros", "four zeros", "five zeros", "six zeros"};
    bool ok = std::to_string(b) == "1" + std::string(zeros.size(), '0') && zeros.size() < 7;
    std::string expect = op == '*' ? "write " + std::string(ok ? names[zeros.size()] : "") + " after " + std::to_string(a)
                                   : "drop " + std::string(ok ? names[zeros.size()] : "") + " from " + std::to_string(a);
    if (!ok || body != expect || (op != '*' && op != '/')) bad("wrong shift '" + body + "'");
    return;
  }
  std::vector<std::string> columns = split(body, "; ");
  std::vector<int64_t> values;
  int64_t pending_carry = 0, pending_remainder = 0;
  size_t next_digit = 0;   // division: a's digit the next chunk brings down
  bool pending_borrow = false;
  for (const std::string& col : columns) {
    std::vector<std::string> parts = split(col, ", ");
    int64_t value = 0;
    if (pending_carry && col.find("plus " + std::to_string(pending_carry) + " is ") == std::string::npos) bad("carry not used");
    if (pending_borrow && words(col).size() > 2 && words(col)[1] + words(col)[2] != "minus1") bad("borrow not used");
    if (op == '/') {
      std::vector<std::string> w = words(parts[0]);
      if (w.size() != 6 || w[1] != "divided" || w[2] != "by" || w[4] != "is" || std::stoll(w[3]) != b) return bad("bad division step");
      int64_t chunk = std::stoll(w[0]), q = std::stoll(w[5]);
      int64_t r = parts.size() > 1 && starts_with(parts[1], "remainder ") ? std::stoll(parts[1].substr(10)) : 0;
      // The first chunk is the leading digits of a; each later one the remainder and a's next digit.
      std::string a_digits = std::to_string(a), chunk_digits = std::to_string(chunk);
      if (values.empty() ? !starts_with(a_digits, chunk_digits) || chunk < b
                         : chunk / 10 != pending_remainder || next_digit >= a_digits.size() ||
                               chunk % 10 != a_digits[next_digit] - '0')
        bad("chunk does not continue the division");
      next_digit = values.empty() ? chunk_digits.size() : next_digit + 1;
      if (q * b + r != chunk || r >= b || q > 9) bad("wrong division step '" + col + "'");
      pending_remainder = r;
      values.push_back(q);
      continue;
    }
    pending_carry = 0;
    pending_borrow = false;
    for (const std::string& part : parts) {
      if (starts_with(part, "carry ")) {
        pending_carry = std::stoll(part.substr(6));
        if (pending_carry != value / 10 || pending_carry == 0) bad("wrong carry");
        continue;
      }
      if (starts_with(part, "bring down ")) {
        value = std::stoll(part.substr(11));
        continue;
      }
      std::string stated = part;
      size_t borrow_at = part.find(" borrows: ");
      if (borrow_at != std::string::npos) {
        std::string before = part.substr(0, borrow_at);
        stated = part.substr(borrow_at + 10);
        if (chain_value(words(before), 0) >= 0 || !starts_with(stated, "1" + before + " is ")) bad("wrong borrow");
        pending_borrow = true;
      }
      size_t is_at = stated.rfind(" is ");
      if (is_at == std::string::npos) return bad("no result in '" + part + "'");
      int64_t result = std::stoll(stated.substr(is_at + 4));
      if (chain_value(words(stated.substr(0, is_at)), value) != result) bad("wrong step '" + part + "'");
      value = result;
    }
    values.push_back(value);
  }
  if (op == '/' && next_digit != std::to_string(a).size()) bad("division stops early");
  // The digits the columns wrote, assembled as the sentence after the working states them.
  std::string digits;
  if (op == '/') {
    for (int64_t q : values) digits += std::to_string(q);
  } else if (op == '-') {
    for (size_t i = values.size(); i-- > 0;) digits += std::to_string(values[i]);
  } else {
    digits = std::to_string(values.back());
    for (size_t i = values.size() - 1; i-- > 0;) digits += std::to_string(values[i] % 10);
  }
  digits.erase(0, std::min(digits.find_first_not_of('0'), digits.size() - 1));
  // A product's line names its multiplier, one digit and zeros; the columns work the digit.
  if (op == '*') digits += std::to_string(b).substr(std::to_string(b).find_last_not_of('0') + 1);
  if (std::stoll(digits) != want) bad("columns give " + digits + ", not " + std::to_string(want));
}

// Every "a op b = c" in the text holds.
void check_equations(const std::string& text, std::vector<std::string>& errors) {
  std::vector<std::string> w = words(text);
  auto number = [](std::string s, int64_t* v) {
    while (!s.empty() && (s.back() == '.' || s.back() == ',')) s.pop_back();
    if (s.empty() || s.find_first_not_of("0123456789") != std::string::npos) return false;
    *v = std::stoll(s);
    return true;
  };
  for (size_t i = 0; i + 4 < w.size(); i++) {
    int64_t a, b, c;
    if (w[i + 1].size() != 1 || std::string("+-*/").find(w[i + 1]) == std::string::npos || w[i + 3] != "=") continue;
    if (!number(w[i], &a) || !number(w[i + 2], &b) || !number(w[i + 4], &c)) continue;
    char op = w[i + 1][0];
    int64_t v = op == '+' ? a + b : op == '-' ? a - b : op == '*' ? a * b : (b && a % b == 0 ? a / b : -1);
    if (v != c) errors.push_back("wrong equation " + w[i] + " " + op + " " + w[i + 2] + " = " + w[i + 4]);
  }
}

std::vector<std::string> check_solution(const std::string& sol) {
  std::vector<std::string> errors;
  check_equations(sol, errors);
  for (const std::string& line : split(sol, "\n"))
    for (const char* verb : {"Add ", "Subtract ", "Multiply ", "Divide "})
      if (starts_with(line, verb)) check_working_line(line, errors);
  return errors;
}

TEST(MathWorldSteps, CheckerCatchesWrongSteps) {
  EXPECT_TRUE(check_solution(mathworld_working(240, '*', 25)).empty());
  EXPECT_FALSE(check_solution("Multiply 113 by 20: 2 times 3 is 6; 2 times 1 is 2; 2 times 1 is 3.").empty());
  EXPECT_FALSE(check_solution("Add 17 and 25: 7 plus 5 is 12, carry 1; 1 plus 2 plus 1 is 5.").empty());
  EXPECT_FALSE(check_solution("Add 17 and 25: 7 plus 5 is 12; 1 plus 2 is 3.").empty());          // carry dropped
  EXPECT_FALSE(check_solution("Subtract 25 from 42: 2 minus 5 borrows: 12 minus 5 is 7; 4 minus 2 is 2.").empty());
  EXPECT_FALSE(check_solution("Divide 76 by 4: 7 divided by 4 is 1, remainder 3; 26 divided by 4 is 6.").empty());
  EXPECT_FALSE(check_solution("Multiply 17 by 3: 3 times 7 is 21, carry 2; 3 times 1 is 3, plus 2 is 6.").empty());
  EXPECT_FALSE(check_solution("She buys 3 * 17 = 52 pens.").empty());
}

// Random operands over the math world's whole range (values up to 10^7).
TEST(MathWorldSteps, RandomOperationsCheck) {
  Rng rng(7);
  for (int i = 0; i < 20000; i++) {
    int64_t a = 1 + (int64_t)rng.below(i % 2 ? 10'000'000 : 1000), b = 1 + (int64_t)rng.below(i % 3 ? 100 : 100000);
    std::string text = mathworld_working(a, '+', b) + "\n" + mathworld_working(a + b, '-', b) + "\n" +
                       mathworld_working(a * b, '/', b) + "\n" + mathworld_working(a, '*', b);
    std::vector<std::string> errors = check_solution(text);
    ASSERT_TRUE(errors.empty()) << errors[0];
  }
}

// Rendered solutions of every split (hard: up to 8 operations on large numbers) grade correct as
// text, and every step in them is right.
TEST(MathWorldSteps, EverySplitGradesAndChecks) {
  int worked = 0;
  for (const char* split_name : {"train", "rl", "test", "easy", "hard"})
    for (const MathProblem& p : mathworld_generate(split_name, 600, 3)) {
      std::string sol = mathworld_solution(p, "omi2_steps");
      GradeResult g = grade_completion(sol, mathworld_answer_text(p));
      ASSERT_TRUE(g.correct) << g.answer << " for " << p.answer << "\n" << sol;
      ASSERT_EQ(g.label, "text") << sol;
      std::vector<std::string> errors = check_solution(sol);
      ASSERT_TRUE(errors.empty()) << errors[0] << "\n" << sol;
      EXPECT_EQ(mathworld_document(p, "omi2_steps"), p.prompt + sol);
      worked += sol.find(": ") != std::string::npos;
    }
  EXPECT_GT(worked, 2000);
}

}  // namespace
}  // namespace chamber
