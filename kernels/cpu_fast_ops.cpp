// The fast CPU backend's operation table (kernels/cpu_fast.h): the reference table with the hot
// ops replaced. Ops left as the reference (encoder, value head, alloc/free) cost well under 1% of
// a training step; `chamber pretrain ... --profile` shows the split. Any op added to the table
// later starts as the reference here too.
#include <cstring>

#include "kernels/cpu_fast.h"
#include "kernels/cpu_table.h"

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

}  // namespace

// The reference table with the hot ops replaced, made once.
const Ops& cpu_fast_ops() {
  static const Ops ops = [] {
    Ops fast = reference_ops();
    fast.name = "cpu";
    fast.zero = parallel_zero;
    fast.copy = parallel_copy;
    // The ops with a fast version, <name>_fast (kernels/cpu_fast.h); the rest stay the reference.
#define CHAMBER_FAST_OP(name) fast.name = cpu_table_entry<decltype(fast.name), name##_fast>();
    CHAMBER_FAST_OP(matmul_forward) CHAMBER_FAST_OP(matmul_backward)
    CHAMBER_FAST_OP(attention_forward) CHAMBER_FAST_OP(attention_backward)
    CHAMBER_FAST_OP(layernorm_forward) CHAMBER_FAST_OP(layernorm_backward)
    CHAMBER_FAST_OP(gelu_forward) CHAMBER_FAST_OP(gelu_backward)
    CHAMBER_FAST_OP(residual_forward) CHAMBER_FAST_OP(residual_backward)
    CHAMBER_FAST_OP(residual_layernorm_forward)
    CHAMBER_FAST_OP(classifier_forward_backward)
    CHAMBER_FAST_OP(sum_squares) CHAMBER_FAST_OP(adamw_update)
#undef CHAMBER_FAST_OP
    return fast;
  }();
  return ops;
}

}  // namespace chamber
