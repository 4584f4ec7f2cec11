// Internals shared by the interpreter's lexer, parser and evaluator (public API: interpreter.h).
//
// Pipeline: lex (source -> tokens with INDENT/DEDENT) -> parse (tokens -> a flat node array; names
// interned to small integers so variables live in arrays, not maps) -> evaluate (tree walk).
// Errors at every stage are thrown as PyError {line, message} and turned into PyRunResult.error.
// Values are 16-byte tagged unions; strings and lists live in per-run heaps addressed by index, so a
// run frees everything at once and no value owns memory.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "data/interpreter.h"

namespace chamber::py {

struct PyError {
  int line;
  std::string message;
};
[[noreturn]] void raise(int line, std::string message);

// ---- tokens ----
enum class Tok : uint8_t { Name, Int, Float, Str, Op, Newline, Indent, Dedent, End };

// Operators and punctuation, one code each.
enum Op : uint8_t {
  kPlus, kMinus, kStar, kSlash, kFloorDiv, kPercent, kPow,
  kLt, kGt, kEq, kNe, kLe, kGe, kIn, kNotIn, kIs, kIsNot,
  kAssign, kPlusEq, kMinusEq, kStarEq, kSlashEq, kFloorDivEq, kPercentEq, kPowEq,
  kLParen, kRParen, kLBracket, kRBracket, kLBrace, kRBrace, kComma, kColon, kDot, kSemicolon, kArrow,
  kNumOps
};

struct Token {
  Tok kind;
  uint8_t op = 0;          // Op for Tok::Op
  int line = 0;
  std::string_view text;   // names; raw text otherwise
  int64_t ival = 0;
  double fval = 0;
  int32_t str = -1;        // index into Program::strings for Tok::Str
};

// ---- syntax tree ----
enum class N : uint8_t {
  // expressions
  Int, Float, Str, True, False, None, Name, BinOp, UnaryMinus, UnaryPlus, Not, And, Or, Compare,
  IfExp, Call, Attribute, Subscript, Slice, ListLit, TupleLit, ListComp,
  // statements
  ExprStmt, Assign, AugAssign, AnnAssign, If, For, While, Break, Continue, Pass, Return, Def, Import,
};

struct Node {
  N kind;
  uint8_t op = 0;        // Op for BinOp/AugAssign
  int line = 0;
  int32_t a = -1, b = -1, c = -1;   // children (meaning per kind, see parser)
  int32_t list = -1, count = 0;     // a run in Program::lists (args, statements, targets)
  int32_t list2 = -1, count2 = 0;   // a second run (else branch; def parameters)
  int32_t name = -1;                // interned name
  int64_t ival = 0;
  double fval = 0;
};

struct Program {
  std::vector<Node> nodes;
  std::vector<int32_t> lists;          // runs of child indices
  std::vector<std::string> strings;    // string literals, escapes resolved
  std::vector<std::string_view> names; // interned identifiers (views into the source)
  std::unordered_map<std::string_view, int32_t> name_ids;  // names[id] -> id, so interning is O(1)
  std::vector<int32_t> body;           // top-level statements
  int32_t intern(std::string_view name);
};

std::vector<Token> lex(std::string_view src, Program& prog, const InterpreterLimits& lim);
void parse(const std::vector<Token>& toks, Program& prog, const InterpreterLimits& lim);

// ---- values ----
enum class V : uint8_t { Undef, None, Bool, Int, Float, Str, List, Tuple, Range, Func, Builtin, Module, Method };

struct Value {
  V t = V::None;
  int32_t aux = 0;   // Builtin: id; Method: method id; Func: node index
  union {
    int64_t i;       // Bool, Int, Str/List/Tuple/Range heap index, Method: list index
    double f;
  };
  Value() : i(0) {}
  static Value none() { return Value(); }
  static Value boolean(bool b) { Value v; v.t = V::Bool; v.i = b; return v; }
  static Value integer(int64_t x) { Value v; v.t = V::Int; v.i = x; return v; }
  static Value real(double x) { Value v; v.t = V::Float; v.f = x; return v; }
  static Value ref(V t, int64_t index, int32_t aux = 0) { Value v; v.t = t; v.i = index; v.aux = aux; return v; }
};

struct RangeObj { int64_t start, stop, step; };
int64_t range_length(const RangeObj& r);

// Builtins and math functions, looked up by name once per run.
enum Builtin : int32_t {
  bPrint, bRound, bInt, bFloat, bStr, bBool, bAbs, bMin, bMax, bSum, bLen, bRange, bList, bPow,
  mSqrt, mFloor, mCeil, mTrunc, mFabs, mFactorial, mGcd, mLcm, mComb, mPerm, mPow, mExp, mLog,
  mLog2, mLog10, mSin, mCos, mTan, mAsin, mAcos, mAtan, mAtan2, mHypot, mIsqrt, mDegrees, mRadians,
  mIsclose,
  kNumBuiltins
};
int builtin_by_name(std::string_view name);          // print..pow, or -1
int math_function_by_name(std::string_view name);    // sqrt..isclose, or -1
bool math_constant(std::string_view name, double* out);

struct Interp;
struct Frame {
  std::vector<Value> vars;   // by interned name id
};

struct Interp {
  const Program* prog;
  InterpreterLimits lim;
  int64_t steps = 0;
  int64_t total_elements = 0;
  int depth = 0;              // function calls in progress
  int eval_depth = 0;         // evaluator recursion (a left-deep chain like 1+1+...+1 is deep)
  static constexpr int kMaxEvalDepth = 1000;
  std::vector<std::string> strs;
  std::vector<std::vector<Value>> lists;
  std::vector<RangeObj> ranges;
  std::string output;
  Frame globals;
  std::vector<int32_t> builtin_of_name;   // name id -> Builtin or -1
  int32_t last_expr_node = -1;            // top-level statement whose value was captured
  Value last_value;

