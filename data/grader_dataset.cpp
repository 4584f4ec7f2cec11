// Dataset-level grading for `chamber grade` (contract in grader.h): gold answers from a dataset
// spec, a predictions file graded line by line, accuracy, unbiased pass@k and per-style shares.
#include <algorithm>
#include <cstdlib>
#include <map>

#include "data/grader.h"
#include "data/importers.h"
#include "data/interpreter.h"
#include "data/mathworld.h"
#include "util/util.h"

namespace chamber {

std::vector<GoldItem> load_gold_dataset(const std::string& spec) {
  size_t colon = spec.find(':');
  if (colon == std::string::npos)
    fail("--dataset '", spec, "': expected KIND:PATH (gsm8k, math, tinygsm, omi1, omi2) or synthetic:SPLIT[:COUNT[:SEED]]");
  std::string kind = spec.substr(0, colon), rest = spec.substr(colon + 1);
  std::vector<GoldItem> out;
  if (kind == "synthetic") {
    std::vector<std::string> parts;
    size_t pos = 0;
    while (true) {
      size_t c = rest.find(':', pos);
      parts.push_back(rest.substr(pos, c == std::string::npos ? std::string::npos : c - pos));
      if (c == std::string::npos) break;
      pos = c + 1;
    }
    if (parts.size() > 3 || !math_split_known(parts[0]))
      fail("--dataset '", spec, "': expected synthetic:SPLIT[:COUNT[:SEED]] with SPLIT one of ", kMathSplitNames);
    auto number = [&](const std::string& s, const char* what) {
      char* end = nullptr;
      long long v = std::strtoll(s.c_str(), &end, 10);
      if (s.empty() || *end != 0 || v < 0) fail("--dataset '", spec, "': ", what, " must be a non-negative integer");
      return (int64_t)v;
    };
    int64_t count = parts.size() > 1 ? number(parts[1], "COUNT") : 1000;
    if (count > kMaxGoldProblems)
      fail("--dataset '", spec, "': COUNT must be at most ", kMaxGoldProblems, " (problems generated and kept in memory)");
    uint64_t seed = parts.size() > 2 ? (uint64_t)number(parts[2], "SEED") : 1;
    for (int64_t i = 0; i < count; i++) {   // one problem at a time: only question and answer are kept
      MathProblem p = mathworld_problem(parts[0], i, seed);
      out.push_back({p.question, mathworld_answer_text(p)});
    }
    return out;
  }
  if (!importer_kind_known(kind) || kind == "text")
    fail("--dataset '", spec, "': unknown kind '", kind, "' (gsm8k, math, tinygsm, omi1, omi2, synthetic)");
  std::vector<ImportedRecord> records = import_jsonl(kind, rest);
  for (size_t i = 0; i < records.size(); i++) {
    ImportedRecord& r = records[i];
    if (kind == "tinygsm") {
      PyRunResult run = py_run_function(r.solution, "");
      if (!run.ok || !run.has_value)
        fail(rest, ":", i + 1, ": the reference code does not run: ", run.ok ? "no return value" : run.error);
      r.gold_answer = run.value;
    }
    if (r.gold_answer.empty()) fail(rest, ":", i + 1, ": no gold answer found");
    out.push_back({r.question, r.gold_answer});
  }
  return out;
}

double pass_at_k(int n, int c, int k) {
  if (k <= 0 || k > n) return 0.0;
  if (n - c < k) return 1.0;
  // C(n-c, k) / C(n, k) as a product, which stays in range for any n.
  double ratio = 1.0;
  for (int i = 0; i < k; i++) ratio *= (double)(n - c - i) / (double)(n - i);
  return 1.0 - ratio;
}

nlohmann::json grade_predictions(const std::vector<GoldItem>& gold, const std::string& predictions_path) {
  std::string text = read_file(predictions_path);
  nlohmann::json malformed = nlohmann::json::array();
  std::vector<int> samples(gold.size(), 0), correct(gold.size(), 0);
  std::map<std::string, std::pair<int64_t, int64_t>> styles;  // label -> (count, correct)
  int64_t lines = 0, graded = 0, n_correct = 0;
  for_each_nonblank_line(text, [&](std::string_view line, int line_no) {
    lines++;
    auto bad = [&](const std::string& why) { malformed.push_back({{"line", line_no}, {"error", why}}); };
    nlohmann::json row = nlohmann::json::parse(line, nullptr, false);
    if (row.is_discarded() || !row.is_object()) return bad("not a JSON object");
    if (!row.contains("id") || !row["id"].is_number_integer()) return bad("missing integer field 'id'");
    if (!row.contains("completion") || !row["completion"].is_string())
      return bad("missing string field 'completion'");
    int64_t id = row["id"].get<int64_t>();
    if (id < 0 || id >= (int64_t)gold.size())
      return bad("id " + std::to_string(id) + " is outside the dataset (0.." +
                 std::to_string((int64_t)gold.size() - 1) + ")");
    const std::string& completion = row["completion"].get_ref<const std::string&>();
    GradeResult g = grade_completion(completion, gold[id].answer);
    graded++;
    samples[id]++;
    correct[id] += g.correct;
    n_correct += g.correct;
    auto& s = styles[g.label];
    s.first++;
    s.second += g.correct;
  });
  nlohmann::json out;
  out["lines"] = lines;
  out["graded"] = graded;
  out["malformed"] = malformed;
  out["accuracy"] = graded ? (double)n_correct / (double)graded : 0.0;
  int min_n = 0;
  int ids = 0;
  for (int n : samples)
    if (n > 0) min_n = ids++ == 0 ? n : std::min(min_n, n);
  out["ids"] = ids;
  nlohmann::json pk = nlohmann::json::object();
  std::vector<int> ks;
  for (int k = 1; k <= min_n; k *= 2) ks.push_back(k);
  if (min_n > 0 && ks.back() != min_n) ks.push_back(min_n);
  for (int k : ks) {
    double sum = 0;
    for (size_t i = 0; i < gold.size(); i++)
      if (samples[i] > 0) sum += pass_at_k(samples[i], correct[i], k);
    pk[std::to_string(k)] = sum / ids;
  }
  out["pass@k"] = pk;
  nlohmann::json st = nlohmann::json::object();
  for (const char* label : {"tinygsm", "omi1", "text"}) {
    auto it = styles.find(label);
    int64_t count = it == styles.end() ? 0 : it->second.first, ok = it == styles.end() ? 0 : it->second.second;
    st[label] = {{"count", count},
                 {"share", graded ? (double)count / (double)graded : 0.0},
                 {"accuracy", count ? (double)ok / (double)count : 0.0}};
  }
  out["styles"] = st;
  return out;
}

}  // namespace chamber
