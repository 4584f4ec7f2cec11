// memory cases on the GPU (skipped without one); the cases are in memory_cases.h. Also cuRAND's
// normal fill, which only the CUDA build has.
#include "tests/kernels/memory_cases.h"

namespace chamber::testing {
CHAMBER_GPU_CASES(MemoryCases);

TEST(CurandGpu, FillNormalHasTheAskedMomentsAndRepeatsPerSeed) {
#ifdef CHAMBER_HAVE_CUDA
  if (!cuda_device_available()) GTEST_SKIP() << "no CUDA device on this machine";
  const Ops& ops = cuda_ops();
  const size_t n = 100001;  // odd: the last value comes from a separate pair
  BackendArray<float> a(ops, nan_vector(n)), b(ops, nan_vector(n));
  cuda_fill_normal(a, n, 0.5f, 2.0f, 7);
  cuda_fill_normal(b, n, 0.5f, 2.0f, 7);
  std::vector<float> x = a.download();
  EXPECT_EQ(x, b.download());
  double sum = 0, sq = 0;
  for (float v : x) {
    ASSERT_TRUE(std::isfinite(v));
    sum += v;
    sq += (double)v * v;
  }
  double mean = sum / n, var = sq / n - mean * mean;
  EXPECT_NEAR(mean, 0.5, 0.03);  // 5 standard errors of the mean (2 / sqrt(n) ~ 0.006)
  EXPECT_NEAR(std::sqrt(var), 2.0, 0.03);
#else
  GTEST_SKIP() << "built without CUDA";
#endif
}

}  // namespace chamber::testing
