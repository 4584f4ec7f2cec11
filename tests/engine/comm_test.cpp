// The communicator in a process not started by mpirun: rank 0 of 1, every collective leaves its
// buffers as they are, so single-process training is unchanged by the data-parallel layer.
#include <gtest/gtest.h>

#include <cstdlib>
#include <vector>

#include "engine/comm.h"
#include "tests/test_util.h"

namespace chamber {
namespace {

TEST(Comm, WithoutMpirunIsOneRankAndCollectivesAreIdentity) {
  if (launched_by_mpirun()) GTEST_SKIP() << "started by mpirun";
  Comm c;
  comm_init(c);
  comm_attach(c, reference_ops(), false);
  EXPECT_EQ(c.rank, 0);
  EXPECT_EQ(c.world, 1);
  std::vector<float> buf = testing::random_vector(257, 7, -1.0f, 1.0f), before = buf;
  comm_all_reduce_mean(c, buf.data(), buf.size());
  EXPECT_EQ(buf, before);
  double v = 3.5;
  comm_all_reduce_sum(c, &v, 1);
  EXPECT_EQ(v, 3.5);
  EXPECT_TRUE(comm_any(c, true));
  EXPECT_FALSE(comm_any(c, false));
  EXPECT_EQ(comm_description(c), "1 process");
  comm_finalize(c);
}

// A CUDA build opens NCCL only when a multi-GPU run needs it; here the library is opened and
// asked its version, as that run would, when it is on this machine.
TEST(Comm, NcclOpensAtRunTimeWhenPresent) {
  if (!comm_have_nccl()) GTEST_SKIP() << "built without CUDA's nccl.h";
  std::string version;
  try {
    version = comm_nccl_version();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("libnccl.so.2 was not found"), std::string::npos) << e.what();
    GTEST_SKIP() << e.what();
  }
  EXPECT_EQ(version.rfind("2.", 0), 0u) << version;
}

}  // namespace
}  // namespace chamber
