// Memory is planned, not scattered. Each category (parameters, gradients, AdamW m and v,
// activations) is one allocation from the backend, sized up front: a size table lists every
// tensor with its shape, `arena_plan` sums the sizes (64-byte aligned), and `arena_create` makes
// the one allocation and points each tensor into it. Tensors are views; nothing is freed alone.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "kernels/ops.h"

namespace chamber {

struct TensorSlot {
  std::string name;             // our checkpoint name, e.g. "h.qkv_w"
  std::vector<int64_t> shape;   // logical shape
  void** ptr;                   // the struct field to point at this tensor
  size_t elem_bytes = 4;        // float32 / int32
  size_t offset = 0;            // filled by arena_plan
  size_t numel() const;
  size_t bytes() const { return numel() * elem_bytes; }
};

struct Arena {
  const Ops* ops = nullptr;
  std::string what;             // "parameters", "activations", ... for messages
  void* base = nullptr;
  size_t bytes = 0;
};

// Assigns offsets; returns the total size in bytes.
size_t arena_plan(std::vector<TensorSlot>& table);
// One allocation of `bytes` from ops.alloc (zero-filled), Error naming `what` and the size on failure.
Arena arena_create(const Ops& ops, size_t bytes, const std::string& what);
// Points every slot's field into the arena (arena_plan must have run on the same table).
void arena_point(const Arena& arena, const std::vector<TensorSlot>& table);
void arena_destroy(Arena& arena);

}  // namespace chamber
