// Expression grammar of the interpreter's parser, Python's precedence from low to high:
// conditional, or, and, not, comparisons (chained), + -, * / // %, unary - +, **, then calls,
// subscripts and attributes, then atoms. Node layout: interpreter_parser.cpp.
#include "data/interpreter_parser.h"

namespace chamber::py {

int32_t Parser::expr() {
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

int32_t Parser::binary(N kind, int32_t a, int32_t b, int ln, uint8_t op) {
  int32_t n = node(kind, ln);
  p.nodes[n].a = a, p.nodes[n].b = b, p.nodes[n].op = op;
  return n;
}

int32_t Parser::or_test() {
  int32_t a = and_test();
  while (is_kw("or")) { int ln = line(); pos++; a = binary(N::Or, a, and_test(), ln); }
  return a;
}

int32_t Parser::and_test() {
  int32_t a = not_test();
  while (is_kw("and")) { int ln = line(); pos++; a = binary(N::And, a, not_test(), ln); }
  return a;
}

int32_t Parser::not_test() {
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

int Parser::compare_op() {
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

int32_t Parser::comparison() {
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

int32_t Parser::arith() {
  int32_t a = term();
  while (is_op(kPlus) || is_op(kMinus)) { int ln = line(); uint8_t op = cur().op; pos++; a = binary(N::BinOp, a, term(), ln, op); }
  return a;
}

int32_t Parser::term() {
  int32_t a = factor();
  while (is_op(kStar) || is_op(kSlash) || is_op(kFloorDiv) || is_op(kPercent)) {
    int ln = line(); uint8_t op = cur().op; pos++;
    a = binary(N::BinOp, a, factor(), ln, op);
  }
  return a;
}

int32_t Parser::factor() {
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

int32_t Parser::power() {
  int32_t a = primary();
  if (is_op(kPow)) { int ln = line(); pos++; Guard g(*this); a = binary(N::BinOp, a, factor(), ln, kPow); }
  return a;
}

int32_t Parser::primary() {
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

int32_t Parser::subscript() {
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

int32_t Parser::comprehension(int32_t element, int ln) {
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

int32_t Parser::atom() {
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
int32_t Parser::expr_list() {
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

// for-loop and comprehension targets: names, possibly a tuple of them
int32_t Parser::target_list() {
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

void Parser::check_target(int32_t n) {
  const Node& nd = p.nodes[n];
  if (nd.kind == N::Name || nd.kind == N::Subscript) return;
  if (nd.kind == N::TupleLit || nd.kind == N::ListLit) {
    for (int i = 0; i < nd.count; i++) check_target(p.lists[nd.list + i]);
    return;
  }
  raise(nd.line, "SyntaxError: cannot assign to this expression");
}
}  // namespace chamber::py
