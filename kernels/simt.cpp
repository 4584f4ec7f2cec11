// The SIMT emulator's scheduler (see simt.h for what it models).
//
// One block runs on one OS thread as a set of fibers, one per CUDA thread. The scheduler takes
// fibers from a ready queue (at first every thread, in order) and runs each until it waits at a
// barrier or finishes. A barrier counts arrivals: the last thread to arrive puts the waiting ones
// back on the ready queue and goes on. Warp collectives are the same barrier over the 32 lanes of
// a warp, with a slot per lane for the value being exchanged; two slot sets alternate so a fast
// lane starting the next collective cannot overwrite values a slow lane has not read yet. An
// empty queue with threads still waiting is a deadlock. A collective may carry a body (the tensor
// core operations of simt_wmma.h): the last lane to arrive runs it before releasing the others,
// so it sees every lane's published value at one instant; the lanes must all have reached the
// same kind of collective, which the barrier checks.
//
// Fibers switch with a few instructions of assembly on x86-64 (saving the callee-saved registers
// and the stack pointer); elsewhere with ucontext, which is correct but slower (it makes a system
// call per switch). Stacks come from mmap with a guard page, are reused across launches, and are
// only touched as deep as a kernel goes.
#include "kernels/simt.h"

#include <sys/mman.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "util/util.h"

#if !defined(__x86_64__) || defined(CHAMBER_SIMT_UCONTEXT)
#define CHAMBER_SIMT_USE_UCONTEXT 1
#include <ucontext.h>
#endif

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#define CHAMBER_SIMT_ASAN 1
#endif

#ifndef CHAMBER_SIMT_USE_UCONTEXT
// switch_stacks(save, load): push the callee-saved registers, store the stack pointer in *save,
// load the one in `load`, pop that context's registers and return into it.
asm(R"(
  .pushsection .text
  .globl chamber_simt_switch_stacks
  .type chamber_simt_switch_stacks,@function
chamber_simt_switch_stacks:
  pushq %rbp
  pushq %rbx
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  movq %rsp, (%rdi)
  movq %rsi, %rsp
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbx
  popq %rbp
  ret
  .size chamber_simt_switch_stacks,.-chamber_simt_switch_stacks
  .popsection
)");
extern "C" void chamber_simt_switch_stacks(void** save_sp, void* load_sp);
#endif

