// Operators and value formatting with Python's semantics where a grade-school program can tell:
// int / int is a float, // and % floor towards minus infinity, ** on ints stays exact (and is an
// error when the result does not fit in 64 bits instead of a slow bignum), float repr is the
// shortest text that reads back to the same double ("2.5", "3.0").
#include <algorithm>
#include <charconv>
#include <cmath>
#include <string_view>
#include <vector>

#include "data/interpreter_internal.h"

namespace chamber::py {

const char* type_name(V t) {
  switch (t) {
    case V::Undef: return "undefined";
    case V::None: return "NoneType";
    case V::Bool: return "bool";
    case V::Int: return "int";
    case V::Float: return "float";
    case V::Str: return "str";
    case V::List: return "list";
    case V::Tuple: return "tuple";
    case V::Range: return "range";
    case V::Func: return "function";
    case V::Builtin: return "builtin_function";
    case V::Module: return "module";
    case V::Method: return "method";
  }
  return "?";
}

int64_t range_length(const RangeObj& r) {
  __int128 span = r.step > 0 ? (__int128)r.stop - r.start : (__int128)r.start - r.stop;
  if (span <= 0) return 0;
  __int128 step = r.step > 0 ? r.step : -(__int128)r.step;
  return (int64_t)((span + step - 1) / step);
}

void Interp::charge_elements(int64_t n, int line) {
  total_elements += n;
  if (total_elements > lim.max_total_elements) raise(line, "MemoryError: too many list elements created");
}

Value Interp::new_str(std::string s, int line) {
  if ((int64_t)s.size() > lim.max_string_bytes) raise(line, "MemoryError: string too long");
  charge_work(byte_units((int64_t)s.size()), line);
  charge_elements((int64_t)s.size() / 16 + 1, line);
  strs.push_back(std::move(s));
  return Value::ref(V::Str, (int64_t)strs.size() - 1);
}

Value Interp::new_list(std::vector<Value> items, int line, V kind) {
  if ((int64_t)items.size() > lim.max_list_elements) raise(line, "MemoryError: list too long");
  charge_work((int64_t)items.size() + 1, line);
  charge_elements((int64_t)items.size() + 1, line);
  lists.push_back(std::move(items));
  return Value::ref(kind, (int64_t)lists.size() - 1);
}

bool truthy(const Interp& in, const Value& v) {
  switch (v.t) {
    case V::None: case V::Undef: return false;
    case V::Bool: case V::Int: return v.i != 0;
    case V::Float: return v.f != 0.0;
    case V::Str: return !in.strs[v.i].empty();
    case V::List: case V::Tuple: return !in.lists[v.i].empty();
    case V::Range: return range_length(in.ranges[v.i]) > 0;
    default: return true;
  }
}

static bool numeric(const Value& v) { return v.t == V::Int || v.t == V::Float || v.t == V::Bool; }
static double as_double(const Value& v) { return v.t == V::Float ? v.f : (double)v.i; }

[[noreturn]] static void type_error(int op, const Value& a, const Value& b, int line) {
  static const char* names[] = {"+", "-", "*", "/", "//", "%", "**"};
  raise(line, std::string("TypeError: unsupported operand type(s) for ") + (op <= kPow ? names[op] : "?") + ": '" +
                  type_name(a.t) + "' and '" + type_name(b.t) + "'");
}

[[noreturn]] static void overflow(int line) { raise(line, "OverflowError: integer result too large (over 64 bits)"); }

static int64_t int_pow(int64_t base, int64_t exp, int line) {
  int64_t result = 1;
  while (exp > 0) {
    if (exp & 1) { if (__builtin_mul_overflow(result, base, &result)) overflow(line); }
    exp >>= 1;
    if (exp > 0 && __builtin_mul_overflow(base, base, &base)) overflow(line);
  }
  return result;
}

static Value int_op(int op, int64_t a, int64_t b, int line) {
  int64_t r;
  switch (op) {
    case kPlus: if (__builtin_add_overflow(a, b, &r)) overflow(line); return Value::integer(r);
    case kMinus: if (__builtin_sub_overflow(a, b, &r)) overflow(line); return Value::integer(r);
    case kStar: if (__builtin_mul_overflow(a, b, &r)) overflow(line); return Value::integer(r);
    case kSlash:
      if (b == 0) raise(line, "ZeroDivisionError: division by zero");
      return Value::real((double)a / (double)b);
    case kFloorDiv: case kPercent: {
      if (b == 0) raise(line, "ZeroDivisionError: integer division or modulo by zero");
      if (a == INT64_MIN && b == -1) { if (op == kPercent) return Value::integer(0); overflow(line); }
      int64_t q = a / b, m = a % b;
      if (m != 0 && ((m < 0) != (b < 0))) q -= 1, m += b;
      return Value::integer(op == kFloorDiv ? q : m);
    }
    case kPow:
      if (b < 0) {
        if (a == 0) raise(line, "ZeroDivisionError: 0 cannot be raised to a negative power");
        return Value::real(std::pow((double)a, (double)b));
      }
      return Value::integer(int_pow(a, b, line));
  }
  raise(line, "internal error: unknown operator");
}

static Value float_op(int op, double a, double b, int line) {
  switch (op) {
    case kPlus: return Value::real(a + b);
    case kMinus: return Value::real(a - b);
    case kStar: return Value::real(a * b);
    case kSlash:
      if (b == 0) raise(line, "ZeroDivisionError: float division by zero");
      return Value::real(a / b);
    case kFloorDiv: case kPercent: {
      if (b == 0) raise(line, "ZeroDivisionError: float modulo");
      double m = std::fmod(a, b);
      if (m != 0 && ((m < 0) != (b < 0))) m += b;
      if (op == kPercent) return Value::real(m);
      return Value::real(std::floor(a / b));
    }
    case kPow: {
      if (a == 0 && b < 0) raise(line, "ZeroDivisionError: 0.0 cannot be raised to a negative power");
      if (a < 0 && b != std::floor(b)) raise(line, "ValueError: negative number raised to a fractional power");
      double r = std::pow(a, b);
      if (std::isinf(r) && std::isfinite(a) && std::isfinite(b)) raise(line, "OverflowError: float result too large");
      return Value::real(r);
    }
  }
  raise(line, "internal error: unknown operator");
}

static Value repeat(Interp& in, const Value& seq, int64_t times, int line) {
  if (times < 0) times = 0;
  // An empty sequence stays empty however often it is repeated (and must not loop `times` times).
  bool empty = seq.t == V::Str ? in.strs[seq.i].empty() : in.lists[seq.i].empty();
  if (empty) times = 0;
  if (seq.t == V::Str) {
    const std::string& s = in.strs[seq.i];
    if (times > 0 && (int64_t)s.size() > in.lim.max_string_bytes / times) raise(line, "MemoryError: string too long");
    std::string out;
    out.reserve(s.size() * times);
    for (int64_t k = 0; k < times; k++) out += s;
    return in.new_str(std::move(out), line);
  }
  const auto& items = in.lists[seq.i];
  if (times > 0 && (int64_t)items.size() > in.lim.max_list_elements / times) raise(line, "MemoryError: list too long");
  std::vector<Value> out;
  out.reserve(items.size() * times);
  for (int64_t k = 0; k < times; k++) out.insert(out.end(), items.begin(), items.end());
  return in.new_list(std::move(out), line, seq.t);
}

Value binary_op(Interp& in, int op, const Value& a, const Value& b, int line) {
  if (a.t == V::Int && b.t == V::Int) return int_op(op, a.i, b.i, line);
  if (numeric(a) && numeric(b)) {
    if (a.t != V::Float && b.t != V::Float) return int_op(op, a.i, b.i, line);  // bools
    return float_op(op, as_double(a), as_double(b), line);
  }
  bool seq_a = a.t == V::Str || a.t == V::List || a.t == V::Tuple;
  bool seq_b = b.t == V::Str || b.t == V::List || b.t == V::Tuple;
  if (op == kPlus && seq_a && a.t == b.t) {
    if (a.t == V::Str) return in.new_str(in.strs[a.i] + in.strs[b.i], line);
    const auto &x = in.lists[a.i], &y = in.lists[b.i];
    if ((int64_t)(x.size() + y.size()) > in.lim.max_list_elements) raise(line, "MemoryError: list too long");
    std::vector<Value> out(x);
    out.insert(out.end(), y.begin(), y.end());
    return in.new_list(std::move(out), line, a.t);
  }
  if (op == kStar && seq_a && (b.t == V::Int || b.t == V::Bool)) return repeat(in, a, b.i, line);
  if (op == kStar && seq_b && (a.t == V::Int || a.t == V::Bool)) return repeat(in, b, a.i, line);
  type_error(op, a, b, line);
}

// Equality and ordering; containers compare element by element, with a depth bound because a list
// can contain itself. Every element pair visited and every 16 bytes of string compared is charged
// as work: a list built as a = [a, a] n times shares its parts, so comparing two of them visits
// 2^n pairs, and the step limit (not the clock) has to be what stops that.
static bool equal(Interp& in, const Value& a, const Value& b, int depth, int line) {
  if (depth > 50) raise(line, "RecursionError: comparison nested too deeply");
  if (numeric(a) && numeric(b)) {
    if (a.t != V::Float && b.t != V::Float) return a.i == b.i;
    return as_double(a) == as_double(b);
  }
  if (a.t != b.t) return false;
  switch (a.t) {
    case V::None: return true;
    case V::Str: {
      const std::string &x = in.strs[a.i], &y = in.strs[b.i];
      if (x.size() != y.size()) return false;
      in.charge_work(Interp::byte_units((int64_t)x.size()), line);
      return x == y;
    }
    case V::List: case V::Tuple: {
      const auto &x = in.lists[a.i], &y = in.lists[b.i];  // comparing allocates nothing: stays valid
      if (x.size() != y.size()) return false;
      for (size_t k = 0; k < x.size(); k++) {
        in.charge_work(1, line);
        if (!equal(in, x[k], y[k], depth + 1, line)) return false;
      }
      return true;
    }
    case V::Range: {
      const RangeObj &x = in.ranges[a.i], &y = in.ranges[b.i];
      return x.start == y.start && x.stop == y.stop && x.step == y.step;
    }
    default: return a.i == b.i && a.aux == b.aux;
  }
}

// -1, 0, 1 for a < b, a == b, a > b.
static int order(Interp& in, const Value& a, const Value& b, int depth, int line) {
  if (depth > 50) raise(line, "RecursionError: comparison nested too deeply");
  if (numeric(a) && numeric(b)) {
    if (a.t != V::Float && b.t != V::Float) return a.i < b.i ? -1 : (a.i > b.i ? 1 : 0);
    double x = as_double(a), y = as_double(b);
    return x < y ? -1 : (x > y ? 1 : 0);  // NaN compares as equal-and-false below
  }
  if (a.t == V::Str && b.t == V::Str) {
    const std::string &x = in.strs[a.i], &y = in.strs[b.i];
    in.charge_work(Interp::byte_units((int64_t)std::min(x.size(), y.size())), line);
    int c = x.compare(y);
    return c < 0 ? -1 : (c > 0 ? 1 : 0);
  }
  if ((a.t == V::List || a.t == V::Tuple) && a.t == b.t) {
    const auto &x = in.lists[a.i], &y = in.lists[b.i];
    for (size_t k = 0; k < x.size() && k < y.size(); k++) {
      in.charge_work(1, line);
      int c = order(in, x[k], y[k], depth + 1, line);
      if (c != 0) return c;
    }
    return x.size() < y.size() ? -1 : (x.size() > y.size() ? 1 : 0);
  }
  raise(line, std::string("TypeError: '<' not supported between '") + type_name(a.t) + "' and '" + type_name(b.t) + "'");
}

// Whether needle occurs in hay, in O(|hay| + |needle|) comparisons (Knuth-Morris-Pratt);
// std::string::find can take |hay| * |needle| of them ('a' * 8000 + 'b' in 'a' * 16000).
static bool contains(std::string_view hay, std::string_view needle) {
  if (needle.empty()) return true;
  if (needle.size() > hay.size()) return false;
  std::vector<size_t> border(needle.size(), 0);  // length of the longest proper border of needle[0..k]
  for (size_t k = 1, b = 0; k < needle.size(); k++) {
    while (b > 0 && needle[k] != needle[b]) b = border[b - 1];
    if (needle[k] == needle[b]) b++;
    border[k] = b;
  }
  for (size_t i = 0, m = 0; i < hay.size(); i++) {
    while (m > 0 && hay[i] != needle[m]) m = border[m - 1];
    if (hay[i] == needle[m]) m++;
    if (m == needle.size()) return true;
  }
  return false;
}

bool compare_op(Interp& in, int op, const Value& a, const Value& b, int line) {
  switch (op) {
    case kEq: return equal(in, a, b, 0, line);
    case kNe: return !equal(in, a, b, 0, line);
    case kIs: case kIsNot: {
      bool same = a.t == b.t && (a.t == V::None || (a.i == b.i && a.aux == b.aux));
      return op == kIs ? same : !same;
    }
    case kIn: case kNotIn: {
      bool found = false;
      if (b.t == V::Str) {
        if (a.t != V::Str) raise(line, "TypeError: 'in <string>' requires a string on the left");
        const std::string &hay = in.strs[b.i], &needle = in.strs[a.i];
        in.charge_work(Interp::byte_units((int64_t)hay.size()) + Interp::byte_units((int64_t)needle.size()), line);
        found = contains(hay, needle);
      } else if (b.t == V::List || b.t == V::Tuple) {
        const auto& items = in.lists[b.i];
        in.step(line, (int64_t)items.size());
        for (const Value& x : items) if (equal(in, a, x, 0, line)) { found = true; break; }
      } else if (b.t == V::Range) {
        const RangeObj& r = in.ranges[b.i];
        if (a.t == V::Int) {
          int64_t n = range_length(r);
          __int128 off = (__int128)a.i - r.start;
          found = n > 0 && off % r.step == 0 && off / r.step >= 0 && off / r.step < n;
        }
      } else {
        raise(line, std::string("TypeError: argument of type '") + type_name(b.t) + "' is not iterable");
      }
      return op == kIn ? found : !found;
    }
  }
  if (numeric(a) && numeric(b) && (std::isnan(as_double(a)) || std::isnan(as_double(b)))) return false;
  int c = order(in, a, b, 0, line);
  switch (op) {
    case kLt: return c < 0;
    case kGt: return c > 0;
    case kLe: return c <= 0;
    case kGe: return c >= 0;
  }
  raise(line, "internal error: unknown comparison");
}

static void format_float(double f, std::string& out) {
  if (std::isnan(f)) { out += "nan"; return; }
  if (std::isinf(f)) { out += f > 0 ? "inf" : "-inf"; return; }
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof buf, f);
  std::string_view s(buf, res.ptr - buf);
  out += s;
  if (s.find_first_of(".e") == std::string_view::npos) out += ".0";
}