  // Work inside a step (an expression node evaluated, an element compared or copied, 16 bytes of a
  // string scanned or copied, a frame slot cleared) is counted in units and charged as steps,
  // kWorkPerStep units to a step, so every operation pays in proportion to what it does and
  // max_steps bounds a run's time whatever it holds. `work` keeps the remainder between charges.
  static constexpr int64_t kWorkPerStep = 16;
  int64_t work = 0;

  void step(int line, int64_t n = 1) {
    steps += n;
    if (steps > lim.max_steps) raise(line, "step limit exceeded (" + std::to_string(lim.max_steps) + " steps)");
  }
  void charge_work(int64_t units, int line) {
    work += units;
    if (work >= kWorkPerStep) {
      int64_t whole = work / kWorkPerStep;
      work -= whole * kWorkPerStep;
      step(line, whole);
    }
  }
  // Units for touching n bytes of string data.
  static int64_t byte_units(int64_t n) { return n / 16 + 1; }
  Value new_str(std::string s, int line);
  Value new_list(std::vector<Value> items, int line, V kind = V::List);
  void charge_elements(int64_t n, int line);
};

// evaluator (interpreter_eval.cpp)
void exec_module(Interp& in, const std::vector<int32_t>& body, bool capture_last);
Value call_value(Interp& in, const Value& callee, std::vector<Value>& args, int line);
// builtins and operators (interpreter_builtins.cpp, interpreter_ops.cpp)
Value call_builtin(Interp& in, int id, std::vector<Value>& args, int line);
Value binary_op(Interp& in, int op, const Value& a, const Value& b, int line);
bool compare_op(Interp& in, int op, const Value& a, const Value& b, int line);
bool truthy(const Interp& in, const Value& v);
std::string repr(const Interp& in, const Value& v);
std::string to_display(const Interp& in, const Value& v);   // str(): strings without quotes
const char* type_name(V t);
// Items of an iterable (list, tuple, string chars, range), charging one step per item.
void iterate_items(Interp& in, const Value& v, int line, std::vector<Value>& out);

}  // namespace chamber::py
