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
  double* sumsq_on_backend = model.acts.grad_sumsq;
  model.ops->sum_squares(sumsq_on_backend, grads + model.shard_first, model.shard_floats);
  double sum_squares = 0.0;
  model.ops->to_host(&sum_squares, sumsq_on_backend, sizeof(double));
  comm_all_reduce_sum(comm, &sum_squares, 1);
  // The global sum goes back where AdamW's clipping reads it (gpt_adamw_step).
  model.ops->from_host(sumsq_on_backend, &sum_squares, sizeof(double));
  return std::sqrt(sum_squares);
}

bool dp_can_overlap(const Comm& comm, const GPT& model) { return comm.world > 1 && model.shard.world == 1; }

// Where a tensor of the parameter table lies in the gradient arena, in floats; stacked per-layer
// tensors ("h.*", leading dimension n_layer) are cut to layer l's slice.
namespace {
struct GradSlice {
  float* first;
  size_t floats;
};
bool is_layer_tensor(const TensorSlot& slot) { return slot.name.rfind("h.", 0) == 0; }
GradSlice grad_slice(GPT& model, const TensorSlot& slot, int layer) {
  float* base = (float*)model.grad_arena.base + slot.offset / sizeof(float);
  if (layer < 0) return {base, slot.numel()};
  const size_t per_layer = slot.numel() / (size_t)model.cfg.n_layer;
  return {base + (size_t)layer * per_layer, per_layer};
}
}  // namespace

void dp_overlap_begin(const Comm& comm, GPT& model) {
  if (!dp_can_overlap(comm, model)) return;
  model.on_layer_gradients = [&comm, &model](int layer) {
    for (const TensorSlot& slot : model.param_table)
      if (is_layer_tensor(slot)) {
        GradSlice g = grad_slice(model, slot, layer);
        comm_all_reduce_mean_start(comm, g.first, g.floats);
      }
  };
}

double dp_overlap_finish(const Comm& comm, GPT& model) {
  if (!dp_can_overlap(comm, model)) return dp_average_gradients(comm, model);
  model.on_layer_gradients = nullptr;
  for (const TensorSlot& slot : model.param_table)
    if (!is_layer_tensor(slot)) {
      GradSlice g = grad_slice(model, slot, -1);
      comm_all_reduce_mean_start(comm, g.first, g.floats);
    }
  comm_wait_reductions(comm);
  return gpt_grad_norm(model);
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