static void repr_into(const Interp& in, const Value& v, std::string& out, int depth) {
  if (depth > 20 || (int64_t)out.size() > in.lim.max_output_bytes) { out += "..."; return; }
  switch (v.t) {
    case V::None: case V::Undef: out += "None"; return;
    case V::Bool: out += v.i ? "True" : "False"; return;
    case V::Int: out += std::to_string(v.i); return;
    case V::Float: format_float(v.f, out); return;
    case V::Str: {
      out.push_back('\'');
      for (char c : in.strs[v.i]) {
        if (c == '\\' || c == '\'') out.push_back('\\'), out.push_back(c);
        else if (c == '\n') out += "\\n";
        else out.push_back(c);
      }
      out.push_back('\'');
      return;
    }
    case V::List: case V::Tuple: {
      const auto& items = in.lists[v.i];
      out.push_back(v.t == V::List ? '[' : '(');
      for (size_t k = 0; k < items.size(); k++) {
        if (k) out += ", ";
        repr_into(in, items[k], out, depth + 1);
        if ((int64_t)out.size() > in.lim.max_output_bytes) { out += "..."; break; }
      }
      if (v.t == V::Tuple && items.size() == 1) out.push_back(',');
      out.push_back(v.t == V::List ? ']' : ')');
      return;
    }
    case V::Range: {
      const RangeObj& r = in.ranges[v.i];
      out += "range(" + std::to_string(r.start) + ", " + std::to_string(r.stop) +
             (r.step != 1 ? ", " + std::to_string(r.step) : "") + ")";
      return;
    }
    case V::Func: out += "<function " + std::string(in.prog->names[in.prog->nodes[v.aux].name]) + ">"; return;
    case V::Builtin: out += "<built-in function>"; return;
    case V::Module: out += "<module 'math'>"; return;
    case V::Method: out += "<built-in method append>"; return;
  }
}

