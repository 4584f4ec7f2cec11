// Renderers: one problem (its expression tree and clause sentences) -> solution text per style.
// All styles read the same nodes, so the numbers they state always agree; the code styles print
// exactly what the interpreter prints for their code (tests run it to check).
#include "data/mathworld.h"

#include "data/mathworld_templates.h"
#include "util/util.h"

namespace chamber {
namespace {

// "12 + 15 = 27", or GSM8K's "12 + 15 = <<12+15=27>>27".
std::string equation(const MathProblem& p, int32_t n, bool annotate) {
  const MathNode& m = p.nodes[n];
  std::string l = std::to_string(p.nodes[m.left].value), r = std::to_string(p.nodes[m.right].value);
  std::string v = std::to_string(m.value);
  const char op[2] = {m.op, 0};  // a C string, not a char: GCC 12 warns falsely on string + char
  std::string out = l + " " + op + " " + r + " = ";
  if (annotate) out += "<<" + l + op + r + "=" + v + ">>";
  return out + v;
}

std::string step_text(const MathProblem& p, const MathStep& st, bool annotate) {
  std::string out;
  const std::string& s = st.sentence;
  for (size_t i = 0; i < s.size(); i++) {
    if (s[i] == '{' && i + 3 < s.size() && s[i + 1] == 'e' && s[i + 3] == '}') {
      size_t k = (size_t)(s[i + 2] - '1');
      if (k < st.op_nodes.size()) {
        out += equation(p, st.op_nodes[k], annotate);
        i += 3;
        continue;
      }
    }
    out.push_back(s[i]);
  }
  return out;
}

std::string steps_text(const MathProblem& p, bool annotate) {
  std::string out;
  for (const MathStep& st : p.steps) {
    if (st.op_nodes.empty()) continue;
    if (!out.empty()) out += "\n";
    out += step_text(p, st, annotate);
  }
  return out;
}

// Declarations and updates of the running variable; the last clause's expression is returned
// separately because each code style finishes differently.
void code_lines(const MathProblem& p, std::vector<std::string>& lines, std::string& final_expr, bool declare) {
  for (size_t i = 0; i < p.steps.size(); i++) {
    const MathStep& st = p.steps[i];
    if (declare)
      for (int32_t leaf : st.leaf_nodes) lines.push_back(p.nodes[leaf].var + " = " + std::to_string(p.nodes[leaf].value));
    if (st.expr.empty()) continue;
    if (i + 1 == p.steps.size()) final_expr = st.expr;
    else lines.push_back(st.state_var + " = " + st.expr);
  }
}

bool has_division(const MathProblem& p) {
  for (const MathNode& n : p.nodes) if (n.op == '/') return true;
  return false;
}

// What Python prints for the final value: any `/` makes it a float.
std::string printed_value(const MathProblem& p) {
  return std::to_string(p.answer) + (has_division(p) ? ".0" : "");
}

std::string render_tinygsm(const MathProblem& p, bool short_docstring) {
  std::vector<std::string> lines;
  std::string final_expr;
  code_lines(p, lines, final_expr, true);
  // The question sentence alone is what follows the story in p.question.
  std::string doc = short_docstring ? p.question.substr(p.story.size() + 1) : p.question;
  std::string out = "def simple_math_problem() -> int:\n    \"\"\"\n    " + doc + "\n    \"\"\"\n";
  for (const auto& l : lines) out += "    " + l + "\n";
  out += "    result = " + final_expr + "\n    return result\n";
  return out;
}

std::string render_omi1(const MathProblem& p) {
  std::vector<std::string> lines;
  std::string final_expr;
  code_lines(p, lines, final_expr, true);
  std::string out = "Let's solve this with Python.\n<llm-code>\n";
  for (const auto& l : lines) out += l + "\n";
  out += final_expr + "\n</llm-code>\n<llm-code-output>\n" + printed_value(p) + "\n</llm-code-output>\n";
  out += "So the answer is \\boxed{" + std::to_string(p.answer) + "}.";
  return out;
}

std::string render_omi2(const MathProblem& p) {
  return steps_text(p, false) + "\nSo the answer is \\boxed{" + std::to_string(p.answer) + "}.";
}

// omi2 with each operation's working (mathworld_working) on lines before the clause sentence that
// states its equation.
std::string render_omi2_steps(const MathProblem& p) {
  std::string out;
  for (const MathStep& st : p.steps) {
    if (st.op_nodes.empty()) continue;
    for (int32_t n : st.op_nodes) {
      const MathNode& m = p.nodes[n];
      std::string working = mathworld_working(p.nodes[m.left].value, m.op, p.nodes[m.right].value);
      if (!working.empty()) out += working + "\n";
    }
    out += step_text(p, st, false) + "\n";
  }
  return out + "So the answer is \\boxed{" + std::to_string(p.answer) + "}.";
}

std::string render_gsm8k(const MathProblem& p) { return steps_text(p, true) + "\n#### " + std::to_string(p.answer); }

const mathworld::Theme& theme_of(const MathProblem& p) {
  for (const auto& t : mathworld::math_themes()) if (p.theme == t.name) return t;
  fail("math world: problem has unknown theme '", p.theme, "'");
}

// Document-style text without a question/answer frame, in one of three shapes.
std::string render_mathtext(const MathProblem& p) {
  const mathworld::Theme& t = theme_of(p);
  switch (p.id % 3) {
    case 0:  // a worked story
      return std::string(t.title) + "\n" + p.story + "\n" + steps_text(p, false);
    case 1: {  // a small program
      std::vector<std::string> lines;
      std::string final_expr;
      code_lines(p, lines, final_expr, false);
      std::string params, args;
      for (const MathStep& st : p.steps)
        for (int32_t leaf : st.leaf_nodes) {
          params += (params.empty() ? "" : ", ") + p.nodes[leaf].var;
          args += (args.empty() ? "" : ", ") + std::to_string(p.nodes[leaf].value);
        }
      std::string fn = "total_" + p.steps.back().state_var;
      std::string out = "# " + std::string(t.title) + "\ndef " + fn + "(" + params + "):\n";
      for (const auto& l : lines) out += "    " + l + "\n";
      out += "    return " + final_expr + "\n\nprint(" + fn + "(" + args + "))  # " + printed_value(p);
      return out;
    }
    default: {  // arithmetic facts
      std::string out = std::string(t.title) + ": the numbers.";
      for (int32_t i = 0; i < (int32_t)p.nodes.size(); i++)
        if (p.nodes[i].op) {
          out += '\n';
          out += equation(p, i, false);
        }
      return out;
    }
  }
}

}  // namespace

std::string mathworld_solution(const MathProblem& p, std::string_view style) {
  if (style == "tinygsm") return render_tinygsm(p, false);
  if (style == "tinygsm_short") return render_tinygsm(p, true);
  if (style == "omi1") return render_omi1(p);
  if (style == "omi2") return render_omi2(p);
  if (style == "omi2_steps") return render_omi2_steps(p);
  if (style == "gsm8k") return render_gsm8k(p);
  if (style == "mathtext") return render_mathtext(p);
  fail("math world: unknown style '", std::string(style), "' (known: tinygsm, tinygsm_short, omi1, omi2, omi2_steps, gsm8k, mathtext)");
}

std::string mathworld_document(const MathProblem& p, std::string_view style) {
  if (style == "mathtext") return mathworld_solution(p, style);
  return p.question + "\n\n" + mathworld_solution(p, style);
}

}  // namespace chamber
