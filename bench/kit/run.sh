#!/usr/bin/env bash
# The GPU kit's one command (packed by `make gpu-kit` as gpu-kit/run.sh):
#
#   bash gpu-kit/run.sh OUT_DIR
#
# On a machine with an NVIDIA GPU, the driver and the CUDA 13 runtime libraries, and nothing else
# of ours, it runs in order of what matters most, each stage under its own time limit and all of
# them under DEADLINE seconds (default 480):
#   gpu_tests    every GPU test; a skipped test counts as a failure here (a GPU is present)
#   pretrain     configs/gpt2-124m.yaml for STEPS steps (default 60); the loss must fall
#   pretrain_bf16  the same with train.dtype=bf16 (mixed precision: the target's mode)
#   bench        per-kernel achieved GB/s or TFLOP/s against the device's measured peaks, and the
#                whole GPT-2 124M training step's tokens/s and MFU (bench_kernels_gpu)
#   torch        the same GPT-2 in PyTorch (fp32/TF32, bf16 autocast, torch.compile) for the ratio
#   sampler      the KV-cache sampler's generated tokens/s on the GPU (bench_sampler)
#   quickstart   configs/quickstart.yaml end to end on the GPU: pretrain, GRPO, evaluation, report
#   generate     Chamber's sampler beside Hugging Face `generate` (fp32/TF32 and bf16) on the same
#                weights: configs/bench/kit-echo-gpu.yaml (the GPU study's largest shape, one step from
#                the random init) exported with `chamber export --format hf`, batch 64 and 256, 256
#                new tokens at temperature 0.7; Chamber through `chamber eval` (math prompts, rows
#                stop at end-of-text, grading timed too) and like-for-like through bench_sampler's
#                BM_sample_checkpoint (32-token random prompts, every row 256 tokens, fp32 and bf16,
#                as HF), HF through bench/hf_generate.py (32-token prompts, no eos); the summary
#                gives the like-for-like ratios; "not available" when transformers is missing
#                (Chamber's numbers still print)
#   grpo_step    two GRPO steps of configs/echo/rl-gpu.yaml (64 prompts x 8 samples, 256 new tokens)
#                from that checkpoint, with the per-phase times RL logs (sample, grade, score, update)
#   profile      3 bf16 steps of configs/gpt2-124m.yaml under --profile: each op's measured time
#                (op by op) beside the analytic prediction, phase by phase
#   torch_b16    PyTorch bf16 and torch.compile at B 16: the peak-memory target is stated at
#                16 x 1024, beside Chamber's device_GiB of BM_train_step_gpt2_124m_bf16_batch/16
#   nccl         data parallel's GPU path on one GPU: a one-rank NCCL all-reduce of GPT-2 124M's
#                gradient size leaves it unchanged, and its time; "not available" without NCCL
#                (the kit does not carry it: PyTorch's wheel usually has one, which is used)
#   memcheck, racecheck   compute-sanitizer over the kernel tests; "not available" where the tool
#                refuses the device, never "passed"
# STAGES="gpu_tests bench ..." runs only the named stages (default: all).
# Logs go to OUT_DIR: all.log (every stage's output), summary.txt, bench_kernels.json,
# pretrain_metrics.jsonl, torch_gpu.jsonl, generate_chamber.jsonl, generate_like_hf.json,
# hf_generate.jsonl, grpo_metrics.jsonl. The summary table is printed last.
set -uo pipefail
out=${1:?usage: run.sh OUT_DIR}
if ! nvidia-smi -L >/dev/null 2>&1; then
  echo "run.sh: no NVIDIA GPU visible (nvidia-smi -L failed); this kit runs on a GPU machine" >&2
  exit 2
fi
kit=$(cd "$(dirname "$0")" && pwd)
bash "$kit/unpack.sh" || { echo "run.sh: could not unpack the kit's libraries (lib/*.xz)" >&2; exit 1; }
mkdir -p "$out"
out=$(cd "$out" && pwd)
: >"$out/torch_gpu.jsonl"   # the torch stages append to it
deadline=$((SECONDS + ${DEADLINE:-480}))
steps=${STEPS:-60}
log=$out/all.log
: >"$log"
# The generate and grpo_step stages share one checkpoint, made by whichever runs first; the
# process id keeps a later run.sh from reusing one an older kit made.
echo_dir=/tmp/kit_echo.$$

