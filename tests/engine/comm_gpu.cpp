// NCCL on one GPU (skipped without one): the device kit's check of the data-parallel GPU path,
// which needs no mpirun. A one-rank all-reduce (average) leaves GPT-2 124M's gradient-sized buffer
// exactly as it was, and its time is printed.
#include <gtest/gtest.h>

#include <cstdio>
#include <vector>

#include "engine/comm.h"
#include "tests/test_util.h"
#ifdef CHAMBER_HAVE_CUDA
#include "kernels/cuda_backend.h"
#endif

namespace chamber {
namespace {

TEST(CommGpu, NcclOneRankAllReduceLeavesTheBuffer) {
#ifdef CHAMBER_HAVE_CUDA
  if (!cuda_device_available()) GTEST_SKIP() << "no CUDA device on this machine";
  if (!comm_have_nccl()) GTEST_SKIP() << "built without CUDA's nccl.h";
  std::string version;
  try {
    version = comm_nccl_version();
  } catch (const Error& e) {
    GTEST_SKIP() << e.what();
  }
  const Ops& ops = cuda_ops();
  const size_t n = 124'475'904;   // GPT-2 124M's parameters
  std::vector<float> host = testing::random_vector(n, 11, -1.0f, 1.0f);
  float* device_buf = (float*)ops.alloc(n * sizeof(float));
  ops.from_host(device_buf, host.data(), n * sizeof(float));
  double seconds = comm_nccl_one_rank_all_reduce(ops, device_buf, n, 5);
  std::vector<float> back(n);
  ops.to_host(back.data(), device_buf, n * sizeof(float));
  ops.free(device_buf);
  size_t differing = 0;
  for (size_t i = 0; i < n; i++) differing += back[i] != host[i];
  EXPECT_EQ(differing, 0u);
  std::printf("NCCL %s, one rank: all-reduce of %.1f MB in %.3f ms (%.1f GB/s through the buffer)\n",
              version.c_str(), n * 4 / 1e6, seconds * 1e3, n * 4 / seconds / 1e9);
#else
  GTEST_SKIP() << "built without CUDA";
#endif
}

}  // namespace
}  // namespace chamber
