// The communicator (engine/comm.h): Open MPI for host buffers and rank bookkeeping, NCCL for the
// CUDA backend's device buffers. Built without MPI, only the single-process paths exist.
#include "engine/comm.h"

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "util/util.h"

#ifdef CHAMBER_HAVE_MPI
#include <mpi.h>
#endif
#ifdef CHAMBER_HAVE_NCCL
#include <cuda_runtime.h>
#include <dlfcn.h>
#include <nccl.h>
#endif

namespace chamber {

namespace {

bool g_started_mpi = false;

#ifdef CHAMBER_HAVE_MPI
void mpi_check(int status, const char* call) {
  if (status == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(status, text, &len);
  fail("MPI: ", call, " failed: ", std::string(text, len));
}
#endif

#ifdef CHAMBER_HAVE_NCCL
// NCCL is opened when a multi-GPU run first needs it rather than linked: its library is over
// 200 MB and missing from many GPU machines, which must still run everything else (and the GPU
// kit could not carry it). nccl.h gives the types; these are the calls Chamber makes.
struct NcclApi {
  decltype(&ncclGetUniqueId) get_unique_id = nullptr;
  decltype(&ncclCommInitRank) comm_init_rank = nullptr;
  decltype(&ncclCommDestroy) comm_destroy = nullptr;
  decltype(&ncclAllReduce) all_reduce = nullptr;
  decltype(&ncclReduceScatter) reduce_scatter = nullptr;
  decltype(&ncclAllGather) all_gather = nullptr;
  decltype(&ncclGetErrorString) error_string = nullptr;
  decltype(&ncclGetVersion) get_version = nullptr;
};

const NcclApi& nccl() {
  static const NcclApi api = [] {
    void* lib = dlopen("libnccl.so.2", RTLD_NOW | RTLD_LOCAL);
    if (!lib) lib = dlopen("libnccl.so", RTLD_NOW | RTLD_LOCAL);
    if (!lib)
      fail("data parallel on GPUs needs NCCL, and libnccl.so.2 was not found (", dlerror(),
           "); install NCCL (it comes with the CUDA toolkit or as Debian's libnccl2) or add its folder "
           "to LD_LIBRARY_PATH");
    NcclApi a;
    auto load = [&](auto& fn, const char* name) {
      fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(dlsym(lib, name));
      if (!fn) fail("NCCL: ", name, " is missing from libnccl.so (NCCL 2.10 or newer is needed)");
    };
    load(a.get_unique_id, "ncclGetUniqueId");
    load(a.comm_init_rank, "ncclCommInitRank");
    load(a.comm_destroy, "ncclCommDestroy");
    load(a.all_reduce, "ncclAllReduce");
    load(a.reduce_scatter, "ncclReduceScatter");
    load(a.all_gather, "ncclAllGather");
    load(a.error_string, "ncclGetErrorString");
    load(a.get_version, "ncclGetVersion");
    return a;
  }();
  return api;
}

void nccl_check(ncclResult_t status, const char* call) {
  if (status != ncclSuccess) fail("NCCL: ", call, " failed: ", nccl().error_string(status));
}
#endif

}  // namespace

bool launched_by_mpirun() {
  return std::getenv("OMPI_COMM_WORLD_SIZE") || std::getenv("PMI_SIZE") || std::getenv("PMIX_RANK");
}

bool comm_have_mpi() {
#ifdef CHAMBER_HAVE_MPI
  return true;
#else
  return false;
#endif
}

bool comm_have_nccl() {
#ifdef CHAMBER_HAVE_NCCL
  return true;
#else
  return false;
#endif
}

void comm_init(Comm& comm) {
  comm = Comm{};
  if (!launched_by_mpirun()) return;
#ifdef CHAMBER_HAVE_MPI
  int initialised = 0;
  MPI_Initialized(&initialised);
  if (!initialised) {
    mpi_check(MPI_Init(nullptr, nullptr), "MPI_Init");
    g_started_mpi = true;
  }
  mpi_check(MPI_Comm_rank(MPI_COMM_WORLD, &comm.rank), "MPI_Comm_rank");
  mpi_check(MPI_Comm_size(MPI_COMM_WORLD, &comm.world), "MPI_Comm_size");
#else
  fail("this process was started by mpirun but Chamber was built without MPI; install Open MPI "
       "(`make deps`, or: sudo apt-get install -y libopenmpi-dev openmpi-bin) and rebuild");
#endif
}

void comm_attach(Comm& comm, const Ops& ops, bool device_buffers) {
  comm.ops = &ops;
  comm.device_buffers = device_buffers;
  if (!device_buffers || comm.world == 1) return;
#if defined(CHAMBER_HAVE_NCCL) && defined(CHAMBER_HAVE_MPI)
  // One GPU per rank: the ranks of one machine take consecutive devices.
  int devices = 0;
  if (cudaGetDeviceCount(&devices) != cudaSuccess || devices == 0) fail("NCCL: no CUDA device on rank ", comm.rank);
  const char* local = std::getenv("OMPI_COMM_WORLD_LOCAL_RANK");
  int local_rank = local ? std::atoi(local) : comm.rank;
  cudaSetDevice(local_rank % devices);
  ncclUniqueId id;
  if (comm.rank == 0) nccl_check(nccl().get_unique_id(&id), "ncclGetUniqueId");
  mpi_check(MPI_Bcast(&id, sizeof(id), MPI_BYTE, 0, MPI_COMM_WORLD), "MPI_Bcast");
  ncclComm_t communicator = nullptr;
  nccl_check(nccl().comm_init_rank(&communicator, comm.world, id, comm.rank), "ncclCommInitRank");
  comm.nccl = communicator;
#else
  fail("data parallel on GPUs needs NCCL and MPI; this build has ", comm_have_nccl() ? "" : "no NCCL ",
       comm_have_mpi() ? "" : "no MPI", " (NCCL comes with the CUDA toolkit; MPI: `make deps`)");
#endif
}

void comm_finalize(Comm& comm) {
#ifdef CHAMBER_HAVE_NCCL
  if (comm.nccl) nccl().comm_destroy((ncclComm_t)comm.nccl);
#endif
  comm.nccl = nullptr;
#ifdef CHAMBER_HAVE_MPI
  if (g_started_mpi) {
    int finalised = 0;
    MPI_Finalized(&finalised);
    if (!finalised) MPI_Finalize();
    g_started_mpi = false;
  }
#endif
  comm = Comm{};
}

void comm_all_reduce_mean(const Comm& comm, float* buf, size_t n) {
  if (comm.world == 1 || n == 0) return;
  const float inv_world = 1.0f / (float)comm.world;
#ifdef CHAMBER_HAVE_NCCL
  if (comm.device_buffers) {
    // The backend's stream may still be writing buf: wait for it, reduce on NCCL's own stream
    // (the default one here), wait again. Overlapping with backward is a later refinement.
    comm.ops->synchronize();
    nccl_check(nccl().all_reduce(buf, buf, n, ncclFloat, ncclAvg, (ncclComm_t)comm.nccl, nullptr), "ncclAllReduce");
    if (cudaStreamSynchronize(nullptr) != cudaSuccess) fail("NCCL: cudaStreamSynchronize after ncclAllReduce failed");
    return;
  }
#endif
#ifdef CHAMBER_HAVE_MPI
  // MPI counts are int: large buffers go in pieces of at most 2^30 floats.
  const size_t piece = size_t(1) << 30;
  for (size_t off = 0; off < n; off += piece) {
    int count = (int)std::min(piece, n - off);
    mpi_check(MPI_Allreduce(MPI_IN_PLACE, buf + off, count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD), "MPI_Allreduce");
  }
  for (size_t i = 0; i < n; i++) buf[i] *= inv_world;
#else
  (void)inv_world;
#endif
}

// The reductions started and not yet waited for (one training step's buckets at a time).
struct PendingReductions {
  std::vector<std::pair<float*, size_t>> buffers;
#ifdef CHAMBER_HAVE_MPI
  std::vector<MPI_Request> requests;
#endif
#ifdef CHAMBER_HAVE_NCCL
  cudaStream_t nccl_stream = nullptr;   // created on first use
#endif
};
static PendingReductions g_pending;

void comm_all_reduce_mean_start(const Comm& comm, float* buf, size_t n) {
  if (comm.world == 1 || n == 0) return;
#ifdef CHAMBER_HAVE_NCCL
  if (comm.device_buffers) {
    if (!g_pending.nccl_stream && cudaStreamCreateWithFlags(&g_pending.nccl_stream, cudaStreamNonBlocking) != cudaSuccess)
      fail("NCCL: cannot create the communication stream");
    comm.ops->synchronize();   // buf's gradients are written
    nccl_check(nccl().all_reduce(buf, buf, n, ncclFloat, ncclAvg, (ncclComm_t)comm.nccl, g_pending.nccl_stream),
               "ncclAllReduce");
    g_pending.buffers.push_back({buf, n});
    return;
  }
#endif
#ifdef CHAMBER_HAVE_MPI
  const size_t piece = size_t(1) << 30;
  for (size_t off = 0; off < n; off += piece) {
    g_pending.requests.emplace_back();
    mpi_check(MPI_Iallreduce(MPI_IN_PLACE, buf + off, (int)std::min(piece, n - off), MPI_FLOAT, MPI_SUM,
                             MPI_COMM_WORLD, &g_pending.requests.back()),
              "MPI_Iallreduce");
  }
  g_pending.buffers.push_back({buf, n});
  // Without a progress thread MPI moves a started reduction on only inside MPI calls: give the
  // earlier ones a turn.
  int done = 0;
  mpi_check(MPI_Testall((int)g_pending.requests.size(), g_pending.requests.data(), &done, MPI_STATUSES_IGNORE),
            "MPI_Testall");
#endif
}

void comm_wait_reductions(const Comm& comm) {
  if (comm.world == 1) return;
#ifdef CHAMBER_HAVE_NCCL
  if (comm.device_buffers) {
    if (g_pending.nccl_stream && cudaStreamSynchronize(g_pending.nccl_stream) != cudaSuccess)
      fail("NCCL: cudaStreamSynchronize after the overlapped all-reduces failed");
    g_pending.buffers.clear();
    return;
  }
#endif
#ifdef CHAMBER_HAVE_MPI
  mpi_check(MPI_Waitall((int)g_pending.requests.size(), g_pending.requests.data(), MPI_STATUSES_IGNORE),
            "MPI_Waitall");
  g_pending.requests.clear();
  const float inv_world = 1.0f / (float)comm.world;   // as comm_all_reduce_mean scales
  for (auto& [buf, n] : g_pending.buffers)
    for (size_t i = 0; i < n; i++) buf[i] *= inv_world;
#endif
  g_pending.buffers.clear();
}

// MPI counts are int; slices here are a model's parameters over the ranks, far below 2^31.
static int mpi_count(size_t n) {
  if (n > (size_t)INT32_MAX) fail("MPI: a slice of ", n, " floats exceeds MPI's int count");
  return (int)n;
}

void comm_reduce_scatter_mean(const Comm& comm, float* buf, size_t slice) {
  if (comm.world == 1 || slice == 0) return;
  float* mine = buf + (size_t)comm.rank * slice;
#ifdef CHAMBER_HAVE_NCCL
  if (comm.device_buffers) {
    comm.ops->synchronize();
    nccl_check(nccl().reduce_scatter(buf, mine, slice, ncclFloat, ncclAvg, (ncclComm_t)comm.nccl, nullptr),
               "ncclReduceScatter");
    if (cudaStreamSynchronize(nullptr) != cudaSuccess) fail("NCCL: cudaStreamSynchronize after ncclReduceScatter failed");
    return;
  }
#endif
#ifdef CHAMBER_HAVE_MPI
  // The sum arrives in a separate buffer (MPI has no in-place form that leaves it at the slice's
  // own offset); kept between calls, since this runs every step with the same size.
  static std::vector<float> summed;
  summed.resize(slice);
  mpi_check(MPI_Reduce_scatter_block(buf, summed.data(), mpi_count(slice), MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD),
            "MPI_Reduce_scatter_block");
  const float inv_world = 1.0f / (float)comm.world;
  for (size_t i = 0; i < slice; i++) mine[i] = summed[i] * inv_world;
#else
  (void)mine;
#endif
}

void comm_all_gather(const Comm& comm, float* buf, size_t slice) {
  if (comm.world == 1 || slice == 0) return;
#ifdef CHAMBER_HAVE_NCCL
  if (comm.device_buffers) {
    comm.ops->synchronize();
    nccl_check(nccl().all_gather(buf + (size_t)comm.rank * slice, buf, slice, ncclFloat, (ncclComm_t)comm.nccl, nullptr),
               "ncclAllGather");
    if (cudaStreamSynchronize(nullptr) != cudaSuccess) fail("NCCL: cudaStreamSynchronize after ncclAllGather failed");
    return;
  }
#endif
#ifdef CHAMBER_HAVE_MPI
  mpi_check(MPI_Allgather(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, buf, mpi_count(slice), MPI_FLOAT, MPI_COMM_WORLD),
            "MPI_Allgather");
#endif
}

void comm_gather_to_root(const Comm& comm, const float* mine, float* whole, size_t slice, int root) {
  if (comm.world == 1) {
    std::copy(mine, mine + slice, whole);
    return;
  }
#ifdef CHAMBER_HAVE_MPI
  mpi_check(MPI_Gather(mine, mpi_count(slice), MPI_FLOAT, whole, mpi_count(slice), MPI_FLOAT, root, MPI_COMM_WORLD),
            "MPI_Gather");
#endif
}

void comm_all_reduce_sum(const Comm& comm, double* values, int n) {
  if (comm.world == 1 || n == 0) return;
#ifdef CHAMBER_HAVE_MPI
  mpi_check(MPI_Allreduce(MPI_IN_PLACE, values, n, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD), "MPI_Allreduce");
#endif
}

std::vector<std::string> comm_all_gather_bytes(const Comm& comm, const std::string& mine) {
  if (comm.world == 1) return {mine};
  std::vector<std::string> out(comm.world);
#ifdef CHAMBER_HAVE_MPI
  // Sizes first, then the bytes of every rank side by side (MPI counts and offsets are ints).
  std::vector<int> sizes(comm.world), offsets(comm.world);
  int my_size = mpi_count(mine.size());
  mpi_check(MPI_Allgather(&my_size, 1, MPI_INT, sizes.data(), 1, MPI_INT, MPI_COMM_WORLD), "MPI_Allgather");
  size_t total = 0;
  for (int r = 0; r < comm.world; r++) {
    offsets[r] = mpi_count(total);
    total += (size_t)sizes[r];
  }
  std::string all(mpi_count(total), '\0');
  mpi_check(MPI_Allgatherv(mine.data(), my_size, MPI_BYTE, all.data(), sizes.data(), offsets.data(), MPI_BYTE,
                           MPI_COMM_WORLD),
            "MPI_Allgatherv");
  for (int r = 0; r < comm.world; r++) out[r] = all.substr((size_t)offsets[r], (size_t)sizes[r]);
#endif
  return out;
}

bool comm_any(const Comm& comm, bool flag) {
  if (comm.world == 1) return flag;
  double v = flag ? 1.0 : 0.0;
  comm_all_reduce_sum(comm, &v, 1);
  return v > 0;
}

void comm_broadcast(const Comm& comm, void* bytes, size_t n, int root) {
  if (comm.world == 1 || n == 0) return;
#ifdef CHAMBER_HAVE_MPI
  const size_t piece = size_t(1) << 30;
  for (size_t off = 0; off < n; off += piece) {
    int count = (int)std::min(piece, n - off);
    mpi_check(MPI_Bcast((char*)bytes + off, count, MPI_BYTE, root, MPI_COMM_WORLD), "MPI_Bcast");
  }
#endif
}

RankShare rank_share(int64_t total, int rank, int world) {
  const int64_t base = total / world, extra = total % world;
  RankShare share;
  share.count = (int)(base + (rank < extra ? 1 : 0));
  share.first = rank * base + std::min<int64_t>(rank, extra);
  return share;
}

RankShare comm_share(const Comm& comm, int64_t total) { return rank_share(total, comm.rank, comm.world); }

void comm_barrier(const Comm& comm) {
  if (comm.world == 1) return;
#ifdef CHAMBER_HAVE_MPI
  mpi_check(MPI_Barrier(MPI_COMM_WORLD), "MPI_Barrier");
#endif
}

std::string comm_nccl_version() {
#ifdef CHAMBER_HAVE_NCCL
  int version = 0;
  nccl_check(nccl().get_version(&version), "ncclGetVersion");
  // NCCL 2.9+ encodes major*10000 + minor*100 + patch.
  return std::to_string(version / 10000) + "." + std::to_string(version / 100 % 100) + "." +
         std::to_string(version % 100);
#else
  fail("this build has no NCCL (it is found with the CUDA toolkit's nccl.h at build time)");
#endif
}

double comm_nccl_one_rank_all_reduce(const Ops& ops, float* device_buf, size_t n, int repeats) {
#ifdef CHAMBER_HAVE_NCCL
  ncclUniqueId id;
  nccl_check(nccl().get_unique_id(&id), "ncclGetUniqueId");
  ncclComm_t communicator = nullptr;
  nccl_check(nccl().comm_init_rank(&communicator, 1, id, 0), "ncclCommInitRank");
  std::vector<double> times;
  for (int r = 0; r <= repeats; r++) {   // r = 0 warms up
    ops.synchronize();
    double t0 = now_seconds();
    ncclResult_t status = nccl().all_reduce(device_buf, device_buf, n, ncclFloat, ncclAvg, communicator, nullptr);
    cudaError_t synced = cudaStreamSynchronize(nullptr);
    if (status != ncclSuccess || synced != cudaSuccess) {
      nccl().comm_destroy(communicator);
      nccl_check(status, "ncclAllReduce");
      fail("NCCL: cudaStreamSynchronize after ncclAllReduce failed");
    }
    if (r > 0) times.push_back(now_seconds() - t0);
  }
  nccl().comm_destroy(communicator);
  std::sort(times.begin(), times.end());
  return times.empty() ? 0.0 : times[times.size() / 2];
#else
  (void)ops, (void)device_buf, (void)n, (void)repeats;
  fail("this build has no NCCL (it is found with the CUDA toolkit's nccl.h at build time)");
#endif
}

Comm& comm_world() {
  static Comm world;
  return world;
}

int comm_default_threads(const Comm& comm) {
  if (comm.world == 1 || std::getenv("CHAMBER_THREADS")) return 0;
  const char* local = std::getenv("OMPI_COMM_WORLD_LOCAL_SIZE");
  int local_ranks = local ? std::max(1, std::atoi(local)) : comm.world;
  return std::max(1, (int)std::thread::hardware_concurrency() / local_ranks);
}

std::string comm_description(const Comm& comm) {
  if (comm.world == 1) return "1 process";
  return "rank " + std::to_string(comm.rank) + " of " + std::to_string(comm.world) +
         (comm.device_buffers ? " (NCCL)" : " (MPI)");
}

}  // namespace chamber
