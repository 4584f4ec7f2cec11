// Parser: tokens -> a flat array of nodes (recursive descent, Python's precedence). Node fields by
// kind (children are node indices; "run" = a slice of Program::lists):
//   Int ival | Float fval | Str ival = string index | Name name
//   BinOp op a b | UnaryMinus/UnaryPlus/Not a | And/Or a b | IfExp a=cond b=then c=else
//   Compare run = [operand, op, operand, op, operand ...]
//   Call a=callee run=args | Attribute a=object name | Subscript a=object b=index or Slice
//   Slice a=lo b=hi c=step (-1 = absent) | ListLit/TupleLit run=items
//   ListComp a=element b=target c=iterable run=conditions
//   ExprStmt a | Assign run=targets b=value | AugAssign op a=target b=value | AnnAssign a b (-1)
//   If a=cond run=body run2=else body | For a=target b=iterable run=body | While a=cond run=body
//   Return a (-1) | Def name run=body run2=[param name, default node or -1]... | Import name=alias
// Every recursion passes through a depth guard so hostile nesting is an error, not a stack overflow.
#include "data/interpreter_internal.h"

namespace chamber::py {
namespace {

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
  int32_t expr() {
    Guard g(*this);
    if (is_kw("lambda")) error("lambda is not supported");
    int32_t e = or_test();
    if (is_kw("if")) {
      int ln = line();
      pos++;
      int32_t cond = or_test();
      if (!accept_kw("else")) error("expected 'else' in conditional expression");
      int32_t other = expr();
      int32_t n = node(N::IfExp, ln);
      p.nodes[n].a = cond, p.nodes[n].b = e, p.nodes[n].c = other;
      return n;
    }
    return e;
  }
  int32_t binary(N kind, int32_t a, int32_t b, int ln, uint8_t op = 0) {
    int32_t n = node(kind, ln);
    p.nodes[n].a = a, p.nodes[n].b = b, p.nodes[n].op = op;
    return n;
  }
  int32_t or_test() {
    int32_t a = and_test();
    while (is_kw("or")) { int ln = line(); pos++; a = binary(N::Or, a, and_test(), ln); }
    return a;
  }
  int32_t and_test() {
    int32_t a = not_test();
    while (is_kw("and")) { int ln = line(); pos++; a = binary(N::And, a, not_test(), ln); }
    return a;
  }
  int32_t not_test() {
    if (is_kw("not")) {
      Guard g(*this);
      int ln = line();
      pos++;
      int32_t n = node(N::Not, ln);
      int32_t a = not_test();
      p.nodes[n].a = a;
      return n;
    }
    return comparison();
  }
  int compare_op() {
    if (cur().kind == Tok::Op) {
      switch (cur().op) {
        case kLt: case kGt: case kEq: case kNe: case kLe: case kGe: { int op = cur().op; pos++; return op; }
        default: return -1;
      }
    }
    if (is_kw("in")) { pos++; return kIn; }
    if (is_kw("not") && t[pos + 1].kind == Tok::Name && t[pos + 1].text == "in") { pos += 2; return kNotIn; }
    if (is_kw("is")) { pos++; return accept_kw("not") ? kIsNot : kIs; }
    return -1;
  }
  int32_t comparison() {
    int ln = line();
    int32_t first = arith();
    int op = compare_op();
    if (op < 0) return first;
    std::vector<int32_t> run = {first};
    while (op >= 0) {
      run.push_back(op);
      run.push_back(arith());
      op = compare_op();
    }
    int32_t n = node(N::Compare, ln);
    set_run(run, p.nodes[n].list, p.nodes[n].count);
    return n;
  }
  int32_t arith() {
    int32_t a = term();
    while (is_op(kPlus) || is_op(kMinus)) { int ln = line(); uint8_t op = cur().op; pos++; a = binary(N::BinOp, a, term(), ln, op); }
    return a;
  }
  int32_t term() {
    int32_t a = factor();
    while (is_op(kStar) || is_op(kSlash) || is_op(kFloorDiv) || is_op(kPercent)) {
      int ln = line(); uint8_t op = cur().op; pos++;
      a = binary(N::BinOp, a, factor(), ln, op);
    }
    return a;
  }
  int32_t factor() {
    if (is_op(kMinus) || is_op(kPlus)) {
      Guard g(*this);
      int ln = line();
      N kind = is_op(kMinus) ? N::UnaryMinus : N::UnaryPlus;
      pos++;
      int32_t a = factor();
      int32_t n = node(kind, ln);
      p.nodes[n].a = a;
      return n;
    }
    return power();
  }
  int32_t power() {
    int32_t a = primary();
    if (is_op(kPow)) { int ln = line(); pos++; Guard g(*this); a = binary(N::BinOp, a, factor(), ln, kPow); }
    return a;
  }
  int32_t primary() {
    int32_t a = atom();
    while (true) {
      int ln = line();
      if (accept_op(kLParen)) {
        std::vector<int32_t> args;
        while (!is_op(kRParen)) {
          if (cur().kind == Tok::Name && t[pos + 1].kind == Tok::Op && t[pos + 1].op == kAssign)
            error("keyword arguments are not supported");
          if (is_op(kStar) || is_op(kPow)) error("argument unpacking is not supported");
          int32_t arg = expr();
          if (is_kw("for")) arg = comprehension(arg, ln);  // sum(x for x in xs)
          args.push_back(arg);
          if (!accept_op(kComma)) break;
        }
        expect_op(kRParen, ")");
        int32_t n = node(N::Call, ln);
        p.nodes[n].a = a;
        set_run(args, p.nodes[n].list, p.nodes[n].count);
        a = n;
      } else if (accept_op(kLBracket)) {
        int32_t index = subscript();
        expect_op(kRBracket, "]");
        a = binary(N::Subscript, a, index, ln);
      } else if (accept_op(kDot)) {
        if (cur().kind != Tok::Name) error("expected an attribute name after '.'");
        int32_t n = node(N::Attribute, ln);
        p.nodes[n].a = a;
        p.nodes[n].name = p.intern(cur().text);
        pos++;
        a = n;
      } else {
        return a;
      }
    }
  }
  int32_t subscript() {
    int ln = line();
    int32_t lo = -1, hi = -1, step = -1;
    if (!is_op(kColon)) lo = expr();
    if (!accept_op(kColon)) return lo;
    if (!is_op(kColon) && !is_op(kRBracket)) hi = expr();
    if (accept_op(kColon) && !is_op(kRBracket)) step = expr();
    int32_t n = node(N::Slice, ln);
    p.nodes[n].a = lo, p.nodes[n].b = hi, p.nodes[n].c = step;
    return n;
  }
  int32_t comprehension(int32_t element, int ln) {
    if (!accept_kw("for")) error("expected 'for'");
    int32_t target = target_list();
    if (!accept_kw("in")) error("expected 'in' in comprehension");
    int32_t iter = or_test();
    std::vector<int32_t> conds;
    while (accept_kw("if")) conds.push_back(or_test());
    if (is_kw("for")) error("nested comprehensions are not supported");
    int32_t n = node(N::ListComp, ln);
    p.nodes[n].a = element, p.nodes[n].b = target, p.nodes[n].c = iter;
    set_run(conds, p.nodes[n].list, p.nodes[n].count);
    return n;
  }
  int32_t atom() {
    const Token& tk = cur();
    int ln = tk.line;
    switch (tk.kind) {
      case Tok::Int: { pos++; int32_t n = node(N::Int, ln); p.nodes[n].ival = tk.ival; return n; }
      case Tok::Float: { pos++; int32_t n = node(N::Float, ln); p.nodes[n].fval = tk.fval; return n; }
      case Tok::Str: { pos++; int32_t n = node(N::Str, ln); p.nodes[n].ival = tk.str; return n; }
      case Tok::Name: {
        if (tk.text == "True") { pos++; return node(N::True, ln); }
        if (tk.text == "False") { pos++; return node(N::False, ln); }
        if (tk.text == "None") { pos++; return node(N::None, ln); }
        if (reserved(tk.text)) error("unexpected keyword '" + std::string(tk.text) + "'");
        pos++;
        int32_t n = node(N::Name, ln);
        p.nodes[n].name = p.intern(tk.text);
        return n;
      }
      case Tok::Op:
        if (accept_op(kLParen)) {
          if (accept_op(kRParen)) return node(N::TupleLit, ln);
          int32_t first = expr();
          if (is_kw("for")) { first = comprehension(first, ln); expect_op(kRParen, ")"); return first; }
          if (accept_op(kRParen)) return first;
          std::vector<int32_t> items = {first};
          while (accept_op(kComma) && !is_op(kRParen)) items.push_back(expr());
          expect_op(kRParen, ")");
          int32_t n = node(N::TupleLit, ln);
          set_run(items, p.nodes[n].list, p.nodes[n].count);
          return n;
        }
        if (accept_op(kLBracket)) {
          std::vector<int32_t> items;
          if (!is_op(kRBracket)) {
            int32_t first = expr();
            if (is_kw("for")) { first = comprehension(first, ln); expect_op(kRBracket, "]"); return first; }
            items.push_back(first);
            while (accept_op(kComma) && !is_op(kRBracket)) items.push_back(expr());
          }
          expect_op(kRBracket, "]");
          int32_t n = node(N::ListLit, ln);
          set_run(items, p.nodes[n].list, p.nodes[n].count);
          return n;
        }
        if (is_op(kLBrace)) error("dicts and sets are not supported");
        error("unexpected '" + std::string(tk.text) + "'");
      default:
        error(tk.kind == Tok::Indent ? "unexpected indent" : "unexpected end of line");
    }
  }
  // a, b, c  (a tuple when there is a comma)
  int32_t expr_list() {
    int ln = line();
    int32_t first = expr();
    if (!is_op(kComma)) return first;
    std::vector<int32_t> items = {first};
    while (accept_op(kComma)) {
      if (is_op(kAssign) || is_op(kRParen) || cur().kind == Tok::Newline || is_op(kSemicolon) || is_op(kColon)) break;
      items.push_back(expr());
    }
    int32_t n = node(N::TupleLit, ln);
    set_run(items, p.nodes[n].list, p.nodes[n].count);
    return n;
  }
  int32_t target_list() {  // for-loop and comprehension targets: names, possibly a tuple of them
    int ln = line();
    std::vector<int32_t> items;
    do {
      bool paren = accept_op(kLParen);
      if (paren) { items.push_back(target_list()); expect_op(kRParen, ")"); continue; }
      if (cur().kind != Tok::Name || reserved(cur().text)) error("expected a loop variable name");
      int32_t n = node(N::Name, line());
      p.nodes[n].name = p.intern(cur().text);
      pos++;
      items.push_back(n);
    } while (accept_op(kComma) && !is_kw("in"));
    if (items.size() == 1) return items[0];
    int32_t n = node(N::TupleLit, ln);
    set_run(items, p.nodes[n].list, p.nodes[n].count);
    return n;
  }
  void check_target(int32_t n) {
    const Node& nd = p.nodes[n];
    if (nd.kind == N::Name || nd.kind == N::Subscript) return;
    if (nd.kind == N::TupleLit || nd.kind == N::ListLit) {
      for (int i = 0; i < nd.count; i++) check_target(p.lists[nd.list + i]);
      return;
    }
    raise(nd.line, "SyntaxError: cannot assign to this expression");
  }

