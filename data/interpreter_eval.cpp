// Evaluator: walks the node array. Statements return a Flow code so break/continue/return unwind
// without exceptions; PyError is the only exception and ends the run. Scoping is simplified to
// "local frame, then globals, then builtins": a function sees module variables, and assigns only
// to its own frame (Python's UnboundLocalError corner is not modelled).
#include "data/interpreter_internal.h"

namespace chamber::py {
namespace {

enum class Flow { Normal, Break, Continue, Return };

struct Exec {
  Interp& in;
  const Program& p;
  Value ret;

  struct DepthGuard {
    Interp& in;
    DepthGuard(Interp& i, int line) : in(i) {
      if (++in.eval_depth > Interp::kMaxEvalDepth) raise(line, "RecursionError: expression too deeply nested");
    }
    ~DepthGuard() { in.eval_depth--; }
  };

  const int32_t* run(int32_t list) const { return p.lists.data() + list; }

  Value lookup(int32_t name, Frame& f, int line) {
    const Value& local = f.vars[name];
    if (local.t != V::Undef) return local;
    const Value& global = in.globals.vars[name];
    if (global.t != V::Undef) return global;
    int b = in.builtin_of_name[name];
    if (b >= 0) return Value::ref(V::Builtin, 0, b);
    raise(line, "NameError: name '" + std::string(p.names[name]) + "' is not defined");
  }

  int64_t index_of(const Value& idx, int64_t size, int line) {
    if (idx.t != V::Int && idx.t != V::Bool) raise(line, std::string("TypeError: indices must be integers, not ") + type_name(idx.t));
    int64_t i = idx.i;
    if (i < 0) i += size;
    if (i < 0 || i >= size) raise(line, "IndexError: index out of range");
    return i;
  }

  Value subscript(const Value& obj, int32_t index_node, Frame& f, int line) {
    const Node& ix = p.nodes[index_node];
    if (ix.kind == N::Slice) {
      std::vector<Value> items;
      iterate_items(in, obj, line, items);
      int64_t n = (int64_t)items.size();
      // Python's rules: absent bounds run to the end in the step's direction; given ones count
      // from the end when negative and are clamped into range.
      auto bound = [&](int32_t e, bool* given) -> int64_t {
        *given = false;
        if (e < 0) return 0;
        Value v = eval(e, f);
        if (v.t == V::None) return 0;
        if (v.t != V::Int) raise(line, "TypeError: slice indices must be integers");
        *given = true;
        return v.i;
      };
      bool has_lo, has_hi, has_step;
      int64_t lo = bound(ix.a, &has_lo), hi = bound(ix.b, &has_hi), step = bound(ix.c, &has_step);
      if (!has_step) step = 1;
      if (step == 0) raise(line, "ValueError: slice step cannot be zero");
      auto adjust = [&](int64_t v) {
        if (v < 0) v += n;
        int64_t min = step > 0 ? 0 : -1, max = step > 0 ? n : n - 1;
        return v < min ? min : (v > max ? max : v);
      };
      lo = has_lo ? adjust(lo) : (step > 0 ? 0 : n - 1);
      hi = has_hi ? adjust(hi) : (step > 0 ? n : -1);
      std::vector<Value> out;
      for (int64_t i = lo; step > 0 ? i < hi : i > hi;) {
        out.push_back(items[i]);
        if (__builtin_add_overflow(i, step, &i)) break;
      }
      if (obj.t == V::Str) {
        std::string s;
        for (const Value& c : out) s += in.strs[c.i];
        return in.new_str(std::move(s), line);
      }
      return in.new_list(std::move(out), line, obj.t == V::Tuple ? V::Tuple : V::List);
    }
    Value idx = eval(index_node, f);
    switch (obj.t) {
      case V::List: case V::Tuple: {
        const auto& items = in.lists[obj.i];
        return items[index_of(idx, (int64_t)items.size(), line)];
      }
      case V::Str: {
        const std::string& s = in.strs[obj.i];
        return in.new_str(std::string(1, s[index_of(idx, (int64_t)s.size(), line)]), line);
      }
      case V::Range: {
        const RangeObj& r = in.ranges[obj.i];
        return Value::integer(r.start + index_of(idx, range_length(r), line) * r.step);
      }
      default: raise(line, std::string("TypeError: '") + type_name(obj.t) + "' object is not subscriptable");
    }
  }

