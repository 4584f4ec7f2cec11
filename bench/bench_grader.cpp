// Grading throughput per solution style: completions graded per second on one core, over the
// rendered solutions of 1,000 math-world problems (ops 1..8). The code styles include a full run
// of the interpreter (lex, parse, execute) per completion; the target for TinyGSM-style
// completions is >= 50,000 per second.
#include <benchmark/benchmark.h>

#include "data/grader.h"
#include "data/mathworld.h"

namespace {

struct Corpus {
  std::vector<std::string> completions;
  std::vector<std::string> gold;
};

Corpus make_corpus(const char* style) {
  Corpus c;
  for (int i = 0; i < 1000; i++) {
    int ops = 1 + i % 8;
    chamber::MathProblem p = chamber::mathworld_problem("test", i, 1, ops, ops);
    c.completions.push_back(chamber::mathworld_solution(p, style));
    c.gold.push_back(chamber::mathworld_answer_text(p));
  }
  return c;
}

void BM_Grade(benchmark::State& state, const char* style) {
  Corpus c = make_corpus(style);
  size_t i = 0, bytes = 0;
  int64_t correct = 0;
  for (auto _ : state) {
    chamber::GradeResult g = chamber::grade_completion(c.completions[i], c.gold[i]);
    correct += g.correct;
    bytes += c.completions[i].size();
    benchmark::DoNotOptimize(g);
    if (++i == c.completions.size()) i = 0;
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed((int64_t)bytes);
  state.counters["accuracy"] = benchmark::Counter((double)correct / (double)state.iterations());
}

BENCHMARK_CAPTURE(BM_Grade, tinygsm, "tinygsm");
BENCHMARK_CAPTURE(BM_Grade, omi1, "omi1");
BENCHMARK_CAPTURE(BM_Grade, omi2, "omi2");
BENCHMARK_CAPTURE(BM_Grade, gsm8k, "gsm8k");
BENCHMARK_CAPTURE(BM_Grade, mathtext, "mathtext");

}  // namespace

BENCHMARK_MAIN();
