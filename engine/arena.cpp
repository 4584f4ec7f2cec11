#include "engine/arena.h"

#include "util/util.h"

namespace chamber {

size_t TensorSlot::numel() const {
  size_t n = 1;
  for (int64_t d : shape) n *= (size_t)d;
  return n;
}

size_t arena_plan(std::vector<TensorSlot>& table) {
  size_t offset = 0;
  for (auto& slot : table) {
    slot.offset = offset;
    offset += (slot.bytes() + 63) / 64 * 64;  // keep every tensor 64-byte aligned (SIMD, coalescing)
  }
  return offset;
}

Arena arena_create(const Ops& ops, size_t bytes, const std::string& what) {
  Arena a;
  a.ops = &ops;
  a.what = what;
  a.bytes = bytes;
  try {
    a.base = ops.alloc(bytes == 0 ? 64 : bytes);
  } catch (const Error& e) {
    fail("cannot allocate the ", what, " arena of ", human_bytes((double)bytes), " on ", ops.name,
         ": ", e.what(), ". Reduce batch_size, seq_len or the model size.");
  }
  return a;
}

void arena_point(const Arena& arena, const std::vector<TensorSlot>& table) {
  for (const auto& slot : table) *slot.ptr = (char*)arena.base + slot.offset;
}

void arena_destroy(Arena& arena) {
  if (arena.base && arena.ops) arena.ops->free(arena.base);
  arena.base = nullptr;
  arena.bytes = 0;
}

}  // namespace chamber