  void assign(int32_t target, const Value& v, Frame& f) {
    const Node& t = p.nodes[target];
    switch (t.kind) {
      case N::Name: f.vars[t.name] = v; return;
      case N::Subscript: {
        Value obj = eval(t.a, f);
        if (obj.t != V::List) raise(t.line, std::string("TypeError: '") + type_name(obj.t) + "' object does not support item assignment");
        if (p.nodes[t.b].kind == N::Slice) raise(t.line, "slice assignment is not supported");
        Value idx = eval(t.b, f);
        auto& items = in.lists[obj.i];
        items[index_of(idx, (int64_t)items.size(), t.line)] = v;
        return;
      }
      case N::TupleLit: case N::ListLit: {
        std::vector<Value> items;
        iterate_items(in, v, t.line, items);
        if ((int64_t)items.size() != t.count)
          raise(t.line, "ValueError: cannot unpack " + std::to_string(items.size()) + " values into " + std::to_string(t.count));
        for (int i = 0; i < t.count; i++) assign(run(t.list)[i], items[i], f);
        return;
      }
      default: raise(t.line, "SyntaxError: cannot assign to this expression");
    }
  }

  Value eval(int32_t e, Frame& f) {
    const Node& n = p.nodes[e];
    DepthGuard guard(in, n.line);
    // One unit per node: a statement's expression can hold thousands of nodes (max(1, 1, ...),
    // a wide sum), and each evaluation of it must pay for them.
    in.charge_work(1, n.line);
    switch (n.kind) {
      case N::Int: return Value::integer(n.ival);
      case N::Float: return Value::real(n.fval);
      case N::Str: return in.new_str(p.strings[n.ival], n.line);
      case N::True: return Value::boolean(true);
      case N::False: return Value::boolean(false);
      case N::None: return Value::none();
      case N::Name: return lookup(n.name, f, n.line);
      case N::BinOp: {
        Value a = eval(n.a, f);
        Value b = eval(n.b, f);
        return binary_op(in, n.op, a, b, n.line);
      }
      case N::UnaryMinus: case N::UnaryPlus: {
        Value a = eval(n.a, f);
        if (a.t == V::Bool) a.t = V::Int;
        if (n.kind == N::UnaryPlus && (a.t == V::Int || a.t == V::Float)) return a;
        if (a.t == V::Int) {
          if (a.i == INT64_MIN) raise(n.line, "OverflowError: integer too large");
          return Value::integer(-a.i);
        }
        if (a.t == V::Float) return Value::real(-a.f);
        raise(n.line, std::string("TypeError: bad operand type for unary -: '") + type_name(a.t) + "'");
      }
      case N::Not: return Value::boolean(!truthy(in, eval(n.a, f)));
      case N::And: { Value a = eval(n.a, f); return truthy(in, a) ? eval(n.b, f) : a; }
      case N::Or: { Value a = eval(n.a, f); return truthy(in, a) ? a : eval(n.b, f); }
      case N::IfExp: return truthy(in, eval(n.a, f)) ? eval(n.b, f) : eval(n.c, f);
      case N::Compare: {
        const int32_t* r = run(n.list);
        Value left = eval(r[0], f);
        for (int i = 1; i + 1 < n.count; i += 2) {
          Value right = eval(r[i + 1], f);
          if (!compare_op(in, r[i], left, right, n.line)) return Value::boolean(false);
          left = right;
        }
        return Value::boolean(true);
      }
      case N::Call: {
        Value callee = eval(n.a, f);
        std::vector<Value> args(n.count);
        for (int i = 0; i < n.count; i++) args[i] = eval(run(n.list)[i], f);
        return call_value(in, callee, args, n.line);
      }
      case N::Attribute: {
        Value obj = eval(n.a, f);
        std::string_view attr = p.names[n.name];
        if (obj.t == V::Module) {
          int fn = math_function_by_name(attr);
          if (fn >= 0) return Value::ref(V::Builtin, 0, fn);
          double c;
          if (math_constant(attr, &c)) return Value::real(c);
          raise(n.line, "AttributeError: module 'math' has no attribute '" + std::string(attr) + "'");
        }
        if (obj.t == V::List && attr == "append") return Value::ref(V::Method, obj.i, 0);
        raise(n.line, "AttributeError: attribute access is not allowed ('" + std::string(attr) + "' on " + type_name(obj.t) + ")");
      }
      case N::Subscript: return subscript(eval(n.a, f), n.b, f, n.line);
      case N::ListLit: case N::TupleLit: {
        std::vector<Value> items(n.count);
        for (int i = 0; i < n.count; i++) items[i] = eval(run(n.list)[i], f);
        return in.new_list(std::move(items), n.line, n.kind == N::ListLit ? V::List : V::Tuple);
      }
      case N::ListComp: {
        std::vector<Value> source, out;
        iterate_items(in, eval(n.c, f), n.line, source);
        for (const Value& item : source) {
          in.step(n.line);
          assign(n.b, item, f);
          bool keep = true;
          for (int i = 0; i < n.count && keep; i++) keep = truthy(in, eval(run(n.list)[i], f));
          if (keep) {
            out.push_back(eval(n.a, f));
            in.charge_elements(1, n.line);
          }
        }
        return in.new_list(std::move(out), n.line);
      }
      case N::Slice: raise(n.line, "SyntaxError: slice outside of a subscript");
      default: raise(n.line, "SyntaxError: statement used as an expression");
    }
  }

