// The interpreter's parser: state, token helpers and grammar methods (internal). Expressions are
// parsed in interpreter_parser_expr.cpp, statements in interpreter_parser.cpp (which also documents
// the node layout). Every recursion passes through a Guard, so hostile nesting is an error, not a
// stack overflow.
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "data/interpreter_internal.h"

namespace chamber::py {

struct Parser {
  const std::vector<Token>& t;
  Program& p;
  const InterpreterLimits& lim;
  size_t pos = 0;
  int depth = 0;

  struct Guard {
    Parser& ps;
    explicit Guard(Parser& p) : ps(p) {
      if (++ps.depth > ps.lim.max_nesting) raise(ps.t[ps.pos].line, "SyntaxError: too deeply nested");
    }
    ~Guard() { ps.depth--; }
  };

  const Token& cur() const { return t[pos]; }
  int line() const { return t[pos].line; }
  bool is_op(uint8_t op) const { return t[pos].kind == Tok::Op && t[pos].op == op; }
  bool is_kw(std::string_view w) const { return t[pos].kind == Tok::Name && t[pos].text == w; }
  bool accept_op(uint8_t op) { if (is_op(op)) { pos++; return true; } return false; }
  bool accept_kw(std::string_view w) { if (is_kw(w)) { pos++; return true; } return false; }
  [[noreturn]] void error(const std::string& what) { raise(line(), "SyntaxError: " + what); }
  void expect_op(uint8_t op, const char* what) { if (!accept_op(op)) error(std::string("expected '") + what + "'"); }

  int32_t add(Node n) {
    p.nodes.push_back(n);
    return (int32_t)p.nodes.size() - 1;
  }
  int32_t node(N kind, int line) { Node n; n.kind = kind; n.line = line; return add(n); }
  void set_run(std::vector<int32_t>& items, int32_t& list, int32_t& count) {
    list = (int32_t)p.lists.size();
    count = (int32_t)items.size();
    p.lists.insert(p.lists.end(), items.begin(), items.end());
  }

  static bool reserved(std::string_view w) {
    static const char* kw[] = {"def", "return", "if", "elif", "else", "for", "in", "while", "break", "continue",
                               "pass", "and", "or", "not", "True", "False", "None", "import", "from", "as",
                               "lambda", "class", "try", "except", "finally", "with", "global", "nonlocal",
                               "del", "assert", "yield", "raise", "is", "async", "await"};
    for (const char* k : kw) if (w == k) return true;
    return false;
  }

  // ---- expressions ----
  int32_t expr();
  int32_t binary(N kind, int32_t a, int32_t b, int ln, uint8_t op = 0);
  int32_t or_test();
  int32_t and_test();
  int32_t not_test();
  int compare_op();
  int32_t comparison();
  int32_t arith();
  int32_t term();
  int32_t factor();
  int32_t power();
  int32_t primary();
  int32_t subscript();
  int32_t comprehension(int32_t element, int ln);
  int32_t atom();
  // a, b, c  (a tuple when there is a comma)
  int32_t expr_list();
  // for-loop and comprehension targets: names, possibly a tuple of them
  int32_t target_list();
  void check_target(int32_t n);

  // ---- statements ----
  void suite(std::vector<int32_t>& body);
  void statement(std::vector<int32_t>& out);
  int32_t if_rest(int ln);
  void simple_statements(std::vector<int32_t>& out);
  int32_t small_statement();
};

}  // namespace chamber::py
