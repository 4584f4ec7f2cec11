// `chamber data ...` and `chamber grade`: build pretraining data from a data spec, look at math
// world documents, and grade a file of model generations.
//
//   chamber data build configs/data/tiny_mix.yaml [--out DIR]     tokenizer + shards + manifest
//   chamber data sample --style omi1 --split train --count 3      documents, blank-line separated
//   chamber data sample --split rl --count 5 --jsonl              {"id","prompt","answer"} lines
//   chamber grade --dataset gsm8k:../shared/data/gsm8k/test.jsonl --predictions preds.jsonl
#include <CLI/CLI.hpp>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>

#include "data/dataset.h"
#include "data/grader.h"
#include "data/mathworld.h"
#include "util/util.h"
#include "train/cli.h"

namespace chamber {
namespace {

std::string stem_of(const std::string& path) {
  size_t slash = path.find_last_of('/');
  std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
  size_t dot = name.find_last_of('.');
  return dot == std::string::npos ? name : name.substr(0, dot);
}

struct SampleOptions {
  std::string style = "omi1";
  std::string split = "train";
  int64_t count = 3;
  uint64_t seed = 1;
  std::vector<int> ops;
  bool jsonl = false;
};

void run_sample(const SampleOptions& o) {
  if (!math_style_known(o.style)) fail("data sample: unknown --style '", o.style, "' (tinygsm, tinygsm_short, omi1, omi2, omi2_steps, gsm8k, mathtext)");
  int lo = 0, hi = 0;
  if (o.ops.size() == 1) lo = hi = o.ops[0];
  if (o.ops.size() == 2) lo = o.ops[0], hi = o.ops[1];
  for (const MathProblem& p : mathworld_generate(o.split, o.count, o.seed, lo, hi)) {
    if (o.jsonl) {
      nlohmann::json j = {{"id", p.index}, {"question", p.question}, {"prompt", p.prompt},
                          {"answer", mathworld_answer_text(p)}, {"ops", p.ops},
                          {"solution", mathworld_solution(p, o.style)}};
      std::printf("%s\n", j.dump().c_str());
    } else {
      std::printf("%s\n\n", mathworld_document(p, o.style).c_str());
    }
  }
}

}  // namespace

void register_data_commands(CLI::App& app) {
  CLI::App* group = app.add_subcommand("data", "Build pretraining data and look at the math world");
  group->require_subcommand(1);

  auto config = std::make_shared<std::string>();
  auto out = std::make_shared<std::string>();
  CLI::App* cmd = group->add_subcommand("build", "Tokenizer, shards and manifest from a data spec (cached by its hash)");
  cmd->add_option("config", *config, "Data spec YAML (or a run config with a data: section)")->required();
  cmd->add_option("--out", *out, "Output directory (default: runs/data/<config name>)");
  cmd->callback([config, out] {
    std::string dir = out->empty() ? path_join("runs/data", stem_of(*config)) : *out;
    DataSpec spec = data_spec_load(*config);
    nlohmann::json m = dataset_build(spec, dir, true);
    std::printf("%s\n", m.dump(2).c_str());
  });

  auto s = std::make_shared<SampleOptions>();
  cmd = group->add_subcommand("sample", "Print generated problems in one style");
  cmd->add_option("--style", s->style, "tinygsm, tinygsm_short, omi1, omi2, omi2_steps, gsm8k or mathtext")->capture_default_str();
  cmd->add_option("--split", s->split, "train, rl, test, easy or hard")->capture_default_str();
  cmd->add_option("--count", s->count, "How many problems")->capture_default_str()->check(CLI::Range(0, 10'000'000));
  cmd->add_option("--seed", s->seed, "Generator seed")->capture_default_str();
  cmd->add_option("--ops", s->ops, "Operations: N or MIN MAX (default: the split's range)")->expected(1, 2);
  cmd->add_flag("--jsonl", s->jsonl, "One JSON line per problem: id, question, prompt, answer, ops, solution");
  cmd->callback([s] { run_sample(*s); });

  auto dataset = std::make_shared<std::string>();
  auto predictions = std::make_shared<std::string>();
  cmd = app.add_subcommand("grade", "Grade model generations against a dataset's gold answers");
  cmd->add_option("--dataset", *dataset,
                  "KIND:PATH with KIND gsm8k, math, tinygsm, omi1, omi2 (jsonl), or synthetic:SPLIT[:COUNT[:SEED]]")
      ->required();
  cmd->add_option("--predictions", *predictions, "JSON lines {\"id\": row, \"completion\": text}")->required();
  cmd->callback([dataset, predictions] {
    std::vector<GoldItem> gold = load_gold_dataset(*dataset);
    nlohmann::json r = grade_predictions(gold, *predictions);
    for (const auto& m : r["malformed"])
      std::fprintf(stderr, "grade: %s:%d: skipped: %s\n", predictions->c_str(), m["line"].get<int>(),
                   m["error"].get<std::string>().c_str());
    std::printf("%s\n", r.dump(2).c_str());
  });
}

}  // namespace chamber