  // ---- statements ----
  void suite(std::vector<int32_t>& body) {
    Guard g(*this);
    expect_op(kColon, ":");
    if (cur().kind != Tok::Newline) {  // "if x: y = 1" on one line
      simple_statements(body);
      return;
    }
    pos++;
    if (cur().kind != Tok::Indent) error("expected an indented block");
    pos++;
    while (cur().kind != Tok::Dedent && cur().kind != Tok::End) statement(body);
    if (cur().kind == Tok::Dedent) pos++;
  }
  void statement(std::vector<int32_t>& out) {
    const Token& tk = cur();
    int ln = tk.line;
    if (tk.kind == Tok::Newline) { pos++; return; }
    if (tk.kind == Tok::Indent) error("unexpected indent");
    if (is_kw("def")) {
      pos++;
      if (cur().kind != Tok::Name || reserved(cur().text)) error("expected a function name");
      int32_t n = node(N::Def, ln);
      p.nodes[n].name = p.intern(cur().text);
      pos++;
      expect_op(kLParen, "(");
      std::vector<int32_t> params;
      while (!is_op(kRParen)) {
        if (cur().kind != Tok::Name || reserved(cur().text)) error("expected a parameter name");
        params.push_back(p.intern(cur().text));
        pos++;
        if (accept_op(kColon)) expr();  // annotation, ignored
        params.push_back(accept_op(kAssign) ? expr() : -1);
        if (!accept_op(kComma)) break;
      }
      expect_op(kRParen, ")");
      if (accept_op(kArrow)) expr();  // return annotation, ignored
      std::vector<int32_t> body;
      suite(body);
      set_run(body, p.nodes[n].list, p.nodes[n].count);
      set_run(params, p.nodes[n].list2, p.nodes[n].count2);
      out.push_back(n);
      return;
    }
    if (is_kw("if")) {
      pos++;
      out.push_back(if_rest(ln));
      return;
    }
    if (is_kw("for") || is_kw("while")) {
      bool is_for = is_kw("for");
      pos++;
      int32_t n = node(is_for ? N::For : N::While, ln);
      if (is_for) {
        int32_t target = target_list();
        if (!accept_kw("in")) error("expected 'in' in for loop");
        int32_t iter = expr_list();
        p.nodes[n].a = target, p.nodes[n].b = iter;
      } else {
        int32_t cond = expr();
        p.nodes[n].a = cond;
      }
      std::vector<int32_t> body;
      suite(body);
      set_run(body, p.nodes[n].list, p.nodes[n].count);
      if (is_kw("else")) error("loop 'else' is not supported");
      out.push_back(n);
      return;
    }
    simple_statements(out);
  }
  int32_t if_rest(int ln) {
    int32_t n = node(N::If, ln);
    int32_t cond = expr();
    p.nodes[n].a = cond;
    std::vector<int32_t> body, other;
    suite(body);
    if (is_kw("elif")) {
      int eln = line();
      pos++;
      other.push_back(if_rest(eln));
    } else if (accept_kw("else")) {
      suite(other);
    }
    set_run(body, p.nodes[n].list, p.nodes[n].count);
    set_run(other, p.nodes[n].list2, p.nodes[n].count2);
    return n;
  }
  void simple_statements(std::vector<int32_t>& out) {
    while (true) {
      out.push_back(small_statement());
      if (!accept_op(kSemicolon)) break;
      if (cur().kind == Tok::Newline) break;
    }
    if (cur().kind != Tok::Newline) error("expected end of line");
    pos++;
  }
  int32_t small_statement() {
    int ln = line();
    if (accept_kw("pass")) return node(N::Pass, ln);
    if (accept_kw("break")) return node(N::Break, ln);
    if (accept_kw("continue")) return node(N::Continue, ln);
    if (accept_kw("return")) {
      int32_t n = node(N::Return, ln);
      if (cur().kind != Tok::Newline && !is_op(kSemicolon)) { int32_t v = expr_list(); p.nodes[n].a = v; }
      return n;
    }
    if (accept_kw("import")) {
      if (!is_kw("math")) error("only 'import math' is allowed");
      pos++;
      int32_t n = node(N::Import, ln);
      std::string_view alias = "math";
      if (accept_kw("as")) {
        if (cur().kind != Tok::Name || reserved(cur().text)) error("expected a name after 'as'");
        alias = cur().text;
        pos++;
      }
      p.nodes[n].name = p.intern(alias);
      return n;
    }
    if (is_kw("from")) error("only 'import math' is allowed");
    if (cur().kind == Tok::Name && reserved(cur().text) && !is_kw("not") && !is_kw("True") && !is_kw("False") &&
        !is_kw("None") && !is_kw("lambda"))
      error("'" + std::string(cur().text) + "' is not supported");
    int32_t first = expr_list();
    if (is_op(kColon) && p.nodes[first].kind == N::Name) {  // x: int = 5
      pos++;
      expr();
      int32_t n = node(N::AnnAssign, ln);
      p.nodes[n].a = first;
      if (accept_op(kAssign)) { int32_t v = expr_list(); p.nodes[n].b = v; }
      return n;
    }
    if (cur().kind == Tok::Op && cur().op >= kPlusEq && cur().op <= kPowEq) {
      static const uint8_t base[] = {kPlus, kMinus, kStar, kSlash, kFloorDiv, kPercent, kPow};
      uint8_t op = base[cur().op - kPlusEq];
      pos++;
      const Node& tn = p.nodes[first];
      if (tn.kind != N::Name && tn.kind != N::Subscript) error("cannot use augmented assignment here");
      int32_t v = expr_list();
      int32_t n = node(N::AugAssign, ln);
      p.nodes[n].op = op, p.nodes[n].a = first, p.nodes[n].b = v;
      return n;
    }
    if (is_op(kAssign)) {
      std::vector<int32_t> targets = {first};
      int32_t value = -1;
      while (accept_op(kAssign)) {
        value = expr_list();
        if (is_op(kAssign)) targets.push_back(value);
      }
      for (int32_t tgt : targets) check_target(tgt);
      int32_t n = node(N::Assign, ln);
      p.nodes[n].b = value;
      set_run(targets, p.nodes[n].list, p.nodes[n].count);
      return n;
    }
    int32_t n = node(N::ExprStmt, ln);
    p.nodes[n].a = first;
    return n;
  }
};

}  // namespace

void parse(const std::vector<Token>& toks, Program& prog, const InterpreterLimits& lim) {
  Parser ps{toks, prog, lim};
  prog.nodes.reserve(toks.size() + 8);
  while (toks[ps.pos].kind != Tok::End) {
    if (toks[ps.pos].kind == Tok::Dedent) { ps.pos++; continue; }
    ps.statement(prog.body);
  }
}

}  // namespace chamber::py
