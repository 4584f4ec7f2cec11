// Problem generation (contract in mathworld.h). A problem is drawn from an Rng seeded by
// (seed, split, index, attempt); draws whose content hash falls outside the split's buckets are
// rejected, which keeps the splits disjoint without any list of used problems.
#include "data/mathworld.h"

#include <algorithm>

#include "data/mathworld_templates.h"
#include "util/util.h"

namespace chamber {
using namespace mathworld;

namespace {

struct SplitInfo {
  const char* name;
  int bucket_lo, bucket_hi;
  int min_ops, max_ops;
  double large_prob;   // chance that a problem uses the large number ranges
};
const SplitInfo kSplits[] = {
    {"train", 0, 13, 1, 4, 0.2}, {"rl", 14, 16, 1, 4, 0.2}, {"test", 17, 19, 1, 4, 0.2},
    {"easy", 14, 16, 1, 3, 0.0}, {"hard", 17, 19, 4, 8, 1.0}, {"longer", 17, 19, 4, 8, 0.0},
};
constexpr int kBuckets = 20;
constexpr int64_t kMaxValue = 10'000'000;

struct Person { const char* name; bool female; };
const Person kPeople[] = {{"Mia", true},  {"Leo", false}, {"Ava", true},   {"Sam", false}, {"Zoe", true},
                          {"Ben", false}, {"Lily", true}, {"Max", false},  {"Emma", true}, {"Noah", false},
                          {"Ella", true}, {"Omar", false}, {"Nina", true}, {"Ravi", false}, {"Sara", true},
                          {"Tom", false}, {"Ana", true},  {"Ken", false},  {"Ivy", true},  {"Dan", false}};
const char* const kRelatives[] = {"mother", "father", "aunt", "uncle", "cousin", "grandma", "grandpa", "teacher", "coach"};

uint64_t mix(uint64_t h, uint64_t v) {
  h ^= v + 0x9E3779B97F4A7C15ull + (h << 6) + (h >> 2);
  return h * 0xff51afd7ed558ccdull;
}
uint64_t mix_str(uint64_t h, std::string_view s) {
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return mix(h, s.size());
}

const SplitInfo& split_info(std::string_view split) {
  for (const SplitInfo& s : kSplits) if (split == s.name) return s;
  fail("math world: unknown split '", std::string(split), "' (known: ", kMathSplitNames, ")");
}

// Replaces {key} placeholders; unknown keys stay as they are (the {e1} slots are filled later).
std::string fill(std::string_view text, const std::vector<std::pair<std::string, std::string>>& vars) {
  std::string out;
  out.reserve(text.size() + 32);
  for (size_t i = 0; i < text.size(); i++) {
    if (text[i] == '{') {
      size_t close = text.find('}', i);
      if (close != std::string_view::npos) {
        std::string_view key = text.substr(i + 1, close - i - 1);
        bool done = false;
        for (const auto& kv : vars)
          if (kv.first == key) { out += kv.second; done = true; break; }
        if (done) { i = close; continue; }
      }
    }
    out.push_back(text[i]);
  }
  return out;
}

struct Draft {
  MathProblem p;
  const Theme* theme = nullptr;
  Rng* rng = nullptr;
  bool large = false;
  std::vector<std::pair<std::string, std::string>> vars;  // placeholder values
  std::vector<std::string> used_vars;
  std::vector<std::string> story;
  std::string question;
  int32_t x = -1;              // node holding the running value
  int relatives_used = 0;

