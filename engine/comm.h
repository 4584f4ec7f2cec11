// Data-parallel communication: which rank this process is, how many there are, and the
// collectives a data-parallel step needs (average the gradients, agree on a flag, share a
// buffer). One interface, two transports chosen by where the buffers live:
//   MPI   (Open MPI) for host buffers: the CPU backends, and rank bookkeeping everywhere;
//   NCCL  for device buffers of the CUDA backend; its unique id travels over MPI.
// A process not started by `mpirun` (or a build without MPI) is rank 0 of 1 and every collective
// returns at once, so single-process runs behave exactly as without this layer.
//
// Launch: `mpirun -np 2 build/chamber pretrain CONFIG` (as root add --allow-run-as-root).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "kernels/ops.h"

namespace chamber {

struct Comm {
  int rank = 0;
  int world = 1;
  bool device_buffers = false;   // the backend's buffers are on a GPU: collectives go through NCCL
  void* nccl = nullptr;          // ncclComm_t when device_buffers
  const Ops* ops = nullptr;      // the backend whose buffers the collectives receive
};

// True when this process was started by mpirun (Open MPI's or PMI's environment is set).
bool launched_by_mpirun();
// Whether this build has MPI (CHAMBER_HAVE_MPI) and NCCL (CHAMBER_HAVE_NCCL).
bool comm_have_mpi();
bool comm_have_nccl();
// NCCL's version ("2.27.7"), opening the library as a multi-GPU run does: an Error saying what
// is missing when this build has no NCCL or libnccl.so.2 cannot be found.
std::string comm_nccl_version();
// NCCL checked on one GPU (the device kit has one, and no mpirun): a one-rank communicator
// averages device_buf[0..n) in place, which must leave it as it was; returns the median seconds
// of one all-reduce over `repeats` (after a warm-up). Error when NCCL cannot be opened or fails.
double comm_nccl_one_rank_all_reduce(const Ops& ops, float* device_buf, size_t n, int repeats);

// Initialises MPI when launched by mpirun (Error if this build has no MPI: rebuild after
// `make deps`), else leaves comm as rank 0 of 1. Call once per process, before comm_attach.
void comm_init(Comm& comm);
// Binds the collectives to a backend's buffers: for the CUDA backend with more than one rank,
// creates the NCCL communicator (rank 0's unique id broadcast over MPI).
void comm_attach(Comm& comm, const Ops& ops, bool device_buffers);
// Frees NCCL and finalises MPI (when comm_init started it).
void comm_finalize(Comm& comm);

// buf[0..n) (the backend's memory) <- the mean over ranks, in place. Every rank must call it with
// the same n. Summation order is the transport's; in fp32, so results may differ from a
// single-rank sum by rounding.
void comm_all_reduce_mean(const Comm& comm, float* buf, size_t n);
// The same reduction started without waiting, to overlap it with the rest of the backward pass:
// comm_all_reduce_mean_start begins averaging buf[0..n) over the ranks and returns at once (host
// buffers: MPI_Iallreduce; device buffers: the backend's stream is drained, then ncclAllReduce on
// the communicator's own stream runs beside the next kernels); comm_wait_reductions waits for
// every reduction started since the last wait, after which each buf holds the mean, bit for bit
// what comm_all_reduce_mean gives. A started buffer must not be touched before the wait.
void comm_all_reduce_mean_start(const Comm& comm, float* buf, size_t n);
void comm_wait_reductions(const Comm& comm);
// ZeRO-1's two collectives, over a buffer of world equal slices of `slice` floats (the backend's
// memory): after reduce-scatter, slice `rank` of buf holds the mean over ranks of that slice (the
// other slices are left unspecified); all-gather copies each rank's slice `rank` to every rank.
void comm_reduce_scatter_mean(const Comm& comm, float* buf, size_t slice);
void comm_all_gather(const Comm& comm, float* buf, size_t slice);
// Host memory: root receives every rank's `slice` floats, rank r's at whole[r * slice], for
// writing a sharded optimizer's state into one checkpoint. `whole` is read only on root.
void comm_gather_to_root(const Comm& comm, const float* mine, float* whole, size_t slice, int root);
// Host values summed over ranks, in place (losses, token counts, metrics).
void comm_all_reduce_sum(const Comm& comm, double* values, int n);
// Every rank's bytes, in rank order, on every rank: for what differs in size between ranks (RL's
// kept expert-iteration samples, counts keyed by style). At most 2 GiB in all.
std::vector<std::string> comm_all_gather_bytes(const Comm& comm, const std::string& mine);
// True on every rank when `flag` is true on any rank (agreeing on a stop).
bool comm_any(const Comm& comm, bool flag);
// root's bytes[0..n) (host memory) copied to every rank.
void comm_broadcast(const Comm& comm, void* bytes, size_t n, int root);
// This rank's contiguous share of `total` items (a step's prompts, evaluation requests): items
// first..first+count-1; the first total % world ranks take one more. One process: all of them.
struct RankShare {
  int64_t first = 0;
  int count = 0;
};
RankShare comm_share(const Comm& comm, int64_t total);
// The share of any rank.
RankShare rank_share(int64_t total, int rank, int world);
// Waits until every rank reaches this point.
void comm_barrier(const Comm& comm);

// The process's communicator: set up by comm_init in `main`, passed to the training loops.
Comm& comm_world();
// CPU threads for one rank when the config leaves it open: the cores shared among the ranks on
// this machine, so two ranks on two cores do not each start two threads. 0 (all cores, or
// $CHAMBER_THREADS) for a single process or when CHAMBER_THREADS is set.
int comm_default_threads(const Comm& comm);

// "rank 1 of 2 (MPI)" / "1 process" for logs.
std::string comm_description(const Comm& comm);

}  // namespace chamber
