// The fast CPU backend's operation table (kernels/cpu_fast.h): the reference table with the hot
// ops replaced. Ops left as the reference (encoder, value head, alloc/free) cost well under 1% of
// a training step; `chamber pretrain ... --profile` shows the split. Any op added to the table
// later starts as the reference here too.
#include <cstring>

#include "kernels/cpu_fast.h"

namespace chamber {

namespace {

// Zeroing and copying gradient arenas is memory-bound; two threads draw more bandwidth than one.
// Chunks are whole cache lines, so no two threads write the same line.
constexpr size_t kParallelBytes = 1 << 20;  // below this, a thread wake-up costs more than it saves
constexpr size_t kChunkBytes = 1 << 18;

void parallel_zero(void* ptr, size_t bytes) {
  if (bytes < kParallelBytes) {
    std::memset(ptr, 0, bytes);
    return;
  }
  char* base = (char*)ptr;
  long num_chunks = (long)((bytes + kChunkBytes - 1) / kChunkBytes);
#pragma omp parallel for schedule(static)
  for (long chunk = 0; chunk < num_chunks; chunk++) {
    size_t begin = (size_t)chunk * kChunkBytes;
    size_t size = bytes - begin < kChunkBytes ? bytes - begin : kChunkBytes;
    std::memset(base + begin, 0, size);
  }
}

void parallel_copy(void* dst, const void* src, size_t bytes) {
  if (bytes < kParallelBytes) {
    std::memcpy(dst, src, bytes);
    return;
  }
  long num_chunks = (long)((bytes + kChunkBytes - 1) / kChunkBytes);
#pragma omp parallel for schedule(static)
  for (long chunk = 0; chunk < num_chunks; chunk++) {
    size_t begin = (size_t)chunk * kChunkBytes;
    size_t size = bytes - begin < kChunkBytes ? bytes - begin : kChunkBytes;
    std::memcpy((char*)dst + begin, (const char*)src + begin, size);
  }
}

Ops make_cpu_fast_ops() {
  Ops ops = reference_ops();
  ops.name = "cpu";
  ops.zero = parallel_zero;
  ops.copy = parallel_copy;
  ops.matmul_forward = matmul_forward_fast;
  ops.matmul_backward = matmul_backward_fast;
  ops.attention_forward = attention_forward_fast;
  ops.attention_backward = attention_backward_fast;
  ops.layernorm_forward = layernorm_forward_fast;
  ops.layernorm_backward = layernorm_backward_fast;
  ops.gelu_forward = gelu_forward_fast;
  ops.gelu_backward = gelu_backward_fast;
  ops.residual_forward = residual_forward_fast;
  ops.residual_backward = residual_backward_fast;
  ops.classifier_forward_backward = classifier_forward_backward_fast;
  ops.sum_squares = sum_squares_fast;
  ops.adamw_update = adamw_update_fast;
  return ops;
}

}  // namespace

const Ops& cpu_fast_ops() {
  static const Ops ops = make_cpu_fast_ops();
  return ops;
}

}  // namespace chamber