# Our binaries find their libraries in lib/ and CUDA's where the toolkit or PyTorch's wheels put
# them; only our binaries get this path (python3 keeps its own).
cuda_dirs=$(for d in /usr/local/cuda/lib64 /usr/local/cuda/lib /usr/local/cuda/targets/x86_64-linux/lib; do
  [[ -d $d ]] && printf '%s:' "$d"; done)
if ! ls /usr/local/cuda/lib*/libcublasLt.so.13 >/dev/null 2>&1; then
  extra=$(find / -xdev -name 'libcublasLt.so.13' -printf '%h:' 2>/dev/null | head -c 2000)
  cuda_dirs+=$extra
fi
# NCCL is opened at run time by the data-parallel path; use the toolkit's or PyTorch's wheel's.
if ! ls /usr/local/cuda/lib*/libnccl.so.2 >/dev/null 2>&1; then
  cuda_dirs+=$(find / -xdev -name 'libnccl.so.2' -printf '%h:' 2>/dev/null | head -c 2000)
fi
export KIT_LD_PATH="$kit/lib:$cuda_dirs${LD_LIBRARY_PATH:-}"
bin() { LD_LIBRARY_PATH="$KIT_LD_PATH" "$kit/bin/$@"; }

{
  echo "kit commit: $(cat "$kit/COMMIT" 2>/dev/null | tr '\n' ' ')"
  echo "date: $(date -u +%FT%TZ)"
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm --format=csv,noheader
  nvcc --version 2>/dev/null | tail -1
  echo "libraries not found:"; LD_LIBRARY_PATH="$KIT_LD_PATH" ldd "$kit"/bin/* | grep 'not found' | sort -u
} 2>&1 | tee "$out/device.txt" >>"$log"

declare -A result
order=()
stage() {  # stage NAME LIMIT_S COMMAND...: runs it under min(LIMIT_S, time to the deadline)
  local name=$1 limit=$2; shift 2
  local left=$((deadline - SECONDS))
  if [[ -n ${STAGES:-} && " $STAGES " != *" $name "* ]]; then return 0; fi
  order+=("$name")
  if (( left < 10 )); then result[$name]="not run (deadline)"; return 1; fi
  (( limit > left )) && limit=$left
  echo "===== $name (limit ${limit}s): $*" >>"$log"
  local t0=$SECONDS rc=0
  # The stages are shell functions: timeout runs them in a child bash that inherits them (export -f).
  timeout -k 5 "$limit" bash -o pipefail -c '"$@"' stage "$@" >>"$log" 2>&1 || rc=$?
  if (( rc == 0 )); then result[$name]="passed"
  elif (( rc == 124 || rc == 137 )); then result[$name]="TIMED OUT"
  elif (( rc == 3 )); then result[$name]="not available"
  else result[$name]="FAILED (exit $rc)"; fi
  result[$name]+=" in $((SECONDS - t0)) s"
  echo "===== $name: ${result[$name]}" >>"$log"
  return $rc
}

gpu_tests() {
  local tlog=/tmp/kit_gpu_tests.log
  bin test_gpu --gtest_brief=0 --gtest_filter='-CommGpu.*' 2>&1 | tee "$tlog"
  local rc=${PIPESTATUS[0]}
  [[ -s $tlog ]] || return "$rc"
  if grep -q '^\[  SKIPPED \]' "$tlog"; then echo "run.sh: tests were skipped on a GPU machine"; return 1; fi
  return "$rc"
}
pretrain() {  # pretrain [DTYPE]: fp32 (the default) or bf16
  local dtype=${1:-fp32} suffix=
  [[ $dtype == fp32 ]] || suffix=_$dtype
  rm -rf /tmp/kit_gpt2$suffix
  (cd "$kit" && bin chamber pretrain configs/gpt2-124m.yaml --device cuda --out /tmp/kit_gpt2$suffix \
     --set "train.steps=$steps" --set train.eval_interval=0 --set train.checkpoint_interval=0 \
     --set train.log_interval=10 --set "train.dtype=$dtype")  # read every 10 steps, as users run it
  local rc=$?
  cp /tmp/kit_gpt2$suffix/metrics.jsonl "$out/pretrain${suffix}_metrics.jsonl" 2>/dev/null
  (( rc == 0 )) || return $rc
  python3 - "$out/pretrain${suffix}_metrics.jsonl" "pretrain$suffix" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
steps = [r for r in rows if "loss" in r and "tokens_per_s" in r]
first, last = steps[0]["loss"], statistics.mean(r["loss"] for r in steps[-5:])
# Each line's tokens/s is its read window's (10 steps); the median leaves out the first windows.
tps = statistics.median(r["tokens_per_s"] for r in steps[11:] or steps)
print(f"{sys.argv[2]}: loss {first:.3f} -> {last:.3f} (mean of last 5), median {tps:,.0f} tokens/s")
sys.exit(0 if last < first - 0.5 else 1)
PY
}
nccl() {
  local nlog=/tmp/kit_nccl.log
  bin test_gpu --gtest_filter='CommGpu.*' 2>&1 | tee "$nlog"
  local rc=${PIPESTATUS[0]}
  if grep -q '^\[  SKIPPED \]' "$nlog"; then echo "nccl: not available (libnccl.so.2 not found)"; return 3; fi
  return "$rc"
}
bench_kernels() {
  bin bench_kernels_gpu --benchmark_min_time=0.05 --benchmark_out="$out/bench_kernels.json" \
    --benchmark_out_format=json
}
torch_gpu() {  # torch_gpu [B MODE...]: B 8 in every mode unless told
  local batch=${1:-8}; shift || true
  local modes=("${@:-fp32 bf16 compile}") args=()
  for m in ${modes[*]}; do args+=(--mode "$m"); done
  PYTHONUNBUFFERED=1 python3 "$kit/bench/torch_gpu.py" --batch "$batch" "${args[@]}" |
    tee -a "$out/torch_gpu.jsonl"
}
sanitize() {  # sanitize TOOL: compute-sanitizer over the kernel tests (not the long RL/step ones)
  local tool=$1 san
  san=$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)
  [[ -x $san ]] || { echo "compute-sanitizer: not available (not installed)"; return 3; }
  local slog=/tmp/kit_san_$tool.log
  LD_LIBRARY_PATH="$KIT_LD_PATH" "$san" --tool "$tool" --error-exitcode 1 --print-limit 20 \
    "$kit/bin/test_gpu" --gtest_brief=1 --gtest_filter='Gpu/*:AttentionBf16Gpu.*-*Gpt2Shape*' 2>&1 | tee "$slog"
  local rc=${PIPESTATUS[0]}
  if grep -qE 'Device not supported|not supported on this|Unable to|LibraryNotLoaded' "$slog"; then
    echo "compute-sanitizer: not available on this device"; return 3
  fi
  return "$rc"
}

echo_model() {  # the checkpoint of generate and grpo_step, and its Hugging Face export
  [[ -f $echo_dir/hf/config.json ]] && return 0
  rm -rf "$echo_dir"
  (cd "$kit" && bin chamber pretrain configs/bench/kit-echo-gpu.yaml --device cuda --out "$echo_dir/run" \
     --quiet) || return 1
  bin chamber export --checkpoint "$echo_dir/run" --format hf --out "$echo_dir/hf"
}
generate() {
  echo_model || return 1
  local B
  : >"$out/generate_chamber.jsonl"
  for B in 64 256; do
    # One batch of B rows per set: the first set warms up (cuBLAS plans, the allocator), the
    # second is the one reported. Its time covers sampling and grading the B completions.
    bin chamber eval --checkpoint "$echo_dir/run" --device cuda --out "$echo_dir/eval_$B" \
      --eval-set synthetic:rl --eval-set synthetic:test --count "$B" --samples 1 \
      --set eval.greedy=false --set eval.batch_size="$B" --set eval.max_new_tokens=256 \
      --set eval.temperature=0.7 --quiet >/dev/null || return 1
    python3 - "$echo_dir/eval_$B/eval.json" "$B" <<'PY' | tee -a "$out/generate_chamber.jsonl"
import json, sys
r = json.load(open(sys.argv[1]))["sets"]["synthetic:test"]
print(json.dumps({"batch": int(sys.argv[2]), "tokens_per_s": round(r["tokens_per_second"], 1),
                  "seconds": round(r["seconds"], 3), "mean_new_tokens": r["mean_completion_tokens"]}))
PY
  done
  # Like-for-like with hf_generate.py below: the same checkpoint, prompts of 32 random ids, 256 new
  # tokens for every row, temperature 0.7, fp32 and bf16 (bench_sampler's BM_sample_checkpoint).
  (export CHAMBER_BENCH_CHECKPOINT="$echo_dir/run"
   bin bench_sampler --benchmark_filter=BM_sample_checkpoint \
     --benchmark_out="$out/generate_like_hf.json" --benchmark_out_format=json) || return 1
  PYTHONUNBUFFERED=1 python3 "$kit/bench/hf_generate.py" --model "$echo_dir/hf" --batch 64 --batch 256 \
    --new-tokens 256 --prompt-len 32 | tee "$out/hf_generate.jsonl"
}
grpo_step() {
  echo_model || return 1
  rm -rf "$echo_dir/rl"
  # No held-out evaluation or probes: the steps' own phases are what is timed.
  (cd "$kit" && bin chamber rl configs/echo/rl-gpu.yaml --init "$echo_dir/run" --device cuda \
     --out "$echo_dir/rl" --set train.steps=2 --set eval.problems=0 --set eval.probe_interval=0) || return 1
  cp "$echo_dir/rl/metrics.jsonl" "$out/grpo_metrics.jsonl"
  python3 - "$out/grpo_metrics.jsonl" <<'PY'
import json, sys
for l in open(sys.argv[1]):
    r = json.loads(l)
    if "step_s" not in r: continue
    print(f"grpo step {r['step']}: {r['step_s']:.2f} s = sample {r['sample_s']:.2f} + grade {r['grade_s']:.2f}"
          f" + score {r['score_s']:.2f} + update {r['update_s']:.2f} ({r['rollouts']} rollouts,"
          f" mean {r['response_length']:.0f} new tokens)")
PY
}

export kit out steps echo_dir KIT_LD_PATH
profile() {  # measured time of each op beside its analytic prediction, bf16
  rm -rf /tmp/kit_profile
  (cd "$kit" && bin chamber pretrain configs/gpt2-124m.yaml --device cuda --out /tmp/kit_profile \
     --set train.steps=3 --set train.eval_interval=0 --set train.checkpoint_interval=0 \
     --set train.dtype=bf16 --profile --quiet) 2>&1 | tee "$out/profile_bf16.txt"
  return "${PIPESTATUS[0]}"
}

export -f bin gpu_tests nccl pretrain bench_kernels torch_gpu sanitize echo_model generate grpo_step \
  profile

stage gpu_tests 150 gpu_tests
stage pretrain 100 pretrain
stage pretrain_bf16 100 pretrain bf16
stage bench 120 bench_kernels
stage torch 130 torch_gpu
stage sampler 45 bin bench_sampler --benchmark_filter=cuda --benchmark_min_time=0.05
stage quickstart 90 bash -c 'cd "$kit" && bin chamber run configs/quickstart.yaml --set name=qs-gpu'
stage generate 110 generate
stage grpo_step 60 grpo_step
stage profile 40 profile
stage torch_b16 100 torch_gpu 16 bf16 compile
stage nccl 30 nccl
stage memcheck 60 sanitize memcheck
stage racecheck 45 sanitize racecheck

{
  echo "== summary: $(head -3 "$out/device.txt" | tr '\n' ' ')"
  for name in "${order[@]}"; do printf '%-10s %s\n' "$name" "${result[$name]}"; done
  grep -hE '^pretrain(_bf16)?:' "$log"
  grep -hE '^(fp32|tf32|bf16|gpt2-124m (tf32|bf16)):' "$log"
  grep -hE '^bf16 (sampler|step)' "$log" | sort -u
  grep -hE '^measured peaks:' "$log"
  grep -hE '^attention \(B .*relative L2' "$log" | sort -u
  grep -hE '^bf16 attention (flash|materialized) ' "$log" | sort -u
  grep -hE '^step +[0-9]+/30 \|' "$log" | sed -n '1p;$p'  # the quickstart's first and last GRPO step
  grep -hE 'fallback|falls back|cuBLASLt has no' "$log" | sort -u | head -5
  grep -hE '^\[  FAILED  \]' "$log" | sort -u | head -20
  grep -hE '^BM_(train_step|matmul_peak|attention|matmul_forward|classifier|adamw)' "$log" | head -40
  # Which bf16 attention path is faster at GPT-2's shape: auto picks the flash kernels
  # (attention_bf16.cu; attention_auto_is_materialized in kernels/attention.h); this line checks it.
  python3 - "$out/bench_kernels.json" <<'PY' 2>/dev/null
import json, sys
t = {b["name"].split("/real_time")[0]: b["real_time"] for b in json.load(open(sys.argv[1]))["benchmarks"]
     if "error_message" not in b}
path = lambda p: t[f"BM_attention_forward_bf16/{p}"] + t[f"BM_attention_backward_bf16/{p}"]
flash, mat = path(2), path(1)
print(f"bf16 attention per layer (B 8 x T 1024): flash {flash:.0f} us, materialized {mat:.0f} us: "
      f"{'flash' if flash < mat else 'materialized'} is faster ({max(flash, mat) / min(flash, mat):.2f}x)")
PY
  python3 - "$out/torch_gpu.jsonl" "$out/bench_kernels.json" <<'PY' 2>/dev/null
import json, sys
torch = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
for r in torch:
    if "error" in r: print(f"torch {r['mode']} B{r['batch']}: error {r['error'][:120]}")
    else: print(f"torch {r['mode']} B{r['batch']}: {r['tokens_per_s_median']:,} tok/s, MFU {r['mfu']:.3f}, peak {r['peak_mem_gib']} GiB, compile {r['compile_s']} s")
# The memory target: Chamber's step at 16 x 1024 (an upper bound of its peak) beside PyTorch's.
try: chamber = {b["name"].split("/real_time")[0]: b for b in json.load(open(sys.argv[2]))["benchmarks"]}
except OSError: chamber = {}
ours = chamber.get("BM_train_step_gpt2_124m_bf16_batch/16", {}).get("device_GiB")
theirs = [f"{r['mode']} {r['peak_mem_gib']} GiB" for r in torch if r.get("batch") == 16 and "error" not in r]
if ours is not None and theirs:
    print(f"peak memory at B 16 x 1024, bf16: Chamber at most {ours:.2f} GiB | torch " + ", ".join(theirs))
PY
  grep -hE '^BM_sample_cuda' "$log" | head -6
  python3 - "$out/generate_chamber.jsonl" "$out/hf_generate.jsonl" <<'PY' 2>/dev/null
import json, sys
rows = lambda path: [json.loads(l) for l in open(path) if l.strip()]
chamber = rows(sys.argv[1])
try: hf = rows(sys.argv[2])
except OSError: hf = []
for c in chamber:
    line = f"generate B{c['batch']}: Chamber {c['tokens_per_s']:,.0f} tok/s ({c['mean_new_tokens']:.0f} new tokens a row)"
    for h in (h for h in hf if h["batch"] == c["batch"]):
        if "error" in h: line += f" | HF {h['dtype']}: error {h['error'][:80]}"
        else: line += f" | HF {h['dtype']} {h['tokens_per_s']:,.0f} tok/s, Chamber {c['tokens_per_s'] / h['tokens_per_s']:.2f}x"
    if not hf: line += " | HF: no result"
    print(line)
PY
  python3 - "$out/generate_like_hf.json" "$out/hf_generate.jsonl" <<'PY' 2>/dev/null
import json, sys
try: hf = [json.loads(l) for l in open(sys.argv[2]) if l.strip()]
except OSError: hf = []
for b in json.load(open(sys.argv[1]))["benchmarks"]:
    parts = b["name"].split("/")
    batch, dtype = int(parts[1]), "bf16" if parts[2] == "1" else "fp32"
    if "error_message" in b: print(f"generate like-for-like B{batch} {dtype}: error {b['error_message']}"); continue
    line = f"generate like-for-like B{batch} {dtype} (32 + 256 tokens): Chamber {b['tokens/s']:,.0f} tok/s"
    for h in (h for h in hf if h["batch"] == batch and h.get("dtype") == dtype and "error" not in h):
        line += f" | HF {h['tokens_per_s']:,.0f} tok/s, Chamber {b['tokens/s'] / h['tokens_per_s']:.2f}x"
    print(line)
PY
  grep -hE '^grpo step [0-9]+:' "$log"
  grep -hE '^  (forward|backward|classifier|optimizer|memory) +[0-9.]+ s, predicted' "$log" |
    sed 's/^/profile bf16 (3 steps, op by op):/'
} | tee "$out/summary.txt"
rm -rf "$echo_dir"
[[ ! ${result[*]} =~ FAILED|TIMED ]]
