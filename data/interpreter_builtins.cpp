// Builtin functions and the math module. Results that would not fit (float -> int of inf or 1e300,
// factorial(30)) are errors; work proportional to a container's size is charged as steps.
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "data/interpreter_internal.h"

namespace chamber::py {

static const char* const kBuiltinNames[] = {"print", "round", "int", "float", "str", "bool", "abs", "min",
                                            "max", "sum", "len", "range", "list", "pow"};
static const char* const kMathNames[] = {"sqrt", "floor", "ceil", "trunc", "fabs", "factorial", "gcd", "lcm",
                                         "comb", "perm", "pow", "exp", "log", "log2", "log10", "sin", "cos",
                                         "tan", "asin", "acos", "atan", "atan2", "hypot", "isqrt", "degrees",
                                         "radians", "isclose"};
static_assert(sizeof(kBuiltinNames) / sizeof(*kBuiltinNames) == mSqrt);
static_assert(sizeof(kMathNames) / sizeof(*kMathNames) == kNumBuiltins - mSqrt);

int builtin_by_name(std::string_view name) {
  for (int i = 0; i < mSqrt; i++) if (name == kBuiltinNames[i]) return i;
  return -1;
}
int math_function_by_name(std::string_view name) {
  for (int i = mSqrt; i < kNumBuiltins; i++) if (name == kMathNames[i - mSqrt]) return i;
  return -1;
}
bool math_constant(std::string_view name, double* out) {
  if (name == "pi") *out = M_PI;
  else if (name == "e") *out = M_E;
  else if (name == "tau") *out = 2 * M_PI;
  else if (name == "inf") *out = INFINITY;
  else return false;
  return true;
}

static const char* fn_name(int id) { return id < mSqrt ? kBuiltinNames[id] : kMathNames[id - mSqrt]; }

static double num(const Value& v, int id, int line) {
  if (v.t == V::Float) return v.f;
  if (v.t == V::Int || v.t == V::Bool) return (double)v.i;
  raise(line, std::string("TypeError: ") + fn_name(id) + "() needs a number, got '" + type_name(v.t) + "'");
}
static int64_t int_arg(const Value& v, int id, int line) {
  if (v.t == V::Int || v.t == V::Bool) return v.i;
  raise(line, std::string("TypeError: ") + fn_name(id) + "() needs an integer, got '" + type_name(v.t) + "'");
}
static Value float_to_int(double x, int line) {
  if (std::isnan(x)) raise(line, "ValueError: cannot convert float NaN to integer");
  if (!(x > -9.2e18 && x < 9.2e18)) raise(line, "OverflowError: float too large to convert to an integer");
  return Value::integer((int64_t)x);
}
static Value checked_real(double r, int id, int line) {
  if (std::isnan(r)) raise(line, std::string("ValueError: math domain error in ") + fn_name(id) + "()");
  return Value::real(r);
}
static void arity(const std::vector<Value>& args, size_t lo, size_t hi, int id, int line) {
  if (args.size() < lo || args.size() > hi)
    raise(line, std::string("TypeError: ") + fn_name(id) + "() takes " + std::to_string(lo) +
                    (hi != lo ? " to " + std::to_string(hi) : "") + " arguments (" + std::to_string(args.size()) + " given)");
}
static int64_t gcd64(int64_t a, int64_t b) {
  uint64_t x = a < 0 ? -(uint64_t)a : (uint64_t)a, y = b < 0 ? -(uint64_t)b : (uint64_t)b;
  while (y) { uint64_t t = x % y; x = y; y = t; }
  if (x > (uint64_t)INT64_MAX) raise(0, "OverflowError: gcd too large");
  return (int64_t)x;
}

// round(x, ndigits) for floats: glibc's printf rounds the exact binary value correctly, as
// Python's round does.
static double round_digits(double x, int64_t nd) {
  if (!std::isfinite(x) || nd > 300) return x;
  if (nd < -308) return 0.0 * x;
  // From 2^52 on every double is a whole number, which rounding to nd >= 0 places keeps; printing
  // 1e308 to 300 places would cost about 10 us a call.
  if (nd >= 0 && std::fabs(x) >= 0x1p52) return x;
  if (nd >= 0) {
    char buf[512];
    std::snprintf(buf, sizeof buf, "%.*f", (int)nd, x);
    return std::strtod(buf, nullptr);
  }
  double p = std::pow(10.0, (double)-nd);
  return std::nearbyint(x / p) * p;
}

static Value min_max(Interp& in, std::vector<Value>& args, bool is_max, int id, int line) {
  std::vector<Value> items;
  if (args.size() == 1) iterate_items(in, args[0], line, items);
  else items = args;
  if (items.empty()) raise(line, std::string("ValueError: ") + fn_name(id) + "() arg is an empty sequence");
  Value best = items[0];
  for (size_t k = 1; k < items.size(); k++)
    if (compare_op(in, is_max ? kGt : kLt, items[k], best, line)) best = items[k];
  return best;
}

Value call_builtin(Interp& in, int id, std::vector<Value>& args, int line) {
  switch (id) {
    case bPrint: {
      // Checked after each argument, so print(s, s, s, ...) stops at the limit instead of first
      // building the whole line.
      std::string text;
      for (size_t k = 0; k < args.size(); k++) {
        if (k) text.push_back(' ');
        std::string piece = to_display(in, args[k]);
        in.charge_work(Interp::byte_units((int64_t)piece.size()), line);
        text += piece;
        if ((int64_t)(in.output.size() + text.size()) > in.lim.max_output_bytes) raise(line, "output limit exceeded");
      }
      text.push_back('\n');
      if ((int64_t)(in.output.size() + text.size()) > in.lim.max_output_bytes) raise(line, "output limit exceeded");
      in.output += text;
      return Value::none();
    }
    case bRound: {
      arity(args, 1, 2, id, line);
      bool has_nd = args.size() == 2 && args[1].t != V::None;
      if (args[0].t == V::Int || args[0].t == V::Bool) {
        int64_t x = args[0].i;
        if (!has_nd || int_arg(args[1], id, line) >= 0) return Value::integer(x);
        int64_t nd = -int_arg(args[1], id, line);
        if (nd > 18) return Value::integer(0);
        int64_t p = 1;
        for (int64_t k = 0; k < nd; k++) p *= 10;
        double r = std::nearbyint((double)x / (double)p) * (double)p;  // half-even like Python
        return float_to_int(r, line);
      }
      double x = num(args[0], id, line);
      if (!has_nd) {
        if (!std::isfinite(x)) raise(line, "OverflowError: cannot round an infinite or NaN float to an integer");
        return float_to_int(std::nearbyint(x), line);  // default rounding mode: half to even
      }
      return Value::real(round_digits(x, int_arg(args[1], id, line)));
    }
    case bInt: {
      arity(args, 0, 1, id, line);
      if (args.empty()) return Value::integer(0);
      const Value& v = args[0];
      if (v.t == V::Int || v.t == V::Bool) return Value::integer(v.i);
      if (v.t == V::Float) return float_to_int(std::trunc(v.f), line);
      if (v.t == V::Str) {
        in.charge_work(Interp::byte_units((int64_t)in.strs[v.i].size()), line);
        std::string s = in.strs[v.i];
        std::string digits;
        for (char c : s) if (c != ' ' && c != '_') digits.push_back(c);
        char* end = nullptr;
        errno = 0;
        long long r = digits.empty() ? 0 : std::strtoll(digits.c_str(), &end, 10);
        if (digits.empty() || *end != 0) raise(line, "ValueError: invalid literal for int(): '" + s.substr(0, 40) + "'");
        if (errno == ERANGE) raise(line, "OverflowError: integer literal too large");
        return Value::integer(r);
      }
      raise(line, std::string("TypeError: int() cannot convert '") + type_name(v.t) + "'");
    }
    case bFloat: {
      arity(args, 0, 1, id, line);
      if (args.empty()) return Value::real(0);
      if (args[0].t == V::Str) {
        const std::string& s = in.strs[args[0].i];
        in.charge_work(Interp::byte_units((int64_t)s.size()), line);
        char* end = nullptr;
        double r = std::strtod(s.c_str(), &end);
        while (end && *end == ' ') end++;
        if (s.empty() || *end != 0) raise(line, "ValueError: could not convert string to float: '" + s.substr(0, 40) + "'");
        return Value::real(r);
      }
      return Value::real(num(args[0], id, line));
    }
    case bStr: arity(args, 0, 1, id, line); return in.new_str(args.empty() ? "" : to_display(in, args[0]), line);
    case bBool: arity(args, 0, 1, id, line); return Value::boolean(!args.empty() && truthy(in, args[0]));
    case bAbs: {
      arity(args, 1, 1, id, line);
      if (args[0].t == V::Int || args[0].t == V::Bool) {
        if (args[0].i == INT64_MIN) raise(line, "OverflowError: integer too large");
        return Value::integer(args[0].i < 0 ? -args[0].i : args[0].i);
      }
      return Value::real(std::fabs(num(args[0], id, line)));
    }
    case bMin: case bMax:
      if (args.empty()) arity(args, 1, 1, id, line);
      return min_max(in, args, id == bMax, id, line);
    case bSum: {
      arity(args, 1, 2, id, line);
      std::vector<Value> items;
      iterate_items(in, args[0], line, items);
      Value total = args.size() == 2 ? args[1] : Value::integer(0);
      for (const Value& x : items) total = binary_op(in, kPlus, total, x, line);
      return total;
    }
    case bLen: {
      arity(args, 1, 1, id, line);
      const Value& v = args[0];
      if (v.t == V::Str) return Value::integer((int64_t)in.strs[v.i].size());
      if (v.t == V::List || v.t == V::Tuple) return Value::integer((int64_t)in.lists[v.i].size());
      if (v.t == V::Range) return Value::integer(range_length(in.ranges[v.i]));
      raise(line, std::string("TypeError: object of type '") + type_name(v.t) + "' has no len()");
    }
    case bRange: {
      arity(args, 1, 3, id, line);
      RangeObj r{0, 0, 1};
      if (args.size() == 1) r.stop = int_arg(args[0], id, line);
      else r.start = int_arg(args[0], id, line), r.stop = int_arg(args[1], id, line);
      if (args.size() == 3) r.step = int_arg(args[2], id, line);
      if (r.step == 0) raise(line, "ValueError: range() arg 3 must not be zero");
      in.charge_elements(1, line);
      in.ranges.push_back(r);
      return Value::ref(V::Range, (int64_t)in.ranges.size() - 1);
    }
    case bList: {
      arity(args, 0, 1, id, line);
      std::vector<Value> items;
      if (!args.empty()) iterate_items(in, args[0], line, items);
      return in.new_list(std::move(items), line);
    }
    case bPow: {
      arity(args, 2, 3, id, line);
      if (args.size() == 2) return binary_op(in, kPow, args[0], args[1], line);
      int64_t b = int_arg(args[0], id, line), e = int_arg(args[1], id, line), m = int_arg(args[2], id, line);
      if (m == 0) raise(line, "ValueError: pow() 3rd argument cannot be 0");
      if (e < 0) raise(line, "ValueError: pow() with a modulus needs a non-negative exponent");
      __int128 result = 1, base = ((b % m) + m) % m;
      while (e > 0) {
        if (e & 1) result = result * base % m;
        base = base * base % m;
        e >>= 1;
      }
      int64_t r = (int64_t)result;
      if (r != 0 && ((r < 0) != (m < 0))) r += m;
      return Value::integer(r);
    }
  }
  // ---- math module ----
  auto a0 = [&] { arity(args, 1, 1, id, line); return num(args[0], id, line); };
  switch (id) {
    case mSqrt: { double x = a0(); if (x < 0) raise(line, "ValueError: math domain error in sqrt()"); return Value::real(std::sqrt(x)); }
    case mFloor: { double x = a0(); return args[0].t == V::Float ? float_to_int(std::floor(x), line) : Value::integer(args[0].i); }
    case mCeil: { double x = a0(); return args[0].t == V::Float ? float_to_int(std::ceil(x), line) : Value::integer(args[0].i); }
    case mTrunc: { double x = a0(); return args[0].t == V::Float ? float_to_int(std::trunc(x), line) : Value::integer(args[0].i); }
    case mFabs: return Value::real(std::fabs(a0()));
    case mFactorial: {
      arity(args, 1, 1, id, line);
      int64_t n = int_arg(args[0], id, line);
      if (n < 0) raise(line, "ValueError: factorial() not defined for negative values");
      if (n > 20) raise(line, "OverflowError: factorial() result too large (over 64 bits)");
      int64_t r = 1;
      for (int64_t k = 2; k <= n; k++) r *= k;
      return Value::integer(r);
    }
    case mGcd: case mLcm: {
      int64_t acc = id == mGcd ? 0 : 1;
      for (const Value& v : args) {
        int64_t x = int_arg(v, id, line);
        if (id == mGcd) acc = gcd64(acc, x);
        else if (x == 0 || acc == 0) acc = 0;
        else {
          int64_t g = gcd64(acc, x), r;
          if (__builtin_mul_overflow(acc / g, x, &r)) raise(line, "OverflowError: lcm() result too large");
          acc = r < 0 ? -r : r;
        }
      }
      return Value::integer(acc);
    }
    case mComb: case mPerm: {
      arity(args, 2, 2, id, line);
      int64_t n = int_arg(args[0], id, line), k = int_arg(args[1], id, line);
      if (n < 0 || k < 0) raise(line, std::string("ValueError: ") + fn_name(id) + "() needs non-negative arguments");
      if (k > n) return Value::integer(0);
      if (id == mComb && k > n - k) k = n - k;
      if (k > 100) raise(line, std::string("OverflowError: ") + fn_name(id) + "() result too large");
      __int128 r = 1;
      for (int64_t j = 1; j <= k; j++) {
        r = id == mComb ? r * (n - k + j) / j : r * (n - j + 1);
        if (r > (__int128)INT64_MAX) raise(line, std::string("OverflowError: ") + fn_name(id) + "() result too large");
      }
      return Value::integer((int64_t)r);
    }
    case mPow: {
      arity(args, 2, 2, id, line);
      double r = std::pow(num(args[0], id, line), num(args[1], id, line));
      if (std::isinf(r)) raise(line, "OverflowError: math range error in pow()");
      return checked_real(r, id, line);
    }
    case mExp: { double r = std::exp(a0()); if (std::isinf(r)) raise(line, "OverflowError: math range error in exp()"); return Value::real(r); }
    case mLog: {
      arity(args, 1, 2, id, line);
      double x = num(args[0], id, line);
      if (x <= 0) raise(line, "ValueError: math domain error in log()");
      if (args.size() == 1) return Value::real(std::log(x));
      double b = num(args[1], id, line);
      if (b <= 0 || b == 1) raise(line, "ValueError: math domain error in log()");
      return Value::real(std::log(x) / std::log(b));
    }
    case mLog2: case mLog10: {
      double x = a0();
      if (x <= 0) raise(line, std::string("ValueError: math domain error in ") + fn_name(id) + "()");
      return Value::real(id == mLog2 ? std::log2(x) : std::log10(x));
    }
    case mSin: return checked_real(std::sin(a0()), id, line);
    case mCos: return checked_real(std::cos(a0()), id, line);
    case mTan: return checked_real(std::tan(a0()), id, line);
    case mAsin: return checked_real(std::asin(a0()), id, line);
    case mAcos: return checked_real(std::acos(a0()), id, line);
    case mAtan: return checked_real(std::atan(a0()), id, line);
    case mAtan2: arity(args, 2, 2, id, line); return Value::real(std::atan2(num(args[0], id, line), num(args[1], id, line)));
    case mHypot: {
      double s = 0;
      for (const Value& v : args) { double x = num(v, id, line); s = std::hypot(s, x); }
      return Value::real(s);
    }
    case mIsqrt: {
      arity(args, 1, 1, id, line);
      int64_t n = int_arg(args[0], id, line);
      if (n < 0) raise(line, "ValueError: isqrt() argument must be non-negative");
      int64_t r = (int64_t)std::sqrt((double)n);
      while (r > 0 && (__int128)r * r > n) r--;
      while ((__int128)(r + 1) * (r + 1) <= n) r++;
      return Value::integer(r);
    }
    case mDegrees: return Value::real(a0() * 180.0 / M_PI);
    case mRadians: return Value::real(a0() * M_PI / 180.0);
    case mIsclose: {
      arity(args, 2, 2, id, line);
      double a = num(args[0], id, line), b = num(args[1], id, line);
      return Value::boolean(a == b || std::fabs(a - b) <= 1e-9 * std::fmax(std::fabs(a), std::fabs(b)));
    }
  }
  raise(line, "internal error: unknown builtin");
}

}  // namespace chamber::py