namespace chamber::simt {
namespace {

constexpr size_t kStackBytes = 256 * 1024;  // generous: Debug/ASan frames are large
constexpr size_t kGuardBytes = 4096;
constexpr int kMaxThreadsPerBlock = 1024;
constexpr size_t kMaxSharedBytes = 48 * 1024;  // CUDA's default limit for dynamic shared memory
constexpr int kMaxOptInSharedBytes = 227 * 1024;  // sm_90's opt-in limit (cudaFuncSetAttribute)
constexpr size_t kSharedAlignment = 128;       // of the dynamic shared memory's start

enum class FiberState { kNotStarted, kReady, kWaitBlock, kWaitWarp, kDone };

struct Fiber {
  FiberState state = FiberState::kNotStarted;
  int stack = -1;       // index into BlockRun::stacks while started
  unsigned parity = 0;  // which slot set the next warp collective uses
#ifdef CHAMBER_SIMT_USE_UCONTEXT
  ucontext_t context;
#else
  void* sp = nullptr;
#endif
};

struct Warp {
  unsigned lanes = 0, arrived = 0, exited = 0;
  uint64_t slots[2][32];
  WarpBody bodies[2][32];  // which collective each lane is in (null for shuffles and votes)
};

// Everything about the block being run on this OS thread.
struct BlockRun {
  const char* kernel_name = "";
  void (*body)(void*) = nullptr;
  void* ctx = nullptr;
  unsigned num_threads = 0, current = 0;
  unsigned block_arrived = 0, exited = 0;
  std::vector<Fiber> fibers;
  std::vector<unsigned> ready;      // ring buffer of runnable threads (each at most once)
  size_t ready_head = 0, ready_count = 0;
  std::vector<Warp> warps;
  std::vector<char*> stacks;        // mapped once per OS thread, reused across launches
  std::vector<int> free_stacks;     // stacks no running fiber holds
  std::vector<unsigned char> shared;  // dynamic shared memory, from an aligned offset
  unsigned char* shared_base = nullptr;
  std::string error;
#ifdef CHAMBER_SIMT_USE_UCONTEXT
  ucontext_t scheduler_context;
#else
  void* scheduler_sp = nullptr;
#endif
#ifdef CHAMBER_SIMT_ASAN
  void* scheduler_fake_stack = nullptr;
  const void* scheduler_stack_bottom = nullptr;
  size_t scheduler_stack_size = 0;
#endif
};

thread_local BlockRun* tl_run = nullptr;

// Stack tops are staggered by a few cache lines and pages: stacks are 256 KiB apart, so without
// it every fiber's hot frames would fall in the same cache sets and evict each other.
char* stack_top(char* stack, int index) {
  return stack + kGuardBytes + kStackBytes - (index % 64) * 64 - ((index / 64) % 8) * 4096;
}

char* map_stack() {
  void* p = mmap(nullptr, kGuardBytes + kStackBytes, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) fail("simt: could not map a fiber stack (", kStackBytes, " bytes)");
  mprotect(p, kGuardBytes, PROT_NONE);  // an overflow faults here instead of corrupting memory
  return (char*)p;
}

std::string thread_name(const BlockRun& run, unsigned linear) {
  return std::string("kernel '") + run.kernel_name + "' block (" + std::to_string(blockIdx.x) +
         "," + std::to_string(blockIdx.y) + "," + std::to_string(blockIdx.z) + ") thread " +
         std::to_string(linear);
}

void set_thread_index(unsigned linear) {
  if (blockDim.y == 1 && blockDim.z == 1) {  // the common 1-D block: no divisions
    threadIdx.x = linear;
    return;
  }
  threadIdx.x = linear % blockDim.x;
  threadIdx.y = (linear / blockDim.x) % blockDim.y;
  threadIdx.z = linear / (blockDim.x * blockDim.y);
}

// ---- switching between the scheduler and a fiber ----
void switch_to_fiber(BlockRun& run, unsigned linear) {
  run.current = linear;
  set_thread_index(linear);
  Fiber& f = run.fibers[linear];
#ifdef CHAMBER_SIMT_ASAN
  __sanitizer_start_switch_fiber(&run.scheduler_fake_stack, run.stacks[f.stack] + kGuardBytes,
                                 kStackBytes);
#endif
#ifdef CHAMBER_SIMT_USE_UCONTEXT
  swapcontext(&run.scheduler_context, &f.context);
#else
  chamber_simt_switch_stacks(&run.scheduler_sp, f.sp);
#endif
#ifdef CHAMBER_SIMT_ASAN
  __sanitizer_finish_switch_fiber(run.scheduler_fake_stack, nullptr, nullptr);
#endif
}

void switch_to_scheduler(BlockRun& run, bool finished) {
  Fiber& f = run.fibers[run.current];
#ifdef CHAMBER_SIMT_ASAN
  void* fake_stack = nullptr;
  __sanitizer_start_switch_fiber(finished ? nullptr : &fake_stack, run.scheduler_stack_bottom,
                                 run.scheduler_stack_size);
#else
  (void)finished;
#endif
#ifdef CHAMBER_SIMT_USE_UCONTEXT
  swapcontext(&f.context, &run.scheduler_context);
#else
  chamber_simt_switch_stacks(&f.sp, run.scheduler_sp);
#endif
#ifdef CHAMBER_SIMT_ASAN
  __sanitizer_finish_switch_fiber(fake_stack, &run.scheduler_stack_bottom, &run.scheduler_stack_size);
#endif
}

// Records a misuse and leaves the fiber for good; run_block turns it into an Error.
[[noreturn]] void abandon_fiber(BlockRun& run, const std::string& message) {
  if (run.error.empty()) run.error = message;
  run.fibers[run.current].state = FiberState::kDone;
  switch_to_scheduler(run, true);
  std::abort();  // never resumed
}

void fiber_main() {
  BlockRun& run = *tl_run;
#ifdef CHAMBER_SIMT_ASAN
  __sanitizer_finish_switch_fiber(nullptr, &run.scheduler_stack_bottom, &run.scheduler_stack_size);
#endif
  try {
    run.body(run.ctx);
  } catch (const std::exception& e) {
    if (run.error.empty()) run.error = thread_name(run, run.current) + " threw: " + e.what();
  } catch (...) {
    if (run.error.empty()) run.error = thread_name(run, run.current) + " threw a non-standard exception";
  }
  unsigned linear = run.current;
  Warp& warp = run.warps[linear / 32];
  if (run.block_arrived > 0 && run.error.empty())
    run.error = thread_name(run, linear) +
                " exited while other threads of its block wait at __syncthreads (a barrier under "
                "divergent control flow)";
  if (warp.arrived > 0 && run.error.empty())
    run.error = thread_name(run, linear) +
                " exited while other lanes of its warp wait in a shuffle or vote";
  run.exited++;
  warp.exited++;
  run.fibers[linear].state = FiberState::kDone;
  // The next thread may start on this stack once we have switched away from it (a thread that
  // never waits leaves its stack to the next one: elementwise kernels run on one hot stack).
  run.free_stacks.push_back(run.fibers[linear].stack);
  switch_to_scheduler(run, true);
  std::abort();  // a finished fiber is never resumed
}

void start_fiber(BlockRun& run, unsigned linear) {
  Fiber& f = run.fibers[linear];
  if (run.free_stacks.empty()) {
    run.stacks.push_back(map_stack());
    run.free_stacks.push_back((int)run.stacks.size() - 1);
  }
  f.stack = run.free_stacks.back();
  run.free_stacks.pop_back();
  f.state = FiberState::kReady;
  char* top = stack_top(run.stacks[f.stack], f.stack);
#ifdef CHAMBER_SIMT_ASAN
  // A finished fiber leaves its frames' redzones poisoned (it never returned); clear the part of
  // the stack kernels use before the next fiber runs on it.
  constexpr size_t kUnpoisonBytes = 64 * 1024;
  ASAN_UNPOISON_MEMORY_REGION(top - kUnpoisonBytes, kUnpoisonBytes);
#endif
#ifdef CHAMBER_SIMT_USE_UCONTEXT
  getcontext(&f.context);
  f.context.uc_stack.ss_sp = run.stacks[f.stack] + kGuardBytes;
  f.context.uc_stack.ss_size = kStackBytes;
  f.context.uc_link = nullptr;
  makecontext(&f.context, fiber_main, 0);
  (void)top;
#else
  // Initial frame for switch_stacks to "return" into fiber_main: six zeroed callee-saved
  // registers, then fiber_main's address, then a null return address for fiber_main itself so
  // that its entry sees the stack alignment of a normal call (rsp % 16 == 8).
  uintptr_t* sp = (uintptr_t*)((uintptr_t)top & ~(uintptr_t)15);
  *--sp = 0;
  *--sp = (uintptr_t)&fiber_main;
  for (int i = 0; i < 6; i++) *--sp = 0;
  f.sp = sp;
#endif
}

void run_block(BlockRun& run) {
  run.block_arrived = run.exited = 0;
  for (unsigned w = 0; w < run.warps.size(); w++) {
    Warp& warp = run.warps[w];
    warp.lanes = std::min(32u, run.num_threads - w * 32);
    warp.arrived = warp.exited = 0;
  }
  // Poison dynamic shared memory (0xff bytes are NaN as floats) so reads of unwritten shared
  // memory show up in the results.
  std::memset(run.shared.data(), 0xff, run.shared.size());
  for (unsigned t = 0; t < run.num_threads; t++) {
    run.fibers[t].state = FiberState::kNotStarted;
    run.fibers[t].parity = 0;
  }
  run.free_stacks.clear();
  for (int i = (int)run.stacks.size() - 1; i >= 0; i--) run.free_stacks.push_back(i);

  run.ready.resize(run.num_threads);
  run.ready_head = 0;
  run.ready_count = run.num_threads;
  for (unsigned t = 0; t < run.num_threads; t++) run.ready[t] = t;
  while (run.ready_count > 0) {
    unsigned t = run.ready[run.ready_head];
    if (++run.ready_head == run.num_threads) run.ready_head = 0;
    run.ready_count--;
    if (run.fibers[t].state == FiberState::kNotStarted) start_fiber(run, t);
    switch_to_fiber(run, t);
    if (!run.error.empty()) fail("simt: ", run.error);
  }
  if (run.exited != run.num_threads)
    fail("simt: kernel '", run.kernel_name, "' block (", blockIdx.x, ",", blockIdx.y, ",",
         blockIdx.z, ") deadlocked: threads wait at different barriers (__syncthreads or a warp "
         "collective under divergent control flow)");
}

BlockRun& block_run_for_this_thread(unsigned num_threads, size_t shared_bytes) {
  thread_local BlockRun run;
  run.fibers.resize(num_threads);
  run.warps.resize((num_threads + 31) / 32);
  run.shared.resize(shared_bytes + kSharedAlignment);
  uintptr_t start = (uintptr_t)run.shared.data();
  run.shared_base =
      run.shared.data() + (kSharedAlignment - start % kSharedAlignment) % kSharedAlignment;
  run.num_threads = num_threads;
  run.error.clear();
  return run;
}

}  // namespace

// ---- called from inside an emulated thread ----
namespace {
void make_ready(BlockRun& run, unsigned t) {
  run.fibers[t].state = FiberState::kReady;
  size_t slot = run.ready_head + run.ready_count;
  run.ready[slot < run.num_threads ? slot : slot - run.num_threads] = t;
  run.ready_count++;
}
}  // namespace

void block_barrier() {
  BlockRun& run = *tl_run;
  if (run.exited > 0)
    abandon_fiber(run, thread_name(run, run.current) +
                           " reached __syncthreads after other threads of its block exited");
  if (++run.block_arrived == run.num_threads) {  // last one in: release everyone
    run.block_arrived = 0;
    for (unsigned t = 0; t < run.num_threads; t++)
      if (run.fibers[t].state == FiberState::kWaitBlock) make_ready(run, t);
    return;
  }
  run.fibers[run.current].state = FiberState::kWaitBlock;
  switch_to_scheduler(run, false);
}

uint64_t* warp_exchange(uint64_t value, WarpBody body) {
  BlockRun& run = *tl_run;
  unsigned linear = run.current;
  Warp& warp = run.warps[linear / 32];
  Fiber& f = run.fibers[linear];
  if (warp.exited > 0)
    abandon_fiber(run, thread_name(run, linear) + " entered a warp collective (shuffle, vote, "
                                                   "wmma) after other lanes of its warp exited");
  unsigned parity = f.parity;
  f.parity ^= 1;
  warp.slots[parity][linear % 32] = value;
  warp.bodies[parity][linear % 32] = body;
  if (++warp.arrived == warp.lanes) {
    for (unsigned l = 0; l < warp.lanes; l++)
      if (warp.bodies[parity][l] != body)
        abandon_fiber(run, thread_name(run, linear) + " and lane " + std::to_string(l) +
                               " of its warp are in different warp collectives (a shuffle, vote or "
                               "wmma operation under divergent control flow)");
    if (body) body(warp.slots[parity]);  // throws on a misuse it detects
    warp.arrived = 0;
    unsigned first = linear / 32 * 32;
    for (unsigned t = first; t < first + warp.lanes; t++)
      if (run.fibers[t].state == FiberState::kWaitWarp) make_ready(run, t);
  } else {
    f.state = FiberState::kWaitWarp;
    switch_to_scheduler(run, false);
  }
  return warp.slots[parity];
}

unsigned lane_id() { return tl_run->current % 32; }
unsigned warp_lanes() { return tl_run->warps[tl_run->current / 32].lanes; }
void* dynamic_shared_memory() { return tl_run->shared_base; }

void check_wmma_call(const char* op, const void* ptr, unsigned ldm_bytes) {
  if (warp_lanes() != 32)
    fail("wmma::", op, " in a warp of ", warp_lanes(), " lanes: tensor core operations need all 32");
  if (ptr && (uintptr_t)ptr % 32 != 0)
    fail("wmma::", op, " at address ", (uintptr_t)ptr, " (", (uintptr_t)ptr % 32,
         " bytes past a 32-byte boundary): the pointer must be 32-byte (256-bit) aligned");
  if (ptr && ldm_bytes % 16 != 0)
    fail("wmma::", op, " with a leading dimension of ", ldm_bytes,
         " bytes: it must be a multiple of 16 bytes");
}

void mma_m16n8k16_bf16(float (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[2],
                       const float (&c)[4]) {
  if (warp_lanes() != 32)
    fail("mma.sync m16n8k16 in a warp of ", warp_lanes(), " lanes: it needs all 32");
  struct Call {
    float* d;
    const uint32_t* a;
    const uint32_t* b;
    const float* c;
  };
  Call call{d, a, b, c};
  warp_exchange((uint64_t)(uintptr_t)&call, [](const uint64_t* values) {
    auto lane = [&](int l) -> const Call& {
      return *reinterpret_cast<const Call*>(static_cast<uintptr_t>(values[l]));
    };
    // Register r of a lane holds two bf16: the element in its low 16 bits first.
    auto half = [](uint32_t reg, int i) { return bf16_bits_to_float((uint16_t)(reg >> (16 * i))); };
    float am[16][16], bm[16][8], dm[16][8];
    for (int l = 0; l < 32; l++) {
      const int g = l / 4, t = l % 4;
      const Call& x = lane(l);
      for (int i = 0; i < 2; i++) {
        am[g][2 * t + i] = half(x.a[0], i);
        am[g + 8][2 * t + i] = half(x.a[1], i);
        am[g][2 * t + 8 + i] = half(x.a[2], i);
        am[g + 8][2 * t + 8 + i] = half(x.a[3], i);
        bm[2 * t + i][g] = half(x.b[0], i);
        bm[2 * t + 8 + i][g] = half(x.b[1], i);
        dm[g][2 * t + i] = x.c[i];
        dm[g + 8][2 * t + i] = x.c[2 + i];
      }
    }
    for (int r = 0; r < 16; r++)
      for (int n = 0; n < 8; n++)
        for (int k = 0; k < 16; k++) dm[r][n] += am[r][k] * bm[k][n];
    for (int l = 0; l < 32; l++) {  // after every read: d may alias c
      const int g = l / 4, t = l % 4;
      float* out = lane(l).d;
      out[0] = dm[g][2 * t];
      out[1] = dm[g][2 * t + 1];
      out[2] = dm[g + 8][2 * t];
      out[3] = dm[g + 8][2 * t + 1];
    }
  });
}

void wmma_arguments_differ(const char* op) {
  fail("wmma::", op, ": the lanes of a warp passed different pointers, strides or layouts");
}

namespace {
std::mutex g_shared_limits_mutex;
std::map<const void*, size_t>& shared_limits() {  // kernel -> its opted-in dynamic shared bytes
  static std::map<const void*, size_t> limits;
  return limits;
}
}  // namespace

bool set_max_dynamic_shared(const void* kernel, int bytes) {
  if (bytes < 0 || bytes > kMaxOptInSharedBytes) return false;
  std::lock_guard<std::mutex> lock(g_shared_limits_mutex);
  shared_limits()[kernel] = (size_t)bytes;
  return true;
}

void run_grid(const char* kernel_name, const void* kernel, dim3 grid, dim3 block,
              size_t shared_bytes, void (*body)(void*), void* ctx) {
  uint64_t threads = (uint64_t)block.x * block.y * block.z;
  uint64_t blocks = (uint64_t)grid.x * grid.y * grid.z;
  if (threads == 0 || threads > kMaxThreadsPerBlock || block.z > 64)
    fail("simt: launch of '", kernel_name, "' with block (", block.x, ",", block.y, ",", block.z,
         "): a block must have 1..", kMaxThreadsPerBlock, " threads (z <= 64)");
  if (blocks == 0 || grid.y > 65535 || grid.z > 65535)
    fail("simt: launch of '", kernel_name, "' with grid (", grid.x, ",", grid.y, ",", grid.z,
         "): every grid dimension must be >= 1 (y, z <= 65535)");
  size_t shared_limit = kMaxSharedBytes;
  {
    std::lock_guard<std::mutex> lock(g_shared_limits_mutex);
    auto it = shared_limits().find(kernel);
    if (it != shared_limits().end() && it->second > shared_limit) shared_limit = it->second;
  }
  if (shared_bytes > shared_limit)
    fail("simt: launch of '", kernel_name, "' asks for ", shared_bytes,
         " bytes of dynamic shared memory; its limit is ", shared_limit,
         shared_limit == kMaxSharedBytes ? " (the default; cudaFuncSetAttribute raises it)" : "");

  // Blocks run one after another: on a small shared machine, waking worker threads for each
  // launch costs more than it saves, and a fixed order keeps emulated atomics deterministic.
  std::string first_error;
  for (uint64_t b = 0; b < blocks && first_error.empty(); b++) {
    try {
      BlockRun& run = block_run_for_this_thread((unsigned)threads, shared_bytes);
      tl_run = &run;
      run.kernel_name = kernel_name;
      run.body = body;
      run.ctx = ctx;
      gridDim = grid;
      blockDim = block;
      blockIdx.x = (unsigned)(b % grid.x);
      blockIdx.y = (unsigned)((b / grid.x) % grid.y);
      blockIdx.z = (unsigned)(b / ((uint64_t)grid.x * grid.y));
      run_block(run);
      tl_run = nullptr;
    } catch (const std::exception& e) {
      tl_run = nullptr;
      first_error = e.what();
    }
  }
  if (!first_error.empty()) throw Error(first_error);
}

}  // namespace chamber::simt
