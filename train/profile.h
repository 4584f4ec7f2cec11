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

const Ops& profiled_ops(const Ops& inner);
void print_profile(FILE* out);
void reset_profile();
// The GPU whose predicted times the table shows.
void set_profile_device(const RooflineDevice& device);
// The predicted seconds of everything profiled since the last reset.
double profile_predicted_seconds();
OpCost profile_total_cost();

}  // namespace chamber
