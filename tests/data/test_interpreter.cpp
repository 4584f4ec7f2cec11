// The interpreter on the programs it exists for (TinyGSM functions, OpenMathInstruct-1 cells) and
// on Python's arithmetic corners that change answers: / vs //, negative floor division and modulo,
// round-half-even, int(), float repr.
#include <gtest/gtest.h>

#include "data/interpreter.h"

namespace chamber {
namespace {

std::string value_of(const std::string& cell) {
  PyRunResult r = py_run_cells({cell});
  EXPECT_TRUE(r.ok) << cell << "\n" << r.error;
  return r.value;
}

TEST(Interpreter, TinyGsmFunction) {
  const char* code =
      "def simple_math_problem() -> int:\n"
      "    \"\"\"\n"
      "    Tom has 5 apples and buys 7 more. How many apples does he have?\n"
      "    \"\"\"\n"
      "    apples = 5\n"
      "    bought = 7\n"
      "    result = apples + bought\n"
      "    return result\n";
  PyRunResult r = py_run_function(code, "simple_math_problem");
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_TRUE(r.has_value);
  EXPECT_EQ(r.value, "12");
  r = py_run_function(code, "");  // first function defined
  EXPECT_EQ(r.value, "12");
}

TEST(Interpreter, NotebookCellsShareState) {
  PyRunResult r = py_run_cells({"import math\nx = 12 * 9\nprint(x)", "y = math.sqrt(x + 36)\ny"});
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.output, "108\n");
  EXPECT_EQ(r.value, "12.0");
  r = py_run_cells({"print(40 * 15 / 100)"});
  ASSERT_TRUE(r.ok);
  EXPECT_FALSE(r.has_value);
  EXPECT_EQ(r.output, "6.0\n");
}

TEST(Interpreter, PythonArithmetic) {
  EXPECT_EQ(value_of("7 / 2"), "3.5");
  EXPECT_EQ(value_of("7 // 2"), "3");
  EXPECT_EQ(value_of("-7 // 2"), "-4");
  EXPECT_EQ(value_of("-7 % 3"), "2");
  EXPECT_EQ(value_of("7 % -3"), "-2");
  EXPECT_EQ(value_of("2 ** 10"), "1024");
  EXPECT_EQ(value_of("2 ** -1"), "0.5");
  EXPECT_EQ(value_of("-2 ** 2"), "-4");
  EXPECT_EQ(value_of("2 ** 3 ** 2"), "512");
  EXPECT_EQ(value_of("round(2.5)"), "2");
  EXPECT_EQ(value_of("round(3.5)"), "4");
  EXPECT_EQ(value_of("round(2.675, 2)"), "2.67");
  EXPECT_EQ(value_of("round(1234, -2)"), "1200");
  EXPECT_EQ(value_of("int(-3.9)"), "-3");
  EXPECT_EQ(value_of("int('42')"), "42");
  EXPECT_EQ(value_of("float(3)"), "3.0");
  EXPECT_EQ(value_of("0.1 + 0.2"), "0.30000000000000004");
  EXPECT_EQ(value_of("1e16"), "1e+16");
  EXPECT_EQ(value_of("7.5 // 2"), "3.0");
  EXPECT_EQ(value_of("-7.5 % 2"), "0.5");
  EXPECT_EQ(value_of("abs(-4) + max(1, 9, 3) + min([4, 2]) + sum([1, 2, 3]) + len('abc')"), "24");
  EXPECT_EQ(value_of("1 < 2 < 3"), "True");
  EXPECT_EQ(value_of("1 < 3 < 2"), "False");
  EXPECT_EQ(value_of("3 if 2 > 1 else 4"), "3");
  EXPECT_EQ(value_of("not 0 and 5 or 6"), "5");
  EXPECT_EQ(value_of("import math\nmath.floor(2.7) + math.ceil(2.1)"), "5");
}

TEST(Interpreter, ControlFlowAndLists) {
  EXPECT_EQ(value_of("t = 0\nfor i in range(1, 11):\n    if i % 2 == 0:\n        continue\n    t += i\nt"), "25");
  EXPECT_EQ(value_of("n = 0\nwhile True:\n    n += 1\n    if n >= 7:\n        break\nn"), "7");
  EXPECT_EQ(value_of("xs = [3, 1, 2]\nxs.append(5)\nxs[0] = 10\nxs"), "[10, 1, 2, 5]");
  EXPECT_EQ(value_of("[x * x for x in range(5) if x % 2 == 0]"), "[0, 4, 16]");
  EXPECT_EQ(value_of("sum(x for x in range(101))"), "5050");
  EXPECT_EQ(value_of("a, b = 3, 4\na * b"), "12");
  EXPECT_EQ(value_of("xs = [1, 2, 3, 4, 5]\nxs[1:3] + xs[::-2] + xs[-2:]"), "[2, 3, 5, 3, 1, 4, 5]");
  EXPECT_EQ(value_of("'abcdef'[::-1]"), "'fedcba'");
  EXPECT_EQ(value_of("3 in [1, 2, 3]"), "True");
  EXPECT_EQ(value_of("def f(n):\n    if n <= 1:\n        return 1\n    return n * f(n - 1)\nf(10)"), "3628800");
  EXPECT_EQ(value_of("def g(a, b=2):\n    return a ** b\ng(3) + g(2, 3)"), "17");
  EXPECT_EQ(value_of("x: int = 4\nx"), "4");
  EXPECT_EQ(value_of("if True: y = 1\nelse: y = 2\ny"), "1");
  EXPECT_EQ(value_of("total = 0\nfor a, b in [(1, 2), (3, 4)]:\n    total += a * b\ntotal"), "14");
  EXPECT_EQ(value_of("import math as m\nm.gcd(12, 18) + m.factorial(5) + m.comb(5, 2)"), "136");
}

// Substring search (Knuth-Morris-Pratt), container comparison and repetition keep Python's
// results; the work they now pay as steps leaves ordinary programs well inside the limit.
TEST(Interpreter, SearchAndComparisonKeepPythonResults) {
  uint64_t state = 12345;
  auto next = [&] { state = state * 6364136223846793005ULL + 1442695040888963407ULL; return state >> 33; };
  for (int trial = 0; trial < 300; trial++) {
    std::string hay, needle;
    for (size_t k = next() % 40; k > 0; k--) hay.push_back("ab"[next() % 2]);
    for (size_t k = next() % 6; k > 0; k--) needle.push_back("ab"[next() % 2]);
    std::string want = hay.find(needle) != std::string::npos ? "True" : "False";
    EXPECT_EQ(value_of("'" + needle + "' in '" + hay + "'"), want) << needle << " in " << hay;
  }
  EXPECT_EQ(value_of("'aab' in 'aaab'"), "True");
  EXPECT_EQ(value_of("'abac' not in 'ababac'"), "False");
  EXPECT_EQ(value_of("[1, [2, 3]] == [1, [2, 3]]"), "True");
  EXPECT_EQ(value_of("[1, [2, 3]] < [1, [2, 4]]"), "True");
  EXPECT_EQ(value_of("(1, 2) < (1, 2, 0)"), "True");
  EXPECT_EQ(value_of("'abc' < 'abd'"), "True");
  EXPECT_EQ(value_of("max([1, 5], [1, 7], [0, 9])"), "[1, 7]");
  EXPECT_EQ(value_of("[2, 3] in [[1], [2, 3]]"), "True");
  EXPECT_EQ(value_of("len('' * 10**18) + len([] * 10**18)"), "0");
  EXPECT_EQ(value_of("round(1e308, 2) == 1e308"), "True");
  EXPECT_EQ(value_of("round(2.675, 2)"), "2.67");
  EXPECT_EQ(value_of("t = 0\nfor i in range(20000):\n    t += i\nt"), "199990000");
  EXPECT_EQ(value_of("x = [1] * 5000\nn = 0\nfor i in range(20):\n    if x == [1] * 5000:\n        n += 1\nn"), "20");
}

TEST(Interpreter, ErrorsNameTheLine) {
  PyRunResult r = py_run_cells({"x = 1\ny = x / 0\n"});
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.error.find("line 2"), std::string::npos) << r.error;
  EXPECT_NE(r.error.find("ZeroDivisionError"), std::string::npos) << r.error;
  r = py_run_cells({"print(undefined_name)"});
  EXPECT_NE(r.error.find("NameError"), std::string::npos) << r.error;
  r = py_run_function("x = 1\n", "");
  EXPECT_FALSE(r.ok);
}

}  // namespace
}  // namespace chamber
