// Public entry points of the interpreter (contract in interpreter.h): set up a run, turn PyError
// into a result, and pick the value the grader wants (a function's return value, or a notebook's
// last expression).
#include "data/interpreter.h"

#include "data/interpreter_internal.h"

namespace chamber {
using namespace py;

static void bind_new_names(Interp& in, const Program& prog) {
  for (size_t k = in.builtin_of_name.size(); k < prog.names.size(); k++)
    in.builtin_of_name.push_back(builtin_by_name(prog.names[k]));
  in.globals.vars.resize(prog.names.size(), Value::ref(V::Undef, 0));
}

static void fill_error(PyRunResult& r, const PyError& e) {
  r.ok = false;
  r.error = e.line > 0 ? "line " + std::to_string(e.line) + ": " + e.message : e.message;
}

static void set_value(PyRunResult& r, const Interp& in, const Value& v) {
  r.has_value = v.t != V::None && v.t != V::Undef;
  if (r.has_value) r.value = repr(in, v);
}

PyRunResult py_run_function(std::string_view source, std::string_view function_name, const InterpreterLimits& limits) {
  PyRunResult result;
  Program prog;
  Interp in;
  in.prog = &prog;
  in.lim = limits;
  try {
    std::vector<Token> toks = lex(source, prog, limits);
    parse(toks, prog, limits);
    bind_new_names(in, prog);
    exec_module(in, prog.body, false);
    int32_t fn = -1;
    if (function_name.empty()) {
      for (int32_t s : prog.body)
        if (prog.nodes[s].kind == N::Def) { fn = prog.nodes[s].name; break; }
      if (fn < 0) raise(0, "NameError: the code defines no function");
    } else {
      for (size_t k = 0; k < prog.names.size(); k++)
        if (prog.names[k] == function_name) fn = (int32_t)k;
      if (fn < 0 || in.globals.vars[fn].t != V::Func)
        raise(0, "NameError: function '" + std::string(function_name) + "' is not defined");
    }
    Value callee = in.globals.vars[fn];
    if (callee.t != V::Func) raise(0, "NameError: '" + std::string(prog.names[fn]) + "' is not a function");
    std::vector<Value> args;
    Value r = call_value(in, callee, args, prog.nodes[callee.aux].line);
    set_value(result, in, r);
    result.ok = true;
  } catch (const PyError& e) {
    fill_error(result, e);
  }
  result.output = std::move(in.output);
  return result;
}

PyRunResult py_run_cells(const std::vector<std::string_view>& cells, const InterpreterLimits& limits) {
  PyRunResult result;
  Program prog;
  Interp in;
  in.prog = &prog;
  in.lim = limits;
  try {
    int64_t total = 0;
    for (std::string_view c : cells) total += (int64_t)c.size();
    if (total > limits.max_source_bytes) raise(0, "source too long");
    for (size_t k = 0; k < cells.size(); k++) {
      prog.body.clear();
      std::vector<Token> toks = lex(cells[k], prog, limits);
      parse(toks, prog, limits);
      bind_new_names(in, prog);
      bool last = k + 1 == cells.size();
      exec_module(in, prog.body, last);
      if (last && in.last_expr_node >= 0) set_value(result, in, in.last_value);
    }
    result.ok = true;
  } catch (const PyError& e) {
    fill_error(result, e);
  }
  result.output = std::move(in.output);
  return result;
}

}  // namespace chamber
