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

}  // namespace
}  // namespace chamber
