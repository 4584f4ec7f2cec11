// Data-parallel RL as two ranks (run by ctest under `mpirun -np 2`, label mpi):
//   - the policy update of a batch split over two ranks equals the update of the whole batch in one
//     process (token-mean and sequence-mean losses, with the value head), to fp32 rounding;
//   - GRPO and expert iteration on the "say 7" toy learn with two ranks as with one, on the same
//     global batch (sampling differs, so the reward curves agree within noise);
//   - `chamber rl` as two ranks writes one run directory, and a run interrupted after a checkpoint
//     resumes exactly on two ranks, and runs on to the end on one.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>

#include "engine/backend.h"
#include "engine/checkpoint.h"
#include "tests/test_util.h"
#include "tests/train/mpi_dirs.h"
#include "tests/train/rl_toy.h"
#include "tests/train/tiny_rl_init.h"
#include "train/metrics.h"
#include "train/rl.h"

namespace chamber {
namespace {

using testing::toy_config;

// Eight hand-made rollouts of the toy: the prompt, 1-3 random digits and eot, with random
// advantages, returns and old values; old and reference log-probs scored by the starting model.
std::vector<Rollout> toy_rollouts(RLSession& s, const testing::Toy& t) {
  Rng rng(21);
  std::vector<Rollout> rs(8);
  for (Rollout& r : rs) {
    r.tokens = t.prompt;
    r.prompt_len = (int)t.prompt.size();
    int digits = 1 + (int)rng.below(3);
    for (int d = 0; d < digits; d++) r.tokens.push_back(tokenizer_encode(t.tok, std::to_string(rng.below(10)))[0]);
    r.tokens.push_back(t.tok.eot_id);
    for (int k = 0; k < r.response_len(); k++) {
      r.advantages.push_back(2 * rng.uniform() - 1);
      r.returns.push_back(2 * rng.uniform() - 1);
      r.values.push_back(0.3f * (2 * rng.uniform() - 1));
    }
  }
  rl_score(s, *s.policy, rs, ScoreInto::old_logprobs, false, false);
  rl_score(s, *s.reference, rs, ScoreInto::ref_logprobs, false, false);
  return rs;
}

void check_split_update(LossAgg agg, bool with_values) {
  const Comm& comm = comm_world();
  RLConfig cfg = toy_config(RLAlgorithm::ppo);
  cfg.epochs = 2;
  cfg.minibatches = 1;
  cfg.loss_agg = agg;
  cfg.kl_coef = 0.05f;
  cfg.kl_mode = KLMode::loss_k3;
  // A large Adam epsilon makes the update nearly linear in the gradient, so the comparison sees
  // the gradients' rounding rather than Adam's sign-like steps on near-zero gradients.
  cfg.adam_eps = 0.1f;
  std::vector<std::vector<float>> weights;
  std::vector<nlohmann::json> lines;
  for (bool split : {false, true}) {
    testing::Toy t;
    testing::make_toy(t, false, select_backend("cpu"));
    RLSession s;
    testing::begin_toy_session(s, t, cfg, false);
    s.cfg.micro_batch = 3;   // several micro-batches, not the same ones in the two runs
    std::vector<Rollout> rs = toy_rollouts(s, t);
    if (split) {
      s.comm = &comm;
      RankShare share = comm_share(comm, (int)rs.size());
      rs = std::vector<Rollout>(rs.begin() + share.first, rs.begin() + share.first + share.count);
    }
    nlohmann::json line;
    rl_policy_update(s, rs, 10, with_values, line);
    weights.push_back(gpt_parameters_to_host(*s.policy));
    lines.push_back(line);
    rl_session_end(s);
    testing::destroy_toy(t, false);
  }
  double diff = 0, norm = 0, moved = 0;
  testing::Toy start;
  testing::make_toy(start, false, select_backend("cpu"));
  std::vector<float> w0 = gpt_parameters_to_host(start.policy);
  testing::destroy_toy(start, false);
  for (size_t i = 0; i < weights[0].size(); i++) {
    diff += std::pow(weights[0][i] - weights[1][i], 2);
    norm += std::pow(weights[0][i], 2);
    moved += std::pow(weights[0][i] - w0[i], 2);
  }
  EXPECT_GT(std::sqrt(moved), 1e-3) << "the update moved nothing";
  EXPECT_LE(std::sqrt(diff), 1e-3 * std::sqrt(moved)) << "split and whole updates differ";
  // The second epoch's metrics follow weights that already differ by rounding (fp32 sums in
  // another order, possibly another thread count), and the KL is a small difference of log-probs.
  for (const char* key : {"policy_loss", "kl", "entropy", "grad_norm"})
    EXPECT_NEAR(lines[0][key].get<double>(), lines[1][key].get<double>(),
                1e-3 * std::fabs(lines[0][key].get<double>()) + 1e-7)
        << key;
  if (with_values) {
    EXPECT_NEAR(lines[0]["value_loss"].get<double>(), lines[1]["value_loss"].get<double>(), 1e-6);
  }
}

TEST(RlMpi, SplitBatchUpdateEqualsWholeBatchTokenMean) { check_split_update(LossAgg::token_mean, false); }
TEST(RlMpi, SplitBatchUpdateEqualsWholeBatchSequenceMeanWithValues) { check_split_update(LossAgg::seq_mean, true); }

// Steps of `algorithm` on the toy, data parallel or as one process; the step rewards.
std::vector<double> toy_rewards(RLAlgorithm algorithm, bool data_parallel, int steps, std::vector<int>* kept = nullptr) {
  const Comm& comm = comm_world();
  testing::Toy t;
  testing::make_toy(t, false, select_backend("cpu"));
  RLSession s;
  testing::begin_toy_session(s, t, toy_config(algorithm), false);
  if (data_parallel) s.comm = &comm;
  std::vector<double> rewards;
  for (int step = 0; step < steps; step++) {
    if (data_parallel) s.rng = rl_rank_step_stream(11, step, comm.rank);   // as run_rl does
    nlohmann::json line = rl_step(s, step);
    rewards.push_back(line["reward"].get<double>());
    EXPECT_EQ(line["rollouts"].get<int>(), 32) << "every rank reports the whole batch";
    if (kept) kept->push_back(line["kept"].get<int>());
  }
  rl_session_end(s);
  testing::destroy_toy(t, false);
  return rewards;
}

double mean_of(const std::vector<double>& v, size_t from, size_t to) {
  double total = 0;
  for (size_t i = from; i < to; i++) total += v[i];
  return total / (double)(to - from);
}

TEST(RlMpi, GrpoOnTwoRanksLearnsLikeOneRank) {
  std::vector<double> two = toy_rewards(RLAlgorithm::grpo, true, 40);
  std::vector<double> one = toy_rewards(RLAlgorithm::grpo, false, 40);
  std::printf("grpo reward, first 10 / last 5 steps: 2 ranks %.3f / %.3f, 1 rank %.3f / %.3f\n",
              mean_of(two, 0, 10), mean_of(two, 35, 40), mean_of(one, 0, 10), mean_of(one, 35, 40));
  EXPECT_LT(mean_of(two, 0, 5), 0.4);
  EXPECT_GT(mean_of(two, 35, 40), 0.9);
  EXPECT_GT(mean_of(one, 35, 40), 0.9);
  // 32 samples a step: a step's reward has a standard error up to ~0.09; ten steps' mean ~0.03.
  EXPECT_NEAR(mean_of(two, 0, 10), mean_of(one, 0, 10), 0.2);
}

TEST(RlMpi, ExpertIterationGathersTheKeptSamples) {
  const Comm& comm = comm_world();
  std::vector<int> kept;
  std::vector<double> two = toy_rewards(RLAlgorithm::ei, true, 30, &kept);
  std::printf("ei reward, first 5 / last 5 steps on 2 ranks: %.3f / %.3f\n", mean_of(two, 0, 5), mean_of(two, 25, 30));
  EXPECT_GT(mean_of(two, 25, 30), 0.9);
  // Both ranks kept (and fine-tuned on) the same samples every round.
  std::vector<std::string> all = comm_all_gather_bytes(comm, nlohmann::json(kept).dump());
  EXPECT_EQ(all[0], all[1]);
}

RLConfig run_config(const std::string& init, const std::string& algorithm, int steps) {
  std::string yaml = "init: " + init + "\nalgorithm: " + algorithm + R"(
rollout: {prompts_per_step: 4, samples_per_prompt: 2, max_new_tokens: 6, micro_batch: 4, rollout_batch: 4}
policy: {epochs: 2, minibatches: 2}
eval: {problems: 3, interval: 2}
train: {device: cpu-ref, threads: 1, steps: )" + std::to_string(steps) + "}\n";
  return parse_rl_config(YAML::Load(yaml), "r.yaml");
}

void run(const RLConfig& cfg, const std::string& out, bool data_parallel, bool resume = false) {
  RLOptions o = testing::quiet_rl(out, resume);
  o.comm = data_parallel ? &comm_world() : nullptr;
  run_rl(cfg, o);
}

TEST(RlMpi, RunWritesOnceAndResumesOnTwoOrOneRanks) {
  const Comm& comm = comm_world();
  std::string dir = testing::shared_dir("rl_dp_run");
  if (comm.rank == 0) testing::tiny_tinygsm_checkpoint(dir);
  comm_barrier(comm);
  const std::string init = dir + "/pt";
  for (const char* algorithm : {"grpo", "ppo", "ei"}) {
    SCOPED_TRACE(algorithm);
    const std::string full = dir + "/full_" + algorithm;
    run(run_config(init, algorithm, 5), full, true);
    auto a = metrics_read(full + "/metrics.jsonl");
    ASSERT_EQ(a.size(), 6u);   // 5 steps + the final evaluation, written once
    EXPECT_EQ(a[0]["rollouts"], 8);
    EXPECT_TRUE(a[0].contains("eval_pass1"));
    // Interrupted after step 2's checkpoint, resumed on two ranks: the same steps exactly.
    for (int ranks : {2, 1}) {
      const std::string cut = full + "_cut" + std::to_string(ranks);
      if (comm.rank == 0) {
        ASSERT_EQ(std::system(("cp -r " + full + " " + cut + " && rm -r " + cut + "/checkpoints/step_00000004 " +
                               cut + "/checkpoints/step_00000005").c_str()), 0);
      }
      comm_barrier(comm);
      if (ranks == 2) run(run_config(init, algorithm, 5), cut, true, true);
      else if (comm.rank == 0) run(run_config(init, algorithm, 5), cut, false, true);
      comm_barrier(comm);
      if (ranks == 2) {
        testing::expect_same_rl_runs(full, cut);
      } else {
        EXPECT_EQ(metrics_read(cut + "/metrics.jsonl").size(), a.size());
        EXPECT_EQ(checkpoint_state(cut + "/checkpoints/step_00000005")["step"], 5);
      }
    }
  }
}

TEST(RlMpi, TooFewPromptsForTheRanksIsAnError) {
  const Comm& comm = comm_world();
  std::string dir = testing::shared_dir("rl_dp_few");
  if (comm.rank == 0) testing::tiny_tinygsm_checkpoint(dir);
  comm_barrier(comm);
  RLConfig cfg = run_config(dir + "/pt", "grpo", 2);
  cfg.prompts_per_step = 1;
  std::string error = testing::error_of([&] { run(cfg, dir + "/out", true); });
  EXPECT_TRUE(testing::contains(error, "prompts_per_step 1 is smaller than the 2 ranks")) << error;
}

}  // namespace
}  // namespace chamber
