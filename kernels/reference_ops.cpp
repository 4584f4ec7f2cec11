// The plain C++ reference backend: the Ops table (kernels/ops.h) pointing at the float
// instantiations of the readable kernels in kernels/*.cpp, plus host memory functions.
// Every other backend is tested against this one; it favours clarity over speed.
#include <cstddef>
#include <cstdlib>
#include <cstring>

#include "util/util.h"
#include "kernels/adamw.h"
#include "kernels/attention.h"
#include "kernels/attention_decode.h"
#include "kernels/classifier.h"
#include "kernels/cpu_table.h"
#include "kernels/encoder.h"
#include "kernels/gelu.h"
#include "kernels/layernorm.h"
#include "kernels/matmul.h"
#include "kernels/ops.h"
#include "kernels/residual.h"
#include "kernels/sample.h"
#include "kernels/value_head.h"

namespace chamber {

namespace {

constexpr size_t kAlignment = 64;  // a cache line, and enough for any SIMD load

void* host_alloc(size_t bytes) {
  // aligned_alloc wants a multiple of the alignment; a zero-byte request still gets a real block
  // so that free() and pointer arithmetic on the result stay well-defined.
  size_t rounded = (bytes + kAlignment - 1) / kAlignment * kAlignment;
  if (rounded == 0) rounded = kAlignment;
  if (rounded < bytes) fail("reference backend: allocation size ", bytes, " bytes overflows");
  void* ptr = std::aligned_alloc(kAlignment, rounded);
  if (!ptr)
    fail("reference backend: could not allocate ", human_bytes((double)bytes), " (", bytes,
         " bytes) of host memory; reduce batch_size, seq_len or the model size");
  std::memset(ptr, 0, rounded);
  return ptr;
}

void host_free(void* ptr) { std::free(ptr); }
void host_zero(void* ptr, size_t bytes) { std::memset(ptr, 0, bytes); }
void host_copy(void* dst, const void* src, size_t bytes) { std::memcpy(dst, src, bytes); }
void host_synchronize() {}  // every reference op has finished when it returns

// No fused matmul + GELU here: the model calls matmul_forward then gelu_forward instead, and in
// backward matmul_backward then gelu_backward.
template <typename Real>
constexpr std::nullptr_t matmul_gelu_forward_ref = nullptr;
template <typename Real>
constexpr std::nullptr_t matmul_gelu_backward_ref = nullptr;
// Nor a fused residual add + LayerNorm: the model calls residual_forward then layernorm_forward.
template <typename Real>
constexpr std::nullptr_t residual_layernorm_forward_ref = nullptr;

Ops make_reference_ops() {
  Ops ops{};
  ops.name = "reference";
  ops.compute_bytes = sizeof(float);
  ops.alloc = host_alloc;
  ops.free = host_free;
  ops.zero = host_zero;
  ops.copy = host_copy;
  ops.to_host = host_copy;
  ops.from_host = host_copy;
  ops.from_host_async = host_copy;  // every op completes before it returns
  ops.synchronize = host_synchronize;
  // Every kernel op points at its reference kernel, the float instantiation of <name>_ref.
#define CHAMBER_REFERENCE_OP(name, ...) \
  ops.name = cpu_table_entry<decltype(ops.name), name##_ref<float>>();
  CHAMBER_KERNEL_OPS(CHAMBER_REFERENCE_OP)
#undef CHAMBER_REFERENCE_OP
  return ops;
}

}  // namespace

const Ops& reference_ops() {
  static const Ops ops = make_reference_ops();
  return ops;
}

}  // namespace chamber