  void set(const std::string& key, const std::string& value) {
    for (auto& kv : vars) if (kv.first == key) { kv.second = value; return; }
    vars.emplace_back(key, value);
  }
  std::string unique_var(const std::string& base) {
    std::string v = base;
    for (int k = 2; std::find(used_vars.begin(), used_vars.end(), v) != used_vars.end(); k++) v = base + "_" + std::to_string(k);
    used_vars.push_back(v);
    return v;
  }
  int32_t leaf(int64_t value, const std::string& var) {
    MathNode n;
    n.value = value;
    n.var = var;
    p.nodes.push_back(n);
    return (int32_t)p.nodes.size() - 1;
  }
  // An operation node, or -1 when the result leaves the allowed range (negative, inexact, huge).
  int32_t op(char o, int32_t l, int32_t r) {
    int64_t a = p.nodes[l].value, b = p.nodes[r].value, v = 0;
    switch (o) {
      case '+': v = a + b; break;
      case '-': v = a - b; if (v <= 0) return -1; break;
      case '*': if (a != 0 && b > kMaxValue / a) return -1; v = a * b; break;
      case '/': if (b == 0 || a % b != 0) return -1; v = a / b; break;
    }
    if (v < 0 || v > kMaxValue) return -1;
    MathNode n;
    n.op = o, n.left = l, n.right = r, n.value = v;
    p.nodes.push_back(n);
    return (int32_t)p.nodes.size() - 1;
  }

  // Draws an argument value; false when the spec cannot be met for the current x.
  bool draw_arg(const ArgSpec& s, int64_t xv, int64_t* out) {
    int lo = large ? s.large_lo : s.small_lo, hi = large ? s.large_hi : s.small_hi;
    switch (s.kind) {
      case Arg::Num: *out = lo + (int64_t)rng->below(hi - lo + 1); return true;
      case Arg::Const: *out = lo; return true;
      case Arg::Divisor: {
        std::vector<int64_t> ds;
        for (int64_t d = lo; d <= hi && d * 2 <= xv; d++) if (xv % d == 0) ds.push_back(d);
        if (ds.empty()) return false;
        *out = ds[rng->below(ds.size())];
        return true;
      }
      case Arg::Percent: {
        std::vector<int64_t> ps;
        for (int64_t q : {10, 20, 25, 50, 75}) if (xv * q % 100 == 0) ps.push_back(q);
        if (ps.empty()) return false;
        *out = ps[rng->below(ps.size())];
        return true;
      }
      case Arg::AboveX: {
        int64_t step = xv < 100 ? 10 : (xv < 1000 ? 50 : 100);
        *out = (xv / step + 1 + (int64_t)rng->below(3)) * step;
        return true;
      }
    }
    return false;
  }