  Flow block(int32_t list, int32_t count, Frame& f) {
    for (int i = 0; i < count; i++) {
      Flow fl = stmt(run(list)[i], f);
      if (fl != Flow::Normal) return fl;
    }
    return Flow::Normal;
  }

  Flow stmt(int32_t s, Frame& f) {
    const Node& n = p.nodes[s];
    in.step(n.line);
    switch (n.kind) {
      case N::ExprStmt: in.last_value = eval(n.a, f); in.last_expr_node = s; return Flow::Normal;
      case N::Assign: {
        Value v = eval(n.b, f);
        for (int i = 0; i < n.count; i++) assign(run(n.list)[i], v, f);
        return Flow::Normal;
      }
      case N::AnnAssign:
        if (n.b >= 0) assign(n.a, eval(n.b, f), f);
        return Flow::Normal;
      case N::AugAssign: {
        Value cur = eval(n.a, f);
        Value v = eval(n.b, f);
        // `xs += [..]` extends the list in place, as in Python.
        if (n.op == kPlus && cur.t == V::List && v.t == V::List) {
          std::vector<Value> extra = in.lists[v.i];
          in.charge_work((int64_t)extra.size(), n.line);
          in.charge_elements((int64_t)extra.size(), n.line);
          auto& items = in.lists[cur.i];
          if ((int64_t)(items.size() + extra.size()) > in.lim.max_list_elements) raise(n.line, "MemoryError: list too long");
          items.insert(items.end(), extra.begin(), extra.end());
          return Flow::Normal;
        }
        Value r = binary_op(in, n.op, cur, v, n.line);
        assign(n.a, r, f);
        return Flow::Normal;
      }
      case N::If:
        if (truthy(in, eval(n.a, f))) return block(n.list, n.count, f);
        return block(n.list2, n.count2, f);
      case N::While:
        while (truthy(in, eval(n.a, f))) {
          Flow fl = block(n.list, n.count, f);
          if (fl == Flow::Break) break;
          if (fl == Flow::Return) return fl;
          in.step(n.line);
        }
        return Flow::Normal;
      case N::For: {
        Value it = eval(n.b, f);
        if (it.t == V::Range) {  // no list is built for range()
          RangeObj r = in.ranges[it.i];
          int64_t count = range_length(r);
          for (int64_t k = 0; k < count; k++) {
            in.step(n.line);
            assign(n.a, Value::integer(r.start + k * r.step), f);
            Flow fl = block(n.list, n.count, f);
            if (fl == Flow::Break) break;
            if (fl == Flow::Return) return fl;
          }
          return Flow::Normal;
        }
        std::vector<Value> items;
        if (it.t == V::List) {
          // Index by position so appends during the loop are seen, as in Python (steps bound it).
          for (size_t k = 0; k < in.lists[it.i].size(); k++) {
            in.step(n.line);
            assign(n.a, in.lists[it.i][k], f);
            Flow fl = block(n.list, n.count, f);
            if (fl == Flow::Break) break;
            if (fl == Flow::Return) return fl;
          }
          return Flow::Normal;
        }
        iterate_items(in, it, n.line, items);
        for (const Value& item : items) {
          in.step(n.line);
          assign(n.a, item, f);
          Flow fl = block(n.list, n.count, f);
          if (fl == Flow::Break) break;
          if (fl == Flow::Return) return fl;
        }
        return Flow::Normal;
      }
      case N::Break: return Flow::Break;
      case N::Continue: return Flow::Continue;
      case N::Pass: return Flow::Normal;
      case N::Return:
        ret = n.a >= 0 ? eval(n.a, f) : Value::none();
        return Flow::Return;
      case N::Def: f.vars[n.name] = Value::ref(V::Func, 0, s); return Flow::Normal;
      case N::Import: f.vars[n.name] = Value::ref(V::Module, 0); return Flow::Normal;
      default: raise(n.line, "SyntaxError: expression used as a statement");
    }
  }
};

}  // namespace

Value call_value(Interp& in, const Value& callee, std::vector<Value>& args, int line) {
  in.step(line);
  switch (callee.t) {
    case V::Builtin: return call_builtin(in, callee.aux, args, line);
    case V::Method: {
      if (args.size() != 1) raise(line, "TypeError: append() takes exactly one argument");
      auto& items = in.lists[callee.i];
      if ((int64_t)items.size() >= in.lim.max_list_elements) raise(line, "MemoryError: list too long");
      in.charge_elements(1, line);
      items.push_back(args[0]);
      return Value::none();
    }
    case V::Func: {
      const Program& p = *in.prog;
      const Node& def = p.nodes[callee.aux];
      const int32_t* params = p.lists.data() + def.list2;
      int n_params = def.count2 / 2;
      if ((int)args.size() > n_params) raise(line, "TypeError: too many arguments to " + std::string(p.names[def.name]) + "()");
      if (in.depth + 1 > in.lim.max_call_depth) raise(line, "RecursionError: maximum call depth exceeded");
      Exec ex{in, p, Value::none()};
      Frame frame;
      in.charge_work((int64_t)p.names.size(), line);  // a frame has a slot for every name in the program
      frame.vars.assign(p.names.size(), Value::ref(V::Undef, 0));
      for (int k = 0; k < n_params; k++) {
        if (k < (int)args.size()) frame.vars[params[2 * k]] = args[k];
        else if (params[2 * k + 1] >= 0) frame.vars[params[2 * k]] = ex.eval(params[2 * k + 1], in.globals);
        else raise(line, "TypeError: missing argument '" + std::string(p.names[params[2 * k]]) + "'");
      }
      in.depth++;
      Flow fl = ex.block(def.list, def.count, frame);
      in.depth--;
      return fl == Flow::Return ? ex.ret : Value::none();
    }
    default: raise(line, std::string("TypeError: '") + type_name(callee.t) + "' object is not callable");
  }
}

void exec_module(Interp& in, const std::vector<int32_t>& body, bool capture_last) {
  Exec ex{in, *in.prog, Value::none()};
  for (size_t i = 0; i < body.size(); i++) {
    in.last_expr_node = -1;
    Flow fl = ex.stmt(body[i], in.globals);
    if (fl == Flow::Return) raise(in.prog->nodes[body[i]].line, "SyntaxError: 'return' outside function");
    if (fl != Flow::Normal) raise(in.prog->nodes[body[i]].line, "SyntaxError: 'break' or 'continue' outside loop");
  }
  // Only a final top-level expression statement counts (nested ones may have set the field).
  if (!capture_last || body.empty() || in.last_expr_node != body.back()) in.last_expr_node = -1;
}

}  // namespace chamber::py
