#!/usr/bin/env bash
# Everything a machine with an NVIDIA GPU should check, in one go, logs in one folder:
#   1. a Release build of everything (nvcc for sm_80 and sm_90),
#   2. the GPU tests (ctest -L gpu), then the same under compute-sanitizer (bench/gpu_sanitize.sh),
#   3. the kernel benchmarks with GPT-2 124M shapes and the whole-step tokens/s and MFU, and the
#      KV-cache sampler's generated tokens/s on the GPU (RL rollouts),
#   4. `chamber pretrain configs/gpt2-124m.yaml --device cuda` for STEPS steps (loss must fall),
#   5. with NSYS=1 and nsys installed, a short Nsight Systems trace of the same run (NVTX ranges).
# Each stage runs even when an earlier one failed; the summary at the end says which passed.
#
#   bench/gpu_check.sh [OUT_DIR]     (default gpu-check; STEPS=60, BUILD=build-gpu, NSYS=0)
#
# Record what it prints (device, commit, figures) in bench/RESULTS.md.
set -uo pipefail

out=${1:-gpu-check}
steps=${STEPS:-60}
build=${BUILD:-build-gpu}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
mkdir -p "$out"
out=$(cd "$out" && pwd)

if ! nvidia-smi -L >/dev/null 2>&1; then
  echo "gpu_check: no NVIDIA GPU visible (nvidia-smi -L failed); nothing run"
  exit 0
fi
{
  echo "commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet 2>/dev/null || echo ' (with local changes)')"
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv,noheader
  nvcc --version | tail -1
} | tee "$out/device.txt"

declare -A result
stage() {  # stage NAME LOG COMMAND...: runs it, logs to OUT/LOG, records pass/fail
  local name=$1 log=$2
  shift 2
  echo "== $name (log: $out/$log)"
  local t0=$SECONDS
  if "$@" >"$out/$log" 2>&1; then result[$name]="passed"; else result[$name]="FAILED"; fi
  result[$name]+=" in $((SECONDS - t0)) s"
  tail -3 "$out/$log"
}

stage build build.log bash -c "cmake -S . -B '$build' -DCMAKE_BUILD_TYPE=Release && cmake --build '$build' -j $(nproc)"
stage gpu_tests ctest_gpu.log bash -c "cd '$build' && ctest -L gpu --output-on-failure"
stage sanitize sanitize.log bench/gpu_sanitize.sh "$build"
stage bench_kernels bench_kernels_gpu.log "$build/bench_kernels_gpu" \
  --benchmark_out="$out/bench_kernels_gpu.json" --benchmark_out_format=json
stage bench_sampler bench_sampler_gpu.log "$build/bench_sampler" --benchmark_filter=cuda
stage pretrain_gpt2 pretrain_gpt2.log "$build/chamber" pretrain configs/gpt2-124m.yaml \
  --device cuda --out "$out/gpt2-124m" --overwrite --set "train.steps=$steps" --set train.eval_interval=20 \
  --set "train.checkpoint_interval=$steps"
if [[ ${NSYS:-0} == 1 ]] && command -v nsys >/dev/null; then
  stage nsys nsys.log nsys profile -t cuda,nvtx -o "$out/gpt2-124m" --force-overwrite true \
    "$build/chamber" pretrain configs/gpt2-124m.yaml --device cuda --out "$out/gpt2-124m-nsys" --overwrite \
    --set train.steps=5 --set train.eval_interval=0 --set train.checkpoint_interval=0
fi

echo
echo "== summary ($(cat "$out/device.txt" | head -2 | tr '\n' ' '))"
for name in build gpu_tests sanitize bench_kernels bench_sampler pretrain_gpt2 nsys; do
  [[ -n ${result[$name]:-} ]] && echo "$name: ${result[$name]}"
done
metrics="$out/gpt2-124m/metrics.jsonl"
if [[ -f $metrics ]]; then
  python3 - "$metrics" <<'PY'
import json, statistics, sys
lines = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
steps = [l for l in lines if "loss" in l and "tokens_per_s" in l]
if steps:
    tps = statistics.median(l["tokens_per_s"] for l in steps[2:] or steps)
    print(f"gpt2-124m: loss {steps[0]['loss']:.3f} (step {steps[0]['step']}) -> "
          f"{steps[-1]['loss']:.3f} (step {steps[-1]['step']}), median {tps:,.0f} tokens/s")
PY
fi
grep -E "BM_train_step|BM_matmul_peak" "$out/bench_kernels_gpu.log" 2>/dev/null
[[ ! ${result[*]} =~ FAILED ]]
