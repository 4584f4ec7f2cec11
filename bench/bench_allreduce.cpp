// Time of the data-parallel collectives (engine/comm.h) at the gradient sizes of Chamber's
// models, on host buffers over MPI (the CPU backend's path). Run as ranks:
//   mpirun -np 2 build/bench_allreduce          (as root add --allow-run-as-root)
// Prints, per size, the median over repeats of one all-reduce (the plain data-parallel step) and
// of one reduce-scatter plus all-gather (ZeRO-1's pair), and the bus bandwidth of the all-reduce
// (2 (N-1)/N x bytes / time, the usual measure).
#include <algorithm>
#include <cstdio>
#include <vector>

#include "engine/comm.h"
#include "util/util.h"

using namespace chamber;

static double median_seconds(const Comm& comm, int repeats, const std::function<void()>& collective) {
  std::vector<double> times;
  for (int r = 0; r < repeats; r++) {
    comm_barrier(comm);
    double t0 = now_seconds();
    collective();
    double dt = now_seconds() - t0;
    comm_all_reduce_sum(comm, &dt, 1);   // the ranks' mean: each waits for the slowest anyway
    times.push_back(dt / comm.world);
  }
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

int main() {
  try {
    Comm& comm = comm_world();
    comm_init(comm);
    if (comm.world == 1) {
      std::printf("bench_allreduce: one process; run it under mpirun -np 2 (or more)\n");
      return 0;
    }
    struct Size { const char* model; size_t floats; };
    // Parameter counts of configs/tiny.yaml and GPT-2 124M (their gradient arenas are a little larger).
    const Size sizes[] = {{"tiny (configs/tiny.yaml)", 891'777}, {"GPT-2 124M", 124'475'904}};
    if (comm.rank == 0) std::printf("%d ranks (MPI, host buffers)\n", comm.world);
    for (const Size& s : sizes) {
      size_t slice = (s.floats + comm.world - 1) / comm.world;
      std::vector<float> grads(slice * comm.world, 1.0f + comm.rank);
      int repeats = s.floats > 10'000'000 ? 5 : 21;
      double all_reduce = median_seconds(comm, repeats, [&] { comm_all_reduce_mean(comm, grads.data(), s.floats); });
      double zero1 = median_seconds(comm, repeats, [&] {
        comm_reduce_scatter_mean(comm, grads.data(), slice);
        comm_all_gather(comm, grads.data(), slice);
      });
      double bus_gbs = 2.0 * (comm.world - 1) / comm.world * s.floats * 4 / all_reduce / 1e9;
      if (comm.rank == 0)
        std::printf("%-26s %7.1f MB  all-reduce %8.2f ms (%.2f GB/s bus)  reduce-scatter+all-gather %8.2f ms\n",
                    s.model, s.floats * 4 / 1e6, all_reduce * 1e3, bus_gbs, zero1 * 1e3);
    }
    comm_finalize(comm);
  } catch (const Error& e) {
    std::fprintf(stderr, "bench_allreduce: %s\n", e.what());
    return 1;
  }
  return 0;
}
