// Per-problem metrics from generations.jsonl: see eval_problems.h.
#include "train/study/eval_problems.h"

#include <sstream>

#include <nlohmann/json.hpp>

#include "data/grader.h"
#include "train/eval.h"
#include "util/util.h"

namespace chamber {
namespace {

// One problem's generations.
struct ProblemGenerations {
  bool has_greedy = false, greedy_correct = false;
  std::string greedy_label;
  std::vector<std::string> answers, labels;   // per sample, by sample number
  std::vector<bool> correct;
};

// A problem in its set, in the order the generations file lists them.
struct SetGenerations {
  std::vector<ProblemGenerations> problems;
  std::map<std::string, size_t> index_of;     // problem id -> index
};

bool is_digits(const std::string& s) {
  return !s.empty() && s.size() <= 6 && s.find_first_not_of("0123456789") == std::string::npos;
}

// Numerator and denominator of metric `rest` ("pass@8", "styles_samples.omi1.share", ...) for
// one problem; false when `rest` is not a per-problem metric.
bool problem_metric(const ProblemGenerations& p, const std::string& rest, double& num, double& den) {
  const int n = (int)p.correct.size();
  int c = 0;
  for (bool ok : p.correct) c += ok;
  if (rest == "pass@1_greedy") {
    num = p.greedy_correct, den = p.has_greedy;
    return true;
  }
  if (rest == "sample_accuracy") {
    num = c, den = n;
    return true;
  }
  if (rest.rfind("pass@", 0) == 0 && is_digits(rest.substr(5))) {
    num = pass_at_k(n, c, std::stoi(rest.substr(5))), den = n > 0;
    return true;
  }
  if (rest.rfind("maj@", 0) == 0 && is_digits(rest.substr(4))) {
    size_t k = std::min((size_t)std::stoi(rest.substr(4)), p.answers.size());
    std::vector<std::string> answers(p.answers.begin(), p.answers.begin() + (long)k);
    std::vector<bool> ok(p.correct.begin(), p.correct.begin() + (long)k);
    num = majority_correct(answers, ok), den = n > 0;
    return true;
  }
  // styles_samples.STYLE.share / .accuracy, styles_greedy.STYLE.share / .accuracy
  for (const std::string which : {"styles_samples.", "styles_greedy."}) {
    if (rest.rfind(which, 0) != 0) continue;
    std::string tail = rest.substr(which.size());
    size_t dot = tail.rfind('.');
    if (dot == std::string::npos) return false;
    std::string style = tail.substr(0, dot), field = tail.substr(dot + 1);
    if (field != "share" && field != "accuracy") return false;
    int in_style = 0, right_in_style = 0, total = 0;
    if (which == "styles_greedy.") {
      if (p.has_greedy) total = 1, in_style = p.greedy_label == style, right_in_style = in_style && p.greedy_correct;
    } else {
      total = n;
      for (int i = 0; i < n; i++)
        if (p.labels[(size_t)i] == style) in_style++, right_in_style += p.correct[(size_t)i];
    }
    if (field == "share") num = in_style, den = total;
    else num = right_in_style, den = in_style;
    return true;
  }
  return false;
}

}  // namespace

std::map<std::string, PerProblem> read_eval_problems(const std::string& generations_path,
                                                     const std::map<std::string, double>& eval_flat) {
  std::map<std::string, PerProblem> out;
  if (eval_flat.empty() || !file_exists(generations_path)) return out;
  std::map<std::string, SetGenerations> sets;
  std::istringstream in(read_file(generations_path));
  std::string line;
  while (std::getline(in, line)) {
    auto g = nlohmann::json::parse(line, nullptr, false);
    if (!g.is_object() || !g.contains("set") || !g.contains("id") || !g.contains("sample") || !g.contains("correct"))
      continue;   // a torn line, or another program's generations: no per-problem results from it
    if (!g["set"].is_string() || !g["id"].is_string() || !g["sample"].is_number_integer() || !g["correct"].is_boolean())
      continue;
    SetGenerations& set = sets[g["set"].get<std::string>()];
    auto [it, added] = set.index_of.insert({g["id"].get<std::string>(), set.problems.size()});
    if (added) set.problems.emplace_back();
    ProblemGenerations& p = set.problems[it->second];
    std::string label = g.contains("label") && g["label"].is_string() ? g["label"].get<std::string>() : "";
    if (label.empty()) label = "text";
    std::string answer = g.contains("answer") && g["answer"].is_string() ? g["answer"].get<std::string>() : "";
    bool correct = g["correct"].get<bool>();
    int sample = g["sample"].get<int>();
    if (sample < 0) {
      p.has_greedy = true, p.greedy_correct = correct, p.greedy_label = label;
    } else if (sample < kMaxEvalSamples) {
      if ((size_t)sample >= p.correct.size()) {
        p.correct.resize((size_t)sample + 1, false);
        p.answers.resize((size_t)sample + 1);
        p.labels.resize((size_t)sample + 1, "text");
      }
      p.correct[(size_t)sample] = correct, p.answers[(size_t)sample] = answer, p.labels[(size_t)sample] = label;
    }
  }
  for (const auto& [key, value] : eval_flat)
    for (const auto& [set_name, set] : sets) {
      if (key.size() <= set_name.size() + 1 || key.compare(0, set_name.size() + 1, set_name + ".") != 0) continue;
      std::string rest = key.substr(set_name.size() + 1);
      PerProblem column;
      bool known = true;
      for (const ProblemGenerations& p : set.problems) {
        double num = 0, den = 0;
        if (!(known = problem_metric(p, rest, num, den))) break;
        column.numerator.push_back(num);
        column.denominator.push_back(den);
      }
      if (known && !column.numerator.empty()) out[key] = std::move(column);
      break;
    }
  return out;
}

}  // namespace chamber
