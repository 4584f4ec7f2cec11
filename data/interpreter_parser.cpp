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
#include "data/interpreter_parser.h"

namespace chamber::py {

void Parser::suite(std::vector<int32_t>& body) {
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

void Parser::statement(std::vector<int32_t>& out) {
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

int32_t Parser::if_rest(int ln) {
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

void Parser::simple_statements(std::vector<int32_t>& out) {
  while (true) {
    out.push_back(small_statement());
    if (!accept_op(kSemicolon)) break;
    if (cur().kind == Tok::Newline) break;
  }
  if (cur().kind != Tok::Newline) error("expected end of line");
  pos++;
}

int32_t Parser::small_statement() {
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

void parse(const std::vector<Token>& toks, Program& prog, const InterpreterLimits& lim) {
  Parser ps{toks, prog, lim};
  prog.nodes.reserve(toks.size() + 8);
  while (toks[ps.pos].kind != Tok::End) {
    if (toks[ps.pos].kind == Tok::Dedent) { ps.pos++; continue; }
    ps.statement(prog.body);
  }
}

}  // namespace chamber::py
