// `--profile`: time per op. profiled_ops() wraps a backend's operation table so that every call is
// timed (synchronising the device after each, so GPU times are real, at some cost) and summed by
// op and phase (forward ops, backward ops, optimizer), beside each call's analytic cost and its
// predicted time on a GPU (train/roofline.h; an H100 in fp32/TF32 unless set_profile_device says
// otherwise). print_profile() prints the table.
#pragma once
#include <cstdio>

#include "kernels/ops.h"
#include "train/roofline.h"

namespace chamber {

// The table has no graph ops (a graph would record the ops instead of running them when timed),
// so the model runs op by op; with predict_graphs (over shape_only_ops, which has graph ops that
// do nothing) it keeps them, and what is captured is predicted without per-launch costs, as the
// engine runs it on a GPU.
const Ops& profiled_ops(const Ops& inner, bool predict_graphs = false);
void print_profile(FILE* out);
void reset_profile();
// The GPU whose predicted times the table shows.
void set_profile_device(const RooflineDevice& device);
// The predicted seconds of everything profiled since the last reset.
double profile_predicted_seconds();
OpCost profile_total_cost();

}  // namespace chamber
