// Data-parallel gradient averaging and ZeRO-1 parameter sharing: see data_parallel.h.
#include "train/data_parallel.h"

#include <cmath>

namespace chamber {

double dp_average_gradients(const Comm& comm, GPT& model) {
  if (comm.world == 1) return gpt_grad_norm(model);
  float* grads = (float*)model.grad_arena.base;
  if (model.shard.world == 1) {
    // One all-reduce over the whole gradient arena: every rank then holds the global mean.
    comm_all_reduce_mean(comm, grads, model.grad_arena.bytes / sizeof(float));
    return gpt_grad_norm(model);
  }
  // Only this rank's slice is averaged (the rest of the arena keeps the local gradients, which
  // nothing reads); the norm is the sum of the slices' squares.
  comm_reduce_scatter_mean(comm, grads, model.shard_floats);
  double sum_squares = model.ops->sum_squares(grads + model.shard_first, model.shard_floats);
  comm_all_reduce_sum(comm, &sum_squares, 1);
  return std::sqrt(sum_squares);
}

void dp_share_updated_parameters(const Comm& comm, GPT& model) {
  if (comm.world == 1 || model.shard.world == 1) return;
  comm_all_gather(comm, (float*)model.param_arena.base, model.shard_floats);
}

void dp_gather_optimizer_state(const Comm& comm, const GPT& model, std::vector<float>& adam_m,
                               std::vector<float>& adam_v) {
  adam_m.clear();
  adam_v.clear();
  if (model.shard.world == 1) return;
  std::vector<float> m_slice(model.shard_floats), v_slice(model.shard_floats);
  model.ops->to_host(m_slice.data(), model.m_arena.base, model.m_arena.bytes);
  model.ops->to_host(v_slice.data(), model.v_arena.base, model.v_arena.bytes);
  if (comm.rank == 0) {
    adam_m.resize(model.param_arena.bytes / sizeof(float));
    adam_v.resize(adam_m.size());
  }
  comm_gather_to_root(comm, m_slice.data(), adam_m.data(), model.shard_floats, 0);
  comm_gather_to_root(comm, v_slice.data(), adam_v.data(), model.shard_floats, 0);
}

}  // namespace chamber
