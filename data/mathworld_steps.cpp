// The working of one operation for the `omi2_steps` style: the arithmetic written out in column
// steps small enough that a ~1M-parameter model can compute each token from a few tokens before it.
// `omi2` states "3 * 17 = 51" in one jump, and at proxy scale a model gets only about one text
// answer in twenty right that way; here every step is a one-digit fact, so the number it writes
// depends on two or three digits close by, never on a whole multi-digit operand.
//
//   a + b   columns from the units up: "7 plus 5 is 12, carry 1; 1 plus 2 plus 1 is 4"; a column
//           with one digit and no carry is "bring down 1"; the last column is written whole.
//   a - b   (a > b) from the units up with borrows: "2 minus 5 borrows: 12 minus 5 is 7; 4 minus
//           1 minus 2 is 1"; leading zeros of the result are dropped when it is stated.
//   a * d   one digit d: "3 times 7 is 21, carry 2; 3 times 1 is 3, plus 2 is 5".
//   a * d0  one digit and zeros: "Multiply 113 by 20: 2 times 3 is 6; ..." (the zero follows).
//   a * b   otherwise one such line per nonzero digit (above 1) of the multiplier, the number with
//           fewer nonzero digits, and the partial products added with the addition working.
//   a * 10^k, a / 10^k   "write two zeros after 17", "drop two zeros from 3600".
//   a / d   long division from the leading digits: "19 divided by 4 is 4, remainder 3; 32 divided
//           by 4 is 8"; the quotient's digits come out in reading order.
// Operations on two one-digit numbers are facts the model memorises and get no working. A line
// ends before its result is stated: the clause sentence after it states the equation (as omi2
// does), a partial product is stated by the addition that uses it, and a running sum of three or
// more partial products by "So a + b = c.".
#include <string>
#include <vector>

#include "data/mathworld.h"
#include "util/util.h"

