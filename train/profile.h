// `--profile`: time per op. profiled_ops() wraps a backend's operation table so that every call is
// timed (synchronising the device after each, so GPU times are real, at some cost) and summed by
// op and phase (forward ops, backward ops, optimizer). print_profile() prints the table.
#pragma once
#include <cstdio>

#include "kernels/ops.h"

namespace chamber {

const Ops& profiled_ops(const Ops& inner);
void print_profile(FILE* out);
void reset_profile();

}  // namespace chamber