std::string repr(const Interp& in, const Value& v) {
  std::string out;
  repr_into(in, v, out, 0);
  return out;
}

std::string to_display(const Interp& in, const Value& v) {
  if (v.t == V::Str) return in.strs[v.i];
  return repr(in, v);
}

void iterate_items(Interp& in, const Value& v, int line, std::vector<Value>& out) {
  switch (v.t) {
    case V::List: case V::Tuple: {
      const auto& items = in.lists[v.i];
      in.step(line, (int64_t)items.size());
      out.assign(items.begin(), items.end());
      return;
    }
    case V::Range: {
      const RangeObj r = in.ranges[v.i];
      int64_t n = range_length(r);
      if (n > in.lim.max_list_elements) raise(line, "MemoryError: range too long to expand");
      in.step(line, n);
      in.charge_elements(n, line);
      out.clear();
      out.reserve(n);
      for (int64_t k = 0; k < n; k++) out.push_back(Value::integer(r.start + k * r.step));
      return;
    }
    case V::Str: {
      std::string s = in.strs[v.i];
      in.step(line, (int64_t)s.size());
      out.clear();
      for (char c : s) out.push_back(in.new_str(std::string(1, c), line));
      return;
    }
    default: raise(line, std::string("TypeError: '") + type_name(v.t) + "' object is not iterable");
  }
}

}  // namespace chamber::py