namespace chamber {
namespace {

// Digits from the units up: 172 -> {2, 7, 1}.
std::vector<int> digits_up(int64_t v) {
  std::vector<int> d;
  do {
    d.push_back((int)(v % 10));
    v /= 10;
  } while (v > 0);
  return d;
}

std::string num(int64_t v) { return std::to_string(v); }

// 1 for 10, 2 for 100, ...; 0 when v is not a power of ten above 1.
int ten_power(int64_t v) {
  int k = 0;
  while (v >= 10 && v % 10 == 0) v /= 10, k++;
  return v == 1 ? k : 0;
}

const char* kZeroCount[] = {"", "one zero", "two zeros", "three zeros", "four zeros", "five zeros", "six zeros", "seven zeros"};

std::string add_columns(int64_t a, int64_t b) {
  std::vector<int> x = digits_up(a), y = digits_up(b);
  size_t n = std::max(x.size(), y.size());
  std::string out;
  int carry = 0;
  for (size_t i = 0; i < n; i++) {
    if (i) out += "; ";
    bool has_x = i < x.size(), has_y = i < y.size();
    int sum = (has_x ? x[i] : 0) + (has_y ? y[i] : 0) + carry;
    if (has_x != has_y && carry == 0) {
      out += "bring down " + num(sum);
      continue;
    }
    std::string terms = has_x ? num(x[i]) : "";
    if (has_y) terms += (terms.empty() ? "" : " plus ") + num(y[i]);
    if (carry) terms += " plus " + num(carry);
    out += terms + " is " + num(sum);
    carry = sum / 10;
    if (carry && i + 1 < n) out += ", carry " + num(carry);
  }
  return out;
}

std::string subtract_columns(int64_t a, int64_t b) {
  std::vector<int> x = digits_up(a), y = digits_up(b);
  std::string out;
  int borrow = 0;
  for (size_t i = 0; i < x.size(); i++) {
    if (i) out += "; ";
    bool has_y = i < y.size();
    int bottom = has_y ? y[i] : 0;
    if (!has_y && borrow == 0) {
      out += "bring down " + num(x[i]);
      continue;
    }
    std::string rest = (borrow ? " minus 1" : "") + std::string(has_y ? " minus " + num(bottom) : "");
    int diff = x[i] - borrow - bottom;
    if (diff < 0) {
      out += num(x[i]) + rest + " borrows: 1" + num(x[i]) + rest + " is " + num(diff + 10);
      borrow = 1;
    } else {
      out += num(x[i]) + rest + " is " + num(diff);
      borrow = 0;
    }
  }
  return out;
}

// a times the one digit d, column by column.
std::string times_digit_columns(int64_t a, int d) {
  std::vector<int> x = digits_up(a);
  std::string out;
  int carry = 0;
  for (size_t i = 0; i < x.size(); i++) {
    if (i) out += "; ";
    int product = d * x[i], total = product + carry;
    out += num(d) + " times " + num(x[i]) + " is " + num(product);
    if (carry) out += ", plus " + num(carry) + " is " + num(total);
    carry = total / 10;
    if (carry && i + 1 < x.size()) out += ", carry " + num(carry);
  }
  return out;
}

std::string long_division(int64_t a, int64_t d) {
  std::string digits = num(a), out;
  int64_t chunk = 0;
  size_t i = 0;
  while (i + 1 < digits.size() && chunk * 10 + (digits[i] - '0') < d) chunk = chunk * 10 + (digits[i++] - '0');
  for (; i < digits.size(); i++) {
    chunk = chunk * 10 + (digits[i] - '0');
    if (!out.empty()) out += "; ";
    out += num(chunk) + " divided by " + num(d) + " is " + num(chunk / d);
    chunk %= d;
    if (chunk) out += ", remainder " + num(chunk);
  }
  return out;
}

std::string shift_line(int64_t a, int k) {
  return "Multiply " + num(a) + " by 1" + std::string(k, '0') + ": write " + kZeroCount[k] + " after " + num(a) + ".";
}

int nonzero_digits(int64_t v) {
  int n = 0;
  for (int d : digits_up(v)) n += d != 0;
  return n;
}

std::string multiply_lines(int64_t a, int64_t b) {
  // The multiplier is a power of ten if either is, else the number with fewer nonzero digits (then
  // fewer digits; the right one on a tie): 50 * 15 is one line of 15 times 5 and a zero.
  int64_t top = a, mult = b;
  int na = nonzero_digits(a), nb = nonzero_digits(b);
  if (ten_power(a) ? !ten_power(b) : !ten_power(b) && (na < nb || (na == nb && num(a).size() < num(b).size())))
    std::swap(top, mult);
  if (int k = ten_power(mult)) return shift_line(top, k);
  std::vector<int> md = digits_up(mult);
  if (nonzero_digits(mult) == 1)   // one digit and zeros: "Multiply 113 by 20" works 113 times 2
    return "Multiply " + num(top) + " by " + num(mult) + ": " + times_digit_columns(top, md.back()) + ".";
  // One line per nonzero digit of the multiplier but 1 (whose partial product is top, shifted, stated
  // by the addition that uses it), then the partial products added.
  std::string out;
  std::vector<int64_t> partials;
  int64_t place = 1;
  for (size_t k = 0; k < md.size(); k++, place *= 10) {
    if (md[k] == 0) continue;
    partials.push_back(top * md[k] * place);
    if (md[k] == 1) continue;
    if (!out.empty()) out += "\n";
    out += "Multiply " + num(top) + " by " + num(md[k] * place) + ": " + times_digit_columns(top, md[k]) + ".";
  }
  int64_t sum = partials[0];
  for (size_t k = 1; k < partials.size(); k++) {
    out += (out.empty() ? "" : "\n") + std::string("Add ") + num(sum) + " and " + num(partials[k]) + ": " + add_columns(sum, partials[k]) + ".";
    if (k + 1 < partials.size()) out += " So " + num(sum) + " + " + num(partials[k]) + " = " + num(sum + partials[k]) + ".";
    sum += partials[k];
  }
  return out;
}

}  // namespace

std::string mathworld_working(int64_t a, char op, int64_t b) {
  if (a < 0 || b < 0) fail("math world: working for negative operands ", a, " ", op, " ", b);
  if (a < 10 && b < 10 && op != '/') return "";
  switch (op) {
    case '+': return "Add " + num(a) + " and " + num(b) + ": " + add_columns(a, b) + ".";
    case '-':
      if (a < b) fail("math world: working for ", a, " - ", b, " would be negative");
      return "Subtract " + num(b) + " from " + num(a) + ": " + subtract_columns(a, b) + ".";
    case '*': return multiply_lines(a, b);
    case '/': {
      if (b == 0 || a % b != 0) fail("math world: working for ", a, " / ", b, " is not an exact division");
      if (a < 10) return "";
      if (int k = ten_power(b)) return "Divide " + num(a) + " by " + num(b) + ": drop " + kZeroCount[k] + " from " + num(a) + ".";
      return "Divide " + num(a) + " by " + num(b) + ": " + long_division(a, b) + ".";
    }
  }
  fail("math world: working for unknown operation '", std::string(1, op), "'");
}

}  // namespace chamber
