#!/usr/bin/env bash
# Runs the GPU kernel tests (test_gpu, label gpu) under NVIDIA compute-sanitizer: memcheck (out of
# bounds and misaligned device accesses, leaks) and racecheck (shared-memory hazards between the
# threads of a block). For machines with a GPU; without one it says so and exits 0.
#
#   bench/gpu_sanitize.sh [BUILD_DIR]        (default: build; builds test_gpu there first)
#
# Exit status: 0 when both tools report no errors (or there is nothing to run), 1 otherwise.
set -euo pipefail

build_dir=${1:-build}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

sanitizer=$(command -v compute-sanitizer || true)
if [[ -z "$sanitizer" && -x /usr/local/cuda/bin/compute-sanitizer ]]; then
  sanitizer=/usr/local/cuda/bin/compute-sanitizer
fi
if [[ -z "$sanitizer" ]]; then
  echo "gpu_sanitize: compute-sanitizer not found (it ships with the CUDA toolkit); nothing run"
  exit 0
fi
if ! nvidia-smi -L >/dev/null 2>&1; then
  echo "gpu_sanitize: no NVIDIA GPU visible (nvidia-smi -L failed); nothing run"
  exit 0
fi

cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build_dir" -j "$(nproc)" --target test_gpu

status=0
for tool in memcheck racecheck; do
  echo "== compute-sanitizer --tool $tool"
  extra=()
  [[ $tool == memcheck ]] && extra=(--leak-check full)
  # --error-exitcode makes a finding fail the run even when the tests themselves pass.
  if ! "$sanitizer" --tool "$tool" "${extra[@]}" --error-exitcode 1 --print-limit 20 \
      "$build_dir/test_gpu" --gtest_brief=1; then
    echo "gpu_sanitize: $tool found problems (see above)"
    status=1
  fi
done
[[ $status == 0 ]] && echo "gpu_sanitize: memcheck and racecheck clean"
exit $status
