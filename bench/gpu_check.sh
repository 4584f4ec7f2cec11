#!/usr/bin/env bash
# Everything a machine with an NVIDIA GPU and Chamber's build dependencies should check, from
# source: a Release build, then the GPU kit's checks (bench/kit/run.sh: the GPU tests, GPT-2 124M
# pretraining, the kernel benchmarks, PyTorch beside it, the sampler, the quickstart, and
# compute-sanitizer), with logs in OUT_DIR and a summary at the end. On a GPU machine without our
# dependencies, pack the kit elsewhere (`make gpu-kit`) and run gpu-kit/run.sh there instead.
#
#   bench/gpu_check.sh [OUT_DIR]     (default gpu-check; BUILD=build-gpu; run.sh's STEPS, STAGES
#                                     and DEADLINE apply)
#
# Record what it prints (device, commit, figures) in bench/RESULTS.md.
set -euo pipefail

out=${1:-gpu-check}
build=${BUILD:-build-gpu}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

if ! nvidia-smi -L >/dev/null 2>&1; then
  echo "gpu_check: no NVIDIA GPU visible (nvidia-smi -L failed); nothing run"
  exit 0
fi
kit="$build/gpu-kit"
CUDA_ARCHS=${CUDA_ARCHS:-"80;90"} bash bench/kit/pack.sh "$build" "$kit"
bash "$kit/run.sh" "$out"
