// How reduce.cu cuts N rows into parts for its deterministic two-pass column sums.
#pragma once
#include "kernels/cuda_common.h"

namespace chamber::CHAMBER_GPU_NS {

constexpr int kRowsPerPart = 256;    // rows summed by one block in the first pass
constexpr int kPartRowThreads = 8;   // threads per channel in that block (block is 32 x 8)

struct PartPlan {
  int rows_per_part;
  int parts;
};
PartPlan plan_parts(int N);

// out[c] += sum_p partials[p*C + c], p = 0..parts-1 in order.
void add_partials(float* out, const float* partials, int parts, int C, cudaStream_t stream);

__device__ __forceinline__ int min_int(int a, int b) { return a < b ? a : b; }

}  // namespace chamber::CHAMBER_GPU_NS
