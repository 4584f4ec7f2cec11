// Data-parallel evaluation as two ranks (run by ctest under `mpirun -np 2`, label mpi): each rank
// generates a share of a set, and the result (every generation, every metric) and the files
// `chamber eval` writes equal one process's exactly, a prompt too long for the context included.
#include <gtest/gtest.h>

#include "tests/test_util.h"
#include "tests/train/mpi_dirs.h"
#include "tests/train/tiny_rl_init.h"
#include "train/eval.h"
#include "train/loaded_model.h"

namespace chamber {
namespace {

EvalConfig small_eval() {
  EvalConfig cfg;
  cfg.count = 5;
  cfg.n_samples = 3;
  cfg.k = {1, 3};
  cfg.max_new_tokens = 8;
  cfg.batch_size = 2;   // several sampler calls per rank
  return cfg;
}

// eval.json without its timings.
nlohmann::json without_timings(nlohmann::json j) {
  for (auto& [name, set] : j["sets"].items())
    for (const char* key : {"seconds", "tokens_per_second"}) set.erase(key);
  return j;
}

TEST(EvalMpi, TwoRanksGiveOneProcesssResult) {
  const Comm& comm = comm_world();
  std::string dir = testing::shared_dir("eval_dp");
  if (comm.rank == 0) testing::tiny_tinygsm_checkpoint(dir);
  comm_barrier(comm);
  LoadedModel lm;
  load_model(lm, dir + "/pt", "cpu", 1, 1);
  EvalConfig cfg = small_eval();
  std::vector<EvalProblem> problems = load_eval_set("synthetic:test", cfg.count, 1);
  std::string long_prompt;
  for (int i = 0; i < 200; i++) long_prompt += "one more word ";
  problems.insert(problems.begin() + 2, EvalProblem{"long#0", long_prompt + "\n\n", "1"});
  std::vector<EvalGeneration> one, two;
  EvalSetResult r1 = evaluate_set(lm.model, lm.tokenizer, "s", problems, cfg, &one);
  EvalSetResult r2 = evaluate_set(lm.model, lm.tokenizer, "s", problems, cfg, &two, &comm);
  EXPECT_EQ(r1.too_long, 1);
  nlohmann::json j1 = eval_result_json(r1), j2 = eval_result_json(r2);
  for (const char* key : {"seconds", "tokens_per_second"}) j1.erase(key), j2.erase(key);
  EXPECT_EQ(j1, j2);
  ASSERT_EQ(one.size(), two.size());
  for (size_t i = 0; i < one.size(); i++) EXPECT_EQ(generation_json(one[i]), generation_json(two[i])) << i;
  gpt_destroy(lm.model);

  // `chamber eval`'s files: written once, by rank 0, equal to one process's.
  Comm* world = &comm_world();
  evaluate_checkpoint(cfg, dir + "/pt", "cpu", dir + "/eval_two", true, world);
  if (comm.rank == 0) evaluate_checkpoint(cfg, dir + "/pt", "cpu", dir + "/eval_one", true);
  comm_barrier(comm);
  EXPECT_EQ(read_file(dir + "/eval_two/generations.jsonl"), read_file(dir + "/eval_one/generations.jsonl"));
  EXPECT_EQ(without_timings(nlohmann::json::parse(read_file(dir + "/eval_two/eval.json"))),
            without_timings(nlohmann::json::parse(read_file(dir + "/eval_one/eval.json"))));
}

}  // namespace
}  // namespace chamber
