// The SIMT emulator's tensor cores: the slice of CUDA's warp matrix API (nvcuda::wmma, <mma.h>)
// that Chamber's kernels use (the fp32 builds' flash attention, kernels/attention.cu), one shape
// with fp32 accumulators:
//   m16n16k8, TF32 inputs:
//     fragment<matrix_a, 16,16,8, precision::tf32, row_major|col_major>   A, 16 x 8
//     fragment<matrix_b, 16,16,8, precision::tf32, row_major|col_major>   B, 8 x 16
//     fragment<accumulator, 16,16,8, float>                               C and D, 16 x 16
//   load_matrix_sync, store_matrix_sync, fill_fragment, mma_sync (D = A B + C),
//   __float_to_tf32, and num_elements / x[] for elementwise work on a fragment. As in CUDA, an
//   A or B fragment is loaded from float memory and an accumulator from float.
// The bf16 kernels use the raw mma.sync instruction instead (simt_mma.h).
// Included by simt.h; kernels include <mma.h> on the GPU and get this under the emulator.
//
// How a warp's fragment is spread over its lanes is unspecified in CUDA, so any mapping is
// legal; kernels may only rely on load and store being inverse to each other for one fragment
// type. Here element (r, c) of a fragment's matrix, e = r * cols + c in row-major order, lives in
// lane e % 32 at x[e / 32]. The collective operations (load, store, mma) are warp barriers: each
// lane publishes a pointer to its own call (fragment and arguments) and the last lane to arrive
// does the whole operation for all 32 (simt.h's warp_exchange with a body), so it reads and writes
// every lane's fragment at one instant, as the hardware's single instruction would.
//
// Arithmetic. __float_to_tf32 rounds to nearest with ties away from zero (PTX cvt.rna.tf32.f32,
// which CUDA's version compiles to), keeping the fp32 layout with the low 13 mantissa bits zero.
// mma_sync drops those 13 bits of any A or B element that still has them (unrounded inputs are
// truncated, as Ampere and Hopper tensor cores read them), multiplies exactly (two 11-bit
// significands fit a float) and accumulates in fp32 in k order onto C.
//
// One extension for tests: fragments of element type `float` (not in CUDA) hold full fp32
// inputs and multiply them unrounded, so a kernel written over the element type can run under the
// emulator with fp32 products, as the emulated build's cuBLASLt stand-in does (kernels/gemm.cu).
//
// Checks the hardware does not make (each a chamber::Error naming kernel, block and thread): a
// warp with fewer than 32 lanes, lanes passing different pointers or strides to one operation,
// a pointer not 32-byte aligned, a leading dimension not a multiple of 16 bytes (4 floats), and
// lanes in different collectives (a divergent wmma call).
#pragma once
#include <cstdint>
#include <cstring>
#include <type_traits>

namespace chamber::simt {
// Fails (throws chamber::Error) unless the warp is whole and ptr/ldm meet wmma's alignment rules.
void check_wmma_call(const char* op, const void* ptr, unsigned ldm_bytes);
// Fails naming `op`: lanes passed different arguments to one warp-wide call.
[[noreturn]] void wmma_arguments_differ(const char* op);
}  // namespace chamber::simt

namespace nvcuda::wmma {

struct row_major {};
struct col_major {};
struct matrix_a {};
struct matrix_b {};
struct accumulator {};
namespace precision {
struct tf32 {};
}  // namespace precision
enum layout_t { mem_row_major, mem_col_major };

inline float __float_to_tf32(float in) {
  uint32_t u;
  std::memcpy(&u, &in, 4);
  if ((u & 0x7f800000u) == 0x7f800000u) return in;  // Inf and NaN unchanged
  u = (u + 0x1000u) & 0xffffe000u;  // half of the dropped bits, added to the magnitude: ties away
  float out;
  std::memcpy(&out, &u, 4);
  return out;
}

template <typename Use, int M, int N, int K, typename T, typename Layout = void>
class fragment {
  static constexpr bool kAcc = std::is_same_v<Use, accumulator>;
  static_assert(M == 16 && N == 16 && K == 8, "the SIMT emulator has the m16n16k8 shape only");
  static_assert(kAcc ? std::is_same_v<T, float>
                     : std::is_same_v<T, precision::tf32> || std::is_same_v<T, float>,
                "m16n16k8 takes precision::tf32 inputs (or float, an emulator extension) and "
                "float accumulators");

 public:
  static constexpr int kRows = std::is_same_v<Use, matrix_b> ? K : M;
  static constexpr int kCols = std::is_same_v<Use, matrix_a> ? K : N;
  static constexpr bool kTf32 = std::is_same_v<T, precision::tf32>;
  static constexpr bool kRowMajor = std::is_same_v<Layout, row_major>;
  enum { num_elements = kRows * kCols / 32, num_storage_elements = num_elements };
  using element_type = T;
  // What x[] holds and what load_matrix_sync reads.
  using storage_element_type = float;
  storage_element_type x[num_elements];

