// One test body, every GPU-style backend: the cases in tests/kernels/<op>_cases.h are gtest
// value-parameterised tests over a Backend. <op>_simt.cpp instantiates them for the SIMT emulator
// (test_simt, label simt) and <op>_gpu.cpp for the real GPU (test_gpu, label gpu; skipped without
// a device), so both run the same comparison against the C++ reference.
//
// How every case checks a kernel:
//   - inputs are random (never zeros), sizes are not multiples of 32 or of any block size;
//   - every output buffer is filled with NaN before the op, so an element the kernel forgets to
//     write fails the comparison; accumulated gradients start from random values, not zero, so
//     "=" instead of "+=" fails too;
//   - the reference runs in double (kernels/<op>.h, the one reference) and is rounded to float;
//     the tolerance is float's (kF32Rtol/kF32Atol) times a slack whose reason is stated at the
//     case, or TF32's for products that go through cuBLASLt on the GPU.
// This header is included once per test executable (by the files that instantiate the cases).
#pragma once
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "kernels/ops.h"
#include "kernels/simt_backend.h"
#include "tests/test_util.h"
#ifdef CHAMBER_HAVE_CUDA
#include "kernels/cuda_backend.h"
#endif

namespace chamber::testing {

struct Backend {
  const char* name;
  const Ops& (*ops)();
  bool (*available)();
  bool tf32_matmuls;  // products run on TF32 tensor cores (10-bit mantissa inputs)
};

inline std::string backend_name(const ::testing::TestParamInfo<Backend>& info) {
  return info.param.name;
}
inline void PrintTo(const Backend& backend, std::ostream* os) { *os << backend.name; }

// Buffer in the backend's memory, freed with the backend's free.
template <typename T>
struct BackendArray {
  const Ops* ops = nullptr;
  T* ptr = nullptr;
  size_t count = 0;
  BackendArray(const Ops& o, size_t n) : ops(&o), count(n) {
    ptr = (T*)o.alloc(n * sizeof(T) + 1);  // +1: a zero-size request still gets a real buffer
  }
  BackendArray(const Ops& o, const std::vector<T>& host) : BackendArray(o, host.size()) {
    upload(host);
  }
  BackendArray(const BackendArray&) = delete;
  BackendArray& operator=(const BackendArray&) = delete;
  ~BackendArray() { ops->free(ptr); }
  void upload(const std::vector<T>& host) {
    ops->from_host(ptr, host.data(), host.size() * sizeof(T));
  }
  std::vector<T> download() const {
    std::vector<T> host(count);
    ops->to_host(host.data(), ptr, count * sizeof(T));
    return host;
  }
  operator T*() const { return ptr; }
};

// A float buffer whose every element is NaN: outputs start this way.
inline std::vector<float> nan_vector(size_t n) {
  return std::vector<float>(n, std::numeric_limits<float>::quiet_NaN());
}
inline std::vector<double> widen(const std::vector<float>& v) { return {v.begin(), v.end()}; }
inline std::vector<float> narrow(const std::vector<double>& v) {
  std::vector<float> out(v.size());
  for (size_t i = 0; i < v.size(); i++) out[i] = (float)v[i];
  return out;
}

// Tolerances. Slack multiplies float's for ops that sum many terms in a different order than
// the reference; TF32 products have ~2^-11 relative error per term, so sums of O(100) terms of
// O(1) inputs are good to ~1e-3 relative, ~1e-3 absolute.
struct Tolerance {
  double atol, rtol;
};
inline Tolerance f32_tolerance(double slack) { return {kF32Atol * slack, kF32Rtol * slack}; }
inline Tolerance gemm_tolerance(const Backend& backend, double slack) {
  if (backend.tf32_matmuls) return {5e-3, 5e-3};
  return f32_tolerance(slack);
}

#define EXPECT_BACKEND_CLOSE(got, want, tol) EXPECT_ALL_CLOSE((got), (want), (tol).atol, (tol).rtol)

// Allocation is zero-filled, copies to, within and from the backend round-trip, zero clears exactly
// the asked range.
inline void expect_memory_round_trip(const Ops& ops) {
  const size_t n = 1037;
  float* a = (float*)ops.alloc(n * sizeof(float));
  float* b = (float*)ops.alloc(n * sizeof(float));
  std::vector<float> host(n, 1.0f);
  ops.to_host(host.data(), a, n * sizeof(float));
  EXPECT_EQ(host, std::vector<float>(n, 0.0f)) << "alloc must return zeroed memory";

  auto x = random_vector(n, 101);
  ops.from_host(a, x.data(), n * sizeof(float));
  ops.copy(b, a, n * sizeof(float));
  ops.zero(b + 10, 7 * sizeof(float));
  ops.synchronize();
  ops.to_host(host.data(), b, n * sizeof(float));
  for (size_t i = 10; i < 17; i++) x[i] = 0.0f;
  EXPECT_EQ(host, x);
  ops.free(a);
  ops.free(b);
}

class BackendTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    if (!GetParam().available())
      GTEST_SKIP() << "backend '" << GetParam().name << "' has no device on this machine";
    ops = &GetParam().ops();
  }
  const Ops* ops = nullptr;
};

}  // namespace chamber::testing

// The two instantiations. Each cases header defines `class <Op>Cases : public BackendTest {}`.
#define CHAMBER_SIMT_CASES(Cases)                                                             \
  INSTANTIATE_TEST_SUITE_P(                                                                   \
      Simt, Cases,                                                                            \
      ::testing::Values(::chamber::testing::Backend{"simt", ::chamber::simt_ops,              \
                                                    [] { return true; }, false}),             \
      ::chamber::testing::backend_name)

#ifdef CHAMBER_HAVE_CUDA
#define CHAMBER_GPU_CASES(Cases)                                                              \
  INSTANTIATE_TEST_SUITE_P(                                                                   \
      Gpu, Cases,                                                                             \
      ::testing::Values(::chamber::testing::Backend{"cuda", ::chamber::cuda_ops,              \
                                                    ::chamber::cuda_device_available, true}), \
      ::chamber::testing::backend_name)
#else
// Without nvcc the GPU cases exist and skip, so ctest still lists (and explains) them.
#define CHAMBER_GPU_CASES(Cases)                                                              \
  INSTANTIATE_TEST_SUITE_P(                                                                   \
      Gpu, Cases,                                                                             \
      ::testing::Values(::chamber::testing::Backend{"cuda_not_built", ::chamber::reference_ops, \
                                                    [] { return false; }, true}),             \
      ::chamber::testing::backend_name)
#endif
