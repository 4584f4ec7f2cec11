// The machine's measured matmul peak: OpenBLAS cblas_sgemm (the library the fast CPU backend
// uses), C = A B^T on square float32 matrices, threads from OMP_NUM_THREADS / all cores.
// `make bench-cpu` (bench/run_bench_cpu.py) takes the best FLOP/s over the sizes as "the sgemm
// peak" and reports the model's FLOP/s as a share of it: the ceiling a training step could reach if
// it were nothing but large matmuls.
#include <benchmark/benchmark.h>
#include <cblas.h>

#include <vector>

#include "util/util.h"

namespace {

std::vector<float> random_floats(size_t n, uint64_t seed) {
  chamber::Rng rng(seed);
  std::vector<float> v(n);
  for (float& x : v) x = 2.0f * rng.uniform() - 1.0f;
  return v;
}

void BM_sgemm(benchmark::State& state) {
  const int n = (int)state.range(0);
  auto a = random_floats((size_t)n * n, 1), b = random_floats((size_t)n * n, 2);
  std::vector<float> c((size_t)n * n);
  for (auto _ : state)
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, n, n, 1.0f, a.data(), n, b.data(), n,
                0.0f, c.data(), n);
  state.counters["FLOP/s"] = benchmark::Counter(2.0 * n * n * n * (double)state.iterations(),
                                                benchmark::Counter::kIsRate);
}
BENCHMARK(BM_sgemm)->Arg(256)->Arg(512)->Arg(1024)->Arg(2048)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