  // Applies one clause to the draft; false (draft unchanged) when its numbers do not work out.
  bool apply(const Clause& c) {
    size_t mark_nodes = p.nodes.size(), mark_vars = used_vars.size();
    int64_t xv = x >= 0 ? p.nodes[x].value : 0;
    int n_args = form_args(c.form);
    int64_t vals[3] = {0, 0, 0};
    std::string names[3];
    int32_t leaves[3] = {-1, -1, -1};
    auto undo = [&] {
      p.nodes.resize(mark_nodes);
      used_vars.resize(mark_vars);
      return false;
    };
    for (int k = 0; k < n_args; k++) {
      if (!draw_arg(c.args[k], xv, &vals[k])) return undo();
      bool literal = c.args[k].kind == Arg::Const;
      std::string base = fill(c.args[k].var, vars);
      // A start's single argument *is* the running value and shares its variable.
      names[k] = literal ? "" : (c.form == Form::A ? base : unique_var(base));
      leaves[k] = leaf(vals[k], names[k]);
    }
    std::vector<int32_t> ops;
    auto add = [&](char o, int32_t l, int32_t r) {
      int32_t n = op(o, l, r);
      if (n >= 0) ops.push_back(n);
      return n;
    };
    // Code for this clause: x is the running variable, a literal stands in for a Const argument.
    auto lit = [&](int k) { return names[k].empty() ? std::to_string(vals[k]) : names[k]; };
    std::string xs = p.steps.empty() ? "" : p.steps.back().state_var;
    std::string a = lit(0), b = n_args > 1 ? lit(1) : "", cc = n_args > 2 ? lit(2) : "";
    int32_t r = -1;
    std::string expr;
    switch (c.form) {
      case Form::A: r = leaves[0]; break;
      case Form::AB: r = add('*', leaves[0], leaves[1]); expr = a + " * " + b; break;
      case Form::ABC: {
        int32_t t = add('*', leaves[0], leaves[1]);
        r = t < 0 ? -1 : add('*', t, leaves[2]);
        expr = a + " * " + b + " * " + cc;
        break;
      }
      case Form::APlusB: r = add('+', leaves[0], leaves[1]); expr = a + " + " + b; break;
      case Form::XPlusA: r = add('+', x, leaves[0]); expr = xs + " + " + a; break;
      case Form::XMinusA: r = add('-', x, leaves[0]); expr = xs + " - " + a; break;
      case Form::XTimesA: r = add('*', x, leaves[0]); expr = xs + " * " + a; break;
      case Form::XDivA: r = add('/', x, leaves[0]); expr = xs + " / " + a; break;
      case Form::XPlusAB: case Form::XMinusAB: {
        int32_t t = add('*', leaves[0], leaves[1]);
        bool plus = c.form == Form::XPlusAB;
        r = t < 0 ? -1 : add(plus ? '+' : '-', x, t);
        expr = xs + (plus ? " + " : " - ") + a + " * " + b;
        break;
      }
      case Form::XMinusPct: case Form::XPlusPct: {
        int32_t hundred = leaf(100, "");
        int32_t t1 = add('*', x, leaves[0]);
        int32_t t2 = t1 < 0 ? -1 : add('/', t1, hundred);
        bool plus = c.form == Form::XPlusPct;
        r = t2 < 0 ? -1 : add(plus ? '+' : '-', x, t2);
        expr = xs + (plus ? " + " : " - ") + xs + " * " + a + " / 100";
        break;
      }
      case Form::AMinusX: r = add('-', leaves[0], x); expr = a + " - " + xs; break;
    }
    if (r < 0) return undo();
    // Text: arguments and a new subject become placeholders of this clause.
    set("a", std::to_string(vals[0]));
    set("b", std::to_string(vals[1]));
    set("c", std::to_string(vals[2]));
    if (c.new_subject) {
      std::string rel = fill("{N}'s ", vars) + kRelatives[relatives_used++ % (sizeof(kRelatives) / sizeof(*kRelatives))];
      set("S2", rel);
    }
    std::string sentence = fill(c.text, vars);
    MathStep st;
    st.sentence = fill(c.step, vars);
    st.op_nodes = ops;
    st.result_node = r;
    st.state_var = fill(theme->state_var, vars);
    st.expr = expr;
    for (int k = 0; k < n_args; k++) if (!names[k].empty() && c.form != Form::A) st.leaf_nodes.push_back(leaves[k]);
    if (c.form == Form::A) st.leaf_nodes.push_back(leaves[0]);
    p.steps.push_back(st);
    if (c.new_subject) set("S", fill("{S2}", vars));
    story.push_back(sentence);
    x = r;
    return true;
  }
};

bool draw(Draft& d, Rng& rng, int min_ops, int max_ops, double large_prob) {
  const auto& themes = math_themes();
  d.rng = &rng;
  d.theme = &themes[rng.below(themes.size())];
  const Theme& t = *d.theme;
  d.large = rng.uniform_double() < large_prob;
  const Person& who = kPeople[rng.below(std::size(kPeople))];
  const Person* fr = &kPeople[rng.below(std::size(kPeople))];
  while (fr == &who) fr = &kPeople[rng.below(std::size(kPeople))];
  std::string noun = t.nouns.empty() ? "" : t.nouns[rng.below(t.nouns.size())];
  d.set("N", who.name);
  d.set("S", who.name);
  d.set("P", who.female ? "She" : "He");
  d.set("p", who.female ? "she" : "he");
  d.set("o", who.female ? "her" : "him");
  d.set("s", who.female ? "her" : "his");
  d.set("F", fr->name);
  d.set("I", noun);
  d.set("V", noun);
  d.used_vars.push_back(fill(t.state_var, d.vars));

  int target = min_ops + (int)rng.below(max_ops - min_ops + 1);
  // Optional end clause (it sets the question); chosen first so the ops budget accounts for it.
  const Clause* end = nullptr;
  int end_index = -1;
  if (!t.ends.empty() && rng.uniform_double() < 0.35) {
    end_index = (int)rng.below(t.ends.size());
    end = &t.ends[end_index];
    if (form_ops(end->form) >= target) end = nullptr;  // leave room for a start
  }
  int budget = target - (end ? form_ops(end->form) : 0);
  std::vector<int> starts;
  for (int i = 0; i < (int)t.starts.size(); i++) if (form_ops(t.starts[i].form) <= budget) starts.push_back(i);
  if (starts.empty()) return false;
  int si = starts[rng.below(starts.size())];
  if (!d.apply(t.starts[si])) return false;
  budget -= form_ops(t.starts[si].form);
  int failures = 0;
  std::vector<bool> used(t.middles.size(), false);
  while (budget > 0) {
    // Fitting clauses, preferring ones not told yet ("52 cups are broken" twice reads badly).
    std::vector<int> fit, fresh;
    for (int i = 0; i < (int)t.middles.size(); i++)
      if (form_ops(t.middles[i].form) <= budget) {
        fit.push_back(i);
        if (!used[i]) fresh.push_back(i);
      }
    if (fit.empty()) return false;
    const std::vector<int>& pool = fresh.empty() ? fit : fresh;
    int mi = pool[rng.below(pool.size())];
    if (d.apply(t.middles[mi])) {
      budget -= form_ops(t.middles[mi].form);
      used[mi] = true;
    } else if (++failures > 30) {
      return false;
    }
  }
  if (end) {
    bool ok = false;
    for (int tries = 0; tries < 10 && !ok; tries++) ok = d.apply(*end);
    if (!ok) return false;
    d.question = d.story.back();
    d.story.pop_back();
  } else {
    d.question = fill(t.question, d.vars);
  }
  return true;
}

}  // namespace

bool math_style_known(std::string_view style) {
  for (const char* s : kMathStyles) if (style == s) return true;
  return style == "tinygsm_short" || style == "omi2_steps";
}

bool math_split_known(std::string_view split) {
  for (const SplitInfo& s : kSplits) if (split == s.name) return true;
  return false;
}

MathProblem mathworld_problem(std::string_view split, int64_t index, uint64_t seed, int min_ops, int max_ops) {
  const SplitInfo& info = split_info(split);
  if (min_ops == 0 && max_ops == 0) min_ops = info.min_ops, max_ops = info.max_ops;
  if (min_ops < 1 || max_ops > 8 || min_ops > max_ops)
    fail("math world: ops range [", min_ops, ", ", max_ops, "] must lie within 1..8 with min <= max");
  uint64_t base = mix(mix(mix_str(mix(0, seed), split), (uint64_t)index), (uint64_t)(min_ops * 16 + max_ops));
  for (uint64_t attempt = 0; attempt < 10000; attempt++) {
    Rng rng(mix(base, attempt));
    Draft d;
    if (!draw(d, rng, min_ops, max_ops, info.large_prob)) continue;
    // Identity = the question text: two draws that read the same are the same problem, whatever
    // else differed (an unused friend's name, the number range it came from).
    std::string story;
    for (const std::string& s : d.story) story += (story.empty() ? "" : " ") + s;
    std::string question = story + " " + d.question;
    uint64_t id = mix_str(0x6d617468ull, question);
    int bucket = (int)(id % kBuckets);
    if (bucket < info.bucket_lo || bucket > info.bucket_hi) continue;
    MathProblem& p = d.p;
    p.split = std::string(split);
    p.index = index;
    p.id = id;
    p.theme = d.theme->name;
    p.large_numbers = d.large;
    p.root = d.x;
    p.answer = p.nodes[d.x].value;
    p.ops = 0;
    for (const MathNode& n : p.nodes) p.ops += n.op != 0;
    p.story = std::move(story);
    p.question = std::move(question);
    p.prompt = p.question + "\n\n";
    return std::move(d.p);
  }
  fail("math world: could not draw a problem for split '", std::string(split), "' (ops ", min_ops, "..", max_ops, ")");
}

std::vector<MathProblem> mathworld_generate(std::string_view split, int64_t count, uint64_t seed, int min_ops, int max_ops) {
  if (count < 0 || count > kMaxMathProblems)
    fail("math world: ", count, " problems asked of split '", std::string(split), "'; at most ", kMaxMathProblems);
  std::vector<MathProblem> out;
  out.reserve(count);
  for (int64_t i = 0; i < count; i++) out.push_back(mathworld_problem(split, i, seed, min_ops, max_ops));
  return out;
}

}  // namespace chamber
