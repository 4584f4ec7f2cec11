// Folders for the data-parallel tests (run as several ranks by mpirun): one path for every rank.
#pragma once
#include <algorithm>
#include <string>

#include "engine/comm.h"
#include "tests/test_util.h"
#include "util/util.h"

namespace chamber::testing {

// A fresh temporary folder, the same path on every rank (the lead's, broadcast).
inline std::string shared_dir(const std::string& name) {
  const Comm& comm = comm_world();
  char path[512] = {0};
  if (comm.rank == 0) {
    std::string dir = temp_dir(name);
    if (dir.size() >= sizeof(path)) fail("temp dir path too long");
    std::copy(dir.begin(), dir.end(), path);
  }
  comm_broadcast(comm, path, sizeof(path), 0);
  return path;
}

}  // namespace chamber::testing
