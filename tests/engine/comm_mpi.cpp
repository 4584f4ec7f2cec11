// The communicator across real ranks: run by ctest as `mpirun -np 2 test_comm_mpi` (label mpi).
// Every rank runs every test; each checks what it holds after the collective.
#include <gtest/gtest.h>

#include <vector>

#include "engine/comm.h"
#include "tests/test_util.h"

namespace chamber {
namespace {

// MPI is started once for the whole process (it cannot be restarted after MPI_Finalize), in the
// process's communicator that the training tests of this executable share.
struct CommEnvironment : ::testing::Environment {
  static Comm& comm() { return comm_world(); }
  void SetUp() override {
    comm_init(comm());
    comm_attach(comm(), reference_ops(), false);
  }
  void TearDown() override { comm_finalize(comm()); }
};
const auto* const kEnvironment = ::testing::AddGlobalTestEnvironment(new CommEnvironment);

TEST(CommMpi, RunsAsTwoRanks) {
  const Comm& c = CommEnvironment::comm();
  ASSERT_TRUE(launched_by_mpirun());
  EXPECT_EQ(c.world, 2);
  EXPECT_GE(c.rank, 0);
  EXPECT_LT(c.rank, 2);
}

// Each rank holds different random values; after the mean every rank holds the same, equal to
// the mean computed here from both ranks' inputs (each rank can regenerate the other's).
TEST(CommMpi, AllReduceMeanOfRandomBuffers) {
  const Comm& c = CommEnvironment::comm();
  const size_t n = 1000;
  std::vector<std::vector<float>> inputs;
  for (int r = 0; r < c.world; r++) inputs.push_back(testing::random_vector(n, 100 + r, -2.0f, 2.0f));
  std::vector<float> buf = inputs[c.rank];
  comm_all_reduce_mean(c, buf.data(), n);
  for (size_t i = 0; i < n; i++) {
    double want = 0;
    for (int r = 0; r < c.world; r++) want += inputs[r][i];
    want /= c.world;
    ASSERT_NEAR(buf[i], want, 1e-6) << "element " << i << " on rank " << c.rank;
  }
}

TEST(CommMpi, SumAnyAndBroadcast) {
  const Comm& c = CommEnvironment::comm();
  double values[2] = {1.0, (double)c.rank};
  comm_all_reduce_sum(c, values, 2);
  EXPECT_EQ(values[0], c.world);
  EXPECT_EQ(values[1], c.world * (c.world - 1) / 2.0);
  EXPECT_TRUE(comm_any(c, c.rank == 1));
  EXPECT_FALSE(comm_any(c, false));
  uint64_t word = c.rank == 0 ? 0x123456789abcdefull : 0;
  comm_broadcast(c, &word, sizeof(word), 0);
  EXPECT_EQ(word, 0x123456789abcdefull);
  comm_barrier(c);
}

}  // namespace
}  // namespace chamber
