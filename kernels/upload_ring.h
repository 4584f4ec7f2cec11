// Where the CUDA backend stages the uploads that must not wait (from_host_async), as plain
// bookkeeping over a ring of `capacity` bytes; the backend supplies the pinned memory and what
// "wait for that upload" means (an event per upload, kernels/cuda_backend.cu).
//
// Why a ring: cudaMemcpyAsync from pageable memory may wait for the whole stream before it
// copies (the driver has to stage pageable bytes through pinned memory of its own), which would
// make every micro-step's token upload a synchronisation. Copied first into pinned memory, the
// upload is a DMA queued behind the work before it, and the host goes on at once. A region of
// the ring can be written again only after the upload that read it has run, so each reservation
// waits for the older uploads it overlaps: the host waits only when it is a whole ring of
// uploads ahead of the device.
//
// Layout: regions are handed out in address order and wrap to 0 when the next one does not fit
// before the end (the few bytes left there go unused on that lap). The pending list is the
// uploads not yet known to be done, oldest first. On the lap before the current one they sit at
// or after `head` in address order, so a new region at `head` overlaps a prefix of them; when the
// region wraps to 0, all of those are waited for first (they are older than anything from 0 on),
// then the prefix of this lap's that the region overlaps.
#pragma once
#include <cstddef>
#include <deque>

namespace chamber {

template <typename Token>
struct UploadRing {
  struct Pending {
    size_t begin, end;
    Token token;
  };
  size_t capacity = 0;
  size_t head = 0;              // where the next region starts unless it must wrap
  std::deque<Pending> pending;  // oldest first

  // The offset of `bytes` (0 < bytes <= capacity) free of pending uploads: wait(token) is called
  // for every pending upload that must finish first (oldest first), which is then forgotten.
  template <typename Wait>
  size_t reserve(size_t bytes, Wait&& wait) {
    size_t begin = head;
    if (begin + bytes > capacity) {
      begin = 0;
      while (!pending.empty() && pending.front().begin >= head) wait_front(wait);
    }
    const size_t end = begin + bytes;
    while (!pending.empty() && pending.front().begin < end && pending.front().end > begin)
      wait_front(wait);
    head = end;
    return begin;
  }
  // Records the upload that now reads [begin, begin + bytes) of the ring.
  void push(size_t begin, size_t bytes, Token token) {
    pending.push_back({begin, begin + bytes, token});
  }

 private:
  template <typename Wait>
  void wait_front(Wait& wait) {
    wait(pending.front().token);
    pending.pop_front();
  }
};

}  // namespace chamber
