// A small, bounded Python-subset interpreter for model-generated solutions (TinyGSM functions and
// OpenMathInstruct-1 code cells). Nothing a program does can reach the host: there is no I/O but an
// in-memory print buffer, no imports but `math`, no attribute access but `math.*` and `list.append`,
// and no dunder names, `open`, `exec` or `eval` (each is a clean error).
//
// Supported: def (positional parameters, defaults) and return; assignment, tuple unpacking,
// subscript assignment, augmented assignment; int (64-bit, overflow is an error, never a silent
// wrap or a bignum) and float arithmetic with Python semantics for /, //, %, ** and round();
// comparisons (chained), and/or/not, conditional expressions; if/elif/else, for over range, lists,
// tuples and strings, while, break, continue, pass; list literals, indexing, slicing, list
// comprehensions; builtins print round int float str bool abs min max sum len range list pow;
// `import math` (also `import math as m`) with its numeric functions and constants.
//
// Hard limits (InterpreterLimits): source size, executed steps (statements, loop iterations, calls,
// plus the work inside them: expression nodes evaluated, elements compared, copied or iterated,
// string bytes scanned or copied, 16 units of it to a step), call depth, parse nesting depth,
// element count of one list and of all lists made during a run, string size, printed output.
// Exceeding one is an error; the cost of any run is bounded by the limits whatever the input
// (100,000 steps take well under a second). Errors carry the source line.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace chamber {

struct InterpreterLimits {
  int64_t max_source_bytes = 64 * 1024;
  int64_t max_steps = 100'000;
  int max_call_depth = 40;
  int max_nesting = 60;            // brackets, operators and blocks inside each other
  int64_t max_list_elements = 100'000;
  int64_t max_total_elements = 1'000'000;
  int64_t max_string_bytes = 16 * 1024;
  int64_t max_output_bytes = 8 * 1024;
};

struct PyRunResult {
  bool ok = false;
  std::string error;       // "line 3: ZeroDivisionError: division by zero" when !ok
  bool has_value = false;  // a return value / last expression that is not None
  std::string value;       // Python's repr-like text of that value ("18", "2.5", "[1, 2]")
  std::string output;      // everything print() wrote
};

// Runs `source` as a module, then calls the function `function_name` with no arguments (empty
// name: the first function the module defines). value = its return value.
PyRunResult py_run_function(std::string_view source, std::string_view function_name,
                            const InterpreterLimits& limits = {});

// Runs code cells one after another in one shared namespace, like a notebook. value = the value of
// the last cell's final statement when that is an expression other than None.
PyRunResult py_run_cells(const std::vector<std::string_view>& cells, const InterpreterLimits& limits = {});

}  // namespace chamber
