// RL across data-parallel ranks (`mpirun -np N chamber rl CONFIG`). A step's prompts are split into
// contiguous shares, one per rank, so every GRPO group (the samples of one prompt) stays on one
// rank; each rank samples, grades and scores its own share. What needs the whole batch is summed
// over the ranks: the counts behind every metric, PPO's advantage whitening, the token and sequence
// counts that normalise the loss, random control's success rate, and the gradients (one
// all-reduce per optimiser step, as in pretraining). Expert iteration gathers every rank's kept
// samples so all ranks fine-tune on the same set. With one process every function here is the
// identity, and a run is what it was without data parallelism.
#include <map>

#include "train/data_parallel.h"
#include "train/rl.h"

namespace chamber {

const Comm& rl_comm(const RLSession& s) {
  static const Comm single_process;
  return s.comm ? *s.comm : single_process;
}

void rl_sum_over_ranks(const RLSession& s, double* values, int n) { comm_all_reduce_sum(rl_comm(s), values, n); }

void rl_sum_named_over_ranks(const RLSession& s, std::map<std::string, double>& counts) {
  const Comm& comm = rl_comm(s);
  if (comm.world == 1) return;
  // The keys (style labels) can differ between ranks, so the maps travel whole and are added up
  // in rank order: every rank gets the same sums.
  std::vector<std::string> all = comm_all_gather_bytes(comm, nlohmann::json(counts).dump());
  counts.clear();
  for (const std::string& text : all) {
    const nlohmann::json rank_counts = nlohmann::json::parse(text);   // alive through the loop
    for (const auto& [key, value] : rank_counts.items()) counts[key] += value.get<double>();
  }
}

std::vector<Rollout> rl_gather_rollouts(const RLSession& s, const std::vector<Rollout>& mine) {
  const Comm& comm = rl_comm(s);
  if (comm.world == 1) return mine;
  nlohmann::json list = nlohmann::json::array();
  for (const Rollout& r : mine) list.push_back({{"prompt_len", r.prompt_len}, {"tokens", r.tokens}});
  std::vector<Rollout> all;
  for (const std::string& text : comm_all_gather_bytes(comm, list.dump()))
    for (const auto& item : nlohmann::json::parse(text)) {
      Rollout r;
      r.prompt_len = item.at("prompt_len").get<int>();
      r.tokens = item.at("tokens").get<std::vector<int>>();
      all.push_back(std::move(r));
    }
  return all;
}

Rng rl_rank_step_stream(int64_t seed, int step, int rank) {
  // splitmix64 over (seed, step, rank): a fresh, independent stream per rank and step, so a
  // data-parallel run resumes exactly on any number of ranks without saving every rank's state.
  uint64_t x = (uint64_t)seed * 0x9E3779B97F4A7C15ull ^ ((uint64_t)step << 20) ^ (uint64_t)rank;
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return Rng(x ^ (x >> 31));
}

double rl_average_gradients(const RLSession& s, GPT& model) {
  // Each rank's loss is normalised by the whole batch's token (or sequence) count, so its gradient
  // is its part of one sum: the global gradient is the ranks' sum, the all-reduced mean times N.
  const Comm& comm = rl_comm(s);
  return dp_average_gradients(comm, model) * comm.world;
}

}  // namespace chamber
