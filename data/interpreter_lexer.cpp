// Lexer: source text -> tokens, with Python's indentation turned into INDENT/DEDENT tokens and
// newlines inside brackets ignored. Rejects at once what the subset never allows: non-ASCII bytes,
// dunder names, bit operators, f-strings and byte strings. One pass, every step consumes input.
#include <cstdlib>
#include <cstring>

#include "data/interpreter_internal.h"

namespace chamber::py {

void raise(int line, std::string message) { throw PyError{line, std::move(message)}; }

int32_t Program::intern(std::string_view name) {
  auto [it, added] = name_ids.emplace(name, (int32_t)names.size());
  if (added) names.push_back(name);
  return it->second;
}

static bool ident_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
static bool ident_char(char c) { return ident_start(c) || (c >= '0' && c <= '9'); }
static bool digit(char c) { return c >= '0' && c <= '9'; }

struct OpSpelling { const char* text; Op op; };
// Longest first so "**=" wins over "**" and "*".
static const OpSpelling kOps[] = {
    {"**=", kPowEq}, {"//=", kFloorDivEq}, {"**", kPow}, {"//", kFloorDiv}, {"==", kEq}, {"!=", kNe},
    {"<=", kLe}, {">=", kGe}, {"+=", kPlusEq}, {"-=", kMinusEq}, {"*=", kStarEq}, {"/=", kSlashEq},
    {"%=", kPercentEq}, {"->", kArrow}, {"+", kPlus}, {"-", kMinus}, {"*", kStar}, {"/", kSlash},
    {"%", kPercent}, {"<", kLt}, {">", kGt}, {"=", kAssign}, {"(", kLParen}, {")", kRParen},
    {"[", kLBracket}, {"]", kRBracket}, {"{", kLBrace}, {"}", kRBrace}, {",", kComma}, {":", kColon},
    {".", kDot}, {";", kSemicolon},
};

// Reads a string literal starting at src[i] (the opening quote); returns the index past it.
static size_t lex_string(std::string_view src, size_t i, int& line, std::string& out, const InterpreterLimits& lim) {
  char q = src[i];
  bool triple = i + 2 < src.size() && src[i + 1] == q && src[i + 2] == q;
  int start_line = line;
  i += triple ? 3 : 1;
  while (true) {
    if (i >= src.size()) raise(start_line, "SyntaxError: unterminated string literal");
    char c = src[i];
    if (c == q && (!triple || (i + 2 < src.size() && src[i + 1] == q && src[i + 2] == q))) return i + (triple ? 3 : 1);
    if (c == '\n') {
      if (!triple) raise(line, "SyntaxError: unterminated string literal");
      line++;
    }
    if (c == '\\' && i + 1 < src.size()) {
      char e = src[i + 1];
      i += 2;
      switch (e) {
        case 'n': out.push_back('\n'); break;
        case 't': out.push_back('\t'); break;
        case 'r': out.push_back('\r'); break;
        case '0': out.push_back('\0'); break;
        case '\\': case '\'': case '"': out.push_back(e); break;
        case '\n': line++; break;   // line continuation inside a string
        default: out.push_back('\\'); out.push_back(e); break;
      }
    } else {
      out.push_back(c);
      i++;
    }
    if ((int64_t)out.size() > lim.max_string_bytes) raise(start_line, "string literal too long");
  }
}

std::vector<Token> lex(std::string_view src, Program& prog, const InterpreterLimits& lim) {
  if ((int64_t)src.size() > lim.max_source_bytes)
    raise(0, "source too long (" + std::to_string(src.size()) + " bytes; limit " + std::to_string(lim.max_source_bytes) + ")");
  std::vector<Token> toks;
  toks.reserve(src.size() / 3 + 8);
  std::vector<int> indents = {0};
  int line = 1;
  int bracket_depth = 0;
  bool at_line_start = true;
  size_t i = 0;
  auto push = [&](Tok kind, uint8_t op = 0) {
    Token t;
    t.kind = kind;
    t.op = op;
    t.line = line;
    toks.push_back(t);
  };
  while (i < src.size()) {
    if (at_line_start && bracket_depth == 0) {
      // Measure indentation; blank and comment-only lines do not count.
      int col = 0;
      size_t j = i;
      while (j < src.size() && (src[j] == ' ' || src[j] == '\t' || src[j] == '\f')) {
        col = src[j] == '\t' ? (col / 8 + 1) * 8 : col + 1;
        j++;
      }
      if (j >= src.size()) { i = j; break; }
      if (src[j] == '\n' || src[j] == '\r' || src[j] == '#') {
        while (j < src.size() && src[j] != '\n') j++;
        if (j < src.size()) j++, line++;
        i = j;
        continue;
      }
      at_line_start = false;
      i = j;
      if (col > indents.back()) {
        indents.push_back(col);
        push(Tok::Indent);
      } else {
        while (col < indents.back()) {
          indents.pop_back();
          push(Tok::Dedent);
        }
        if (col != indents.back()) raise(line, "IndentationError: unindent does not match any outer level");
      }
      continue;
    }
    char c = src[i];
    if (c == ' ' || c == '\t' || c == '\r' || c == '\f') { i++; continue; }
    if (c == '#') { while (i < src.size() && src[i] != '\n') i++; continue; }
    if (c == '\\' && i + 1 < src.size() && src[i + 1] == '\n') { i += 2; line++; continue; }
    if (c == '\n') {
      if (bracket_depth == 0) {
        push(Tok::Newline);
        at_line_start = true;
      }
      line++;
      i++;
      continue;
    }
    if ((unsigned char)c >= 0x80) raise(line, "SyntaxError: non-ASCII character in code");
    if (ident_start(c)) {
      size_t j = i;
      while (j < src.size() && ident_char(src[j])) j++;
      std::string_view word = src.substr(i, j - i);
      // String prefixes: r"..", u"..", and the unsupported f"..", b"..".
      if (j < src.size() && (src[j] == '"' || src[j] == '\'') && word.size() <= 2) {
        bool f = word.find_first_of("fF") != std::string_view::npos, b = word.find_first_of("bB") != std::string_view::npos;
        if (f) raise(line, "SyntaxError: f-strings are not supported");
        if (b) raise(line, "SyntaxError: byte strings are not supported");
        if (word == "r" || word == "R" || word == "u" || word == "U") { i = j; continue; }
      }
      if (word.size() >= 2 && word[0] == '_' && word[1] == '_') raise(line, "NameError: dunder names are not allowed");
      Token t;
      t.kind = Tok::Name;
      t.line = line;
      t.text = word;
      toks.push_back(t);
      i = j;
      continue;
    }
    if (digit(c) || (c == '.' && i + 1 < src.size() && digit(src[i + 1]))) {
      size_t j = i;
      bool is_float = false;
      std::string digits;
      while (j < src.size() && (digit(src[j]) || src[j] == '_')) { if (src[j] != '_') digits.push_back(src[j]); j++; }
      if (j < src.size() && src[j] == '.') {
        is_float = true;
        digits.push_back('.');
        j++;
        while (j < src.size() && (digit(src[j]) || src[j] == '_')) { if (src[j] != '_') digits.push_back(src[j]); j++; }
      }
      if (j < src.size() && (src[j] == 'e' || src[j] == 'E')) {
        size_t k = j + 1;
        if (k < src.size() && (src[k] == '+' || src[k] == '-')) k++;
        if (k < src.size() && digit(src[k])) {
          is_float = true;
          digits.append(src.substr(j, k - j));
          j = k;
          while (j < src.size() && digit(src[j])) digits.push_back(src[j++]);
        }
      }
      if (j < src.size() && ident_char(src[j])) raise(line, "SyntaxError: invalid number literal");
      if (digits.size() > 400) raise(line, "SyntaxError: number literal too long");
      Token t;
      t.line = line;
      t.text = src.substr(i, j - i);
      if (is_float) {
        t.kind = Tok::Float;
        t.fval = std::strtod(digits.c_str(), nullptr);
      } else {
        t.kind = Tok::Int;
        if (digits.size() > 1 && digits[0] == '0')
          for (char d : digits) if (d != '0') raise(line, "SyntaxError: leading zeros in an integer literal");
        int64_t v = 0;
        for (char d : digits) {
          if (__builtin_mul_overflow(v, (int64_t)10, &v) || __builtin_add_overflow(v, (int64_t)(d - '0'), &v))
            raise(line, "OverflowError: integer literal too large");
        }
        t.ival = v;
      }
      toks.push_back(t);
      i = j;
      continue;
    }
    if (c == '"' || c == '\'') {
      Token t;
      t.kind = Tok::Str;
      t.line = line;
      std::string s;
      i = lex_string(src, i, line, s, lim);
      // Adjacent literals concatenate.
      if (!toks.empty() && toks.back().kind == Tok::Str) {
        std::string& prev = prog.strings[toks.back().str];
        prev += s;
        if ((int64_t)prev.size() > lim.max_string_bytes) raise(line, "string literal too long");
        continue;
      }
      prog.strings.push_back(std::move(s));
      t.str = (int32_t)prog.strings.size() - 1;
      toks.push_back(t);
      continue;
    }
    bool matched = false;
    for (const OpSpelling& o : kOps) {
      size_t n = std::strlen(o.text);
      if (src.substr(i, n) == o.text) {
        if (o.op == kLParen || o.op == kLBracket || o.op == kLBrace) {
          if (++bracket_depth > lim.max_nesting) raise(line, "SyntaxError: too deeply nested");
        } else if (o.op == kRParen || o.op == kRBracket || o.op == kRBrace) {
          if (bracket_depth == 0) raise(line, "SyntaxError: unmatched closing bracket");
          bracket_depth--;
        }
        push(Tok::Op, o.op);
        toks.back().text = src.substr(i, n);
        i += n;
        matched = true;
        break;
      }
    }
    if (!matched) raise(line, std::string("SyntaxError: unsupported character '") + c + "'");
  }
  if (bracket_depth != 0) raise(line, "SyntaxError: unclosed bracket at end of input");
  if (!toks.empty() && toks.back().kind != Tok::Newline && toks.back().kind != Tok::Dedent) push(Tok::Newline);
  while (indents.size() > 1) {
    indents.pop_back();
    push(Tok::Dedent);
  }
  push(Tok::End);
  return toks;
}

}  // namespace chamber::py
