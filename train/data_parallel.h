// The data-parallel parts of a training step (engine/comm.h has the ranks and collectives), for
// each rank after its backward pass over its share of the global batch:
//   1. average the gradients over the ranks: all of them (all-reduce), or with the optimizer
//      sharded (ZeRO-1, engine/model.h OptimizerShard) only this rank's slice (reduce-scatter),
//      and take the global gradient norm for clipping;
//   2. gpt_adamw_step, which updates this rank's slice;
//   3. with the optimizer sharded, share the updated slices (all-gather) so every rank holds the
//      whole model again.
// With one process each is exactly the single-process step (no collective runs).
#pragma once
#include <vector>

#include "engine/comm.h"
#include "engine/model.h"

namespace chamber {

// Step 1. Returns the norm of the averaged gradient over all parameters, and leaves its square
// on the backend (acts.grad_sumsq) for gpt_adamw_step's clip_by_device_norm.
double dp_average_gradients(const Comm& comm, GPT& model);
// Step 1 overlapped with the backward pass, in buckets (several ranks, unsharded optimizer): call
// dp_overlap_begin before a step's last backward, which then starts averaging each layer's
// gradients (one bucket: the layer's 12 tensors) as soon as they are complete, while the layers
// below are computed; dp_overlap_finish, after that backward, averages the rest (embeddings,
// final LayerNorm, heads), waits for every bucket and returns the norm. The result is
// dp_average_gradients' bit for bit (each element is summed the same way).
bool dp_can_overlap(const Comm& comm, const GPT& model);
void dp_overlap_begin(const Comm& comm, GPT& model);
double dp_overlap_finish(const Comm& comm, GPT& model);
// Step 3 (nothing to do unless the optimizer is sharded).
void dp_share_updated_parameters(const Comm& comm, GPT& model);
// A sharded optimizer's whole m and v, gathered on rank 0 for a checkpoint (every rank calls it;
// the vectors are filled on rank 0 only). Without sharding they stay empty and the checkpoint
// reads the model's own state.
void dp_gather_optimizer_state(const Comm& comm, const GPT& model, std::vector<float>& adam_m,
                               std::vector<float>& adam_v);

}  // namespace chamber
