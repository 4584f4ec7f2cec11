// Story templates of the math world (internal to mathworld*.cpp). A theme holds a running quantity
// (money, apples, km, ...) and three kinds of clauses: starts introduce it, middles change it, ends
// change it once more and replace the question. Each clause has one computation `form` over the
// running value x and its arguments a, b, c, a question sentence and a solution sentence whose
// {e1}, {e2}, ... slots receive the clause's equations in the order they are computed.
//
// Placeholders: {N} name, {P}/{p} he/she, {o} him/her, {s} his/her, {F} a friend, {I} the theme's
// noun (apples, toys, ...), {V} vehicle, {S} the current subject and {S2} a new one (ages),
// {a} {b} {c} arguments, {e1}.. equations.
#pragma once
#include <cstdint>
#include <vector>

namespace chamber::mathworld {

enum class Form : uint8_t {
  A, AB, ABC, APlusB,                         // starts
  XPlusA, XMinusA, XTimesA, XDivA,            // one operation on x
  XPlusAB, XMinusAB,                          // x +- a*b
  XMinusPct, XPlusPct,                        // x -+ x*a/100
  AMinusX,                                    // a - x (e.g. money still needed)
};
int form_ops(Form f);
int form_args(Form f);

enum class Arg : uint8_t {
  Num,       // uniform in the small or large range
  Divisor,   // a divisor of x within the range (x / a exact)
  Percent,   // 10, 20, 25, 50 or 75 with x * a / 100 exact
  Const,     // always `lo` (written as a literal in code: x * 60)
  AboveX,    // a round number above x (a - x > 0)
};

struct ArgSpec {
  Arg kind = Arg::Num;
  int small_lo = 0, small_hi = 0, large_lo = 0, large_hi = 0;
  const char* var = "";   // Python variable name
};

struct Clause {
  const char* text;   // question sentence(s); an end clause's text ends with its question
  Form form;
  ArgSpec args[3];
  const char* step;   // solution sentence
  bool new_subject = false;  // ages: the clause introduces {S2}, who becomes {S}
};

struct Theme {
  const char* name;
  const char* title;          // mathtext heading
  const char* state_var;      // Python variable of the running value ("{I}" = the noun)
  const char* question;       // default question
  const char* unit;           // unit of the running value, for mathtext
  std::vector<const char*> nouns;  // values of {I} (or {V}); empty if unused
  std::vector<Clause> starts, middles, ends;
};

const std::vector<Theme>& math_themes();
int math_template_count();   // starts + middles + ends over all themes

}  // namespace chamber::mathworld