  // The lane that holds element (r, c), and where in that lane's x[] it sits.
  static int lane_of(int r, int c) { return (r * kCols + c) % 32; }
  storage_element_type& at(int r, int c) { return x[(r * kCols + c) / 32]; }
  const storage_element_type& at(int r, int c) const { return x[(r * kCols + c) / 32]; }
};

namespace detail {

inline float tf32_bits(float v) {  // what a tensor core reads of an unrounded input
  uint32_t u;
  std::memcpy(&u, &v, 4);
  if ((u & 0x7f800000u) != 0x7f800000u) u &= 0xffffe000u;
  std::memcpy(&v, &u, 4);
  return v;
}

// One lane's part in a warp-wide call: its fragment and the arguments every lane must share.
template <typename Frag, typename Ptr>
struct MatrixCall {
  Frag* fragment;
  Ptr ptr;
  unsigned ldm;
  bool row_major;
};

template <typename Call>
const Call& lane_call(const uint64_t* values, int lane) {
  return *reinterpret_cast<const Call*>(static_cast<uintptr_t>(values[lane]));
}

template <typename Call>
void check_uniform(const uint64_t* values, const char* op) {
  const Call& first = lane_call<Call>(values, 0);
  for (int l = 1; l < 32; l++) {
    const Call& c = lane_call<Call>(values, l);
    if (c.ptr != first.ptr || c.ldm != first.ldm || c.row_major != first.row_major)
      chamber::simt::wmma_arguments_differ(op);
  }
}

// Runs the matrix load or store described by each lane's `call` as one warp-wide operation.
template <bool kLoad, typename Frag, typename Ptr>
void matrix_transfer(Frag* fragment, Ptr ptr, unsigned ldm, bool row_major, const char* op) {
  chamber::simt::check_wmma_call(op, ptr, ldm * (unsigned)sizeof(*ptr));
  using Call = MatrixCall<Frag, Ptr>;
  Call call{fragment, ptr, ldm, row_major};
  chamber::simt::warp_exchange(
      (uint64_t)(uintptr_t)&call, [](const uint64_t* values) {
        check_uniform<Call>(values, kLoad ? "load_matrix_sync" : "store_matrix_sync");
        const Call& first = lane_call<Call>(values, 0);
        for (int r = 0; r < Frag::kRows; r++)
          for (int c = 0; c < Frag::kCols; c++) {
            size_t offset = first.row_major ? (size_t)r * first.ldm + c : (size_t)c * first.ldm + r;
            Frag& owner = *lane_call<Call>(values, Frag::lane_of(r, c)).fragment;
            if constexpr (kLoad) owner.at(r, c) = first.ptr[offset];
            else first.ptr[offset] = owner.at(r, c);
          }
      });
}

}  // namespace detail

// A or B from memory of the fragment's storage type; the fragment type's Layout says how the
// matrix is stored.
template <typename Use, int K, typename T, typename Layout>
void load_matrix_sync(fragment<Use, 16, 16, K, T, Layout>& a,
                      const typename fragment<Use, 16, 16, K, T, Layout>::storage_element_type* p,
                      unsigned ldm) {
  static_assert(!std::is_same_v<Use, accumulator>, "an accumulator load takes a layout_t");
  detail::matrix_transfer<true>(&a, p, ldm, fragment<Use, 16, 16, K, T, Layout>::kRowMajor,
                                "load_matrix_sync");
}
template <int K>
void load_matrix_sync(fragment<accumulator, 16, 16, K, float>& c, const float* p, unsigned ldm,
                      layout_t layout) {
  detail::matrix_transfer<true>(&c, p, ldm, layout == mem_row_major, "load_matrix_sync");
}
template <int K>
void store_matrix_sync(float* p, const fragment<accumulator, 16, 16, K, float>& c, unsigned ldm,
                       layout_t layout) {
  using Frag = fragment<accumulator, 16, 16, K, float>;
  detail::matrix_transfer<false>(const_cast<Frag*>(&c), p, ldm, layout == mem_row_major,
                                 "store_matrix_sync");
}

template <typename Use, int K, typename T, typename Layout>
void fill_fragment(fragment<Use, 16, 16, K, T, Layout>& f,
                   const typename fragment<Use, 16, 16, K, T, Layout>::storage_element_type& value) {
  for (auto& v : f.x) v = value;
}

// D = A B + C; d may be the same fragment as c.
template <int K, typename T, typename LayoutA, typename LayoutB>
void mma_sync(fragment<accumulator, 16, 16, K, float>& d,
              const fragment<matrix_a, 16, 16, K, T, LayoutA>& a,
              const fragment<matrix_b, 16, 16, K, T, LayoutB>& b,
              const fragment<accumulator, 16, 16, K, float>& c) {
  using Acc = fragment<accumulator, 16, 16, K, float>;
  using A = fragment<matrix_a, 16, 16, K, T, LayoutA>;
  using B = fragment<matrix_b, 16, 16, K, T, LayoutB>;
  struct Call {
    Acc* d;
    const A* a;
    const B* b;
    const Acc* c;
  };
  chamber::simt::check_wmma_call("mma_sync", nullptr, 0);
  Call call{&d, &a, &b, &c};
  chamber::simt::warp_exchange((uint64_t)(uintptr_t)&call, [](const uint64_t* values) {
    auto lane = [&](int l) -> const Call& { return detail::lane_call<Call>(values, l); };
    float am[16][K], bm[K][16], dm[16][16];
    for (int r = 0; r < 16; r++)
      for (int k = 0; k < K; k++) {
        float v = lane(A::lane_of(r, k)).a->at(r, k);
        am[r][k] = A::kTf32 ? detail::tf32_bits(v) : v;
      }
    for (int k = 0; k < K; k++)
      for (int n = 0; n < 16; n++) {
        float v = lane(B::lane_of(k, n)).b->at(k, n);
        bm[k][n] = B::kTf32 ? detail::tf32_bits(v) : v;
      }
    for (int r = 0; r < 16; r++)
      for (int n = 0; n < 16; n++) {
        float acc = lane(Acc::lane_of(r, n)).c->at(r, n);
        for (int k = 0; k < K; k++) acc += am[r][k] * bm[k][n];
        dm[r][n] = acc;
      }
    for (int r = 0; r < 16; r++)  // after every read: d may alias c
      for (int n = 0; n < 16; n++) lane(Acc::lane_of(r, n)).d->at(r, n) = dm[r][n];
  });
}

}  // namespace nvcuda::wmma
