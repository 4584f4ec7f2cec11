#!/usr/bin/env python3
"""`make bench-cpu`: CPU training throughput of Chamber's fast CPU backend against PyTorch eager.

In one run, at one thread count:
  1. the machine's sgemm peak (bench_sgemm_peak: OpenBLAS, square matrices, best size);
  2. for each bench config (configs/bench/tiny-cpu.yaml, gpt2-124m-cpu.yaml): `chamber pretrain
     ... --quiet`, tokens_per_s per step from its metrics.jsonl, median over the steps after the
     first two;
  3. bench/torch_cpu.py with the same shapes and thread count (skipped, with a message, when torch
     cannot be imported);
then prints a markdown table: tok/s, model FLOP/s, share of the sgemm peak, ratio to PyTorch.

Model FLOPs per token (the same count for both implementations, PaLM's convention):
  6 * (matmul weights: 12 L C^2 + V C for the tied LM head) + 12 L T C (attention scores and
  weighted sums counted over the full T x T, forward + backward)
with T the sequence length and V the real vocabulary (not the padded one).
"""
import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from torch_cpu import SHAPES  # noqa: E402  (one table of shapes for both sides)

CONFIGS = ["tiny-cpu", "gpt2-124m-cpu"]
WARMUP_STEPS = 2


def model_flops_per_token(shape):
    V, _, L, _, C, _, T = shape
    return 6 * (12 * L * C * C + V * C) + 12 * L * T * C


def run(cmd, env=None):
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)


def sgemm_peak(build_dir, threads):
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    exe = os.path.join(build_dir, "bench_sgemm_peak")
    r = run([exe, "--benchmark_format=json", "--benchmark_min_time=0.5"], env)
    if r.returncode != 0:
        sys.exit(f"run_bench_cpu: {exe} failed:\n{r.stderr}")
    runs = json.loads(r.stdout)["benchmarks"]
    best = max(runs, key=lambda b: b["FLOP/s"])
    return best["FLOP/s"], best["name"]


def check_config_matches(name, out_dir):
    """The resolved config Chamber ran must have the shapes the torch script uses."""
    V, Tmax, L, H, C, B, T = SHAPES[name]
    text = open(os.path.join(out_dir, "config.yaml")).read()
    want = {"vocab_size": V, "context_length": Tmax, "n_layer": L, "n_head": H, "n_embd": C,
            "batch_size": B, "seq_len": T}
    for key, value in want.items():
        found = re.search(rf"^\s*{key}:\s*(\d+)\s*$", text, re.M)
        if not found or int(found.group(1)) != value:
            sys.exit(f"run_bench_cpu: configs/bench/{name}.yaml has {key} "
                     f"{found.group(1) if found else '(missing)'}, bench/torch_cpu.py has {value}")


def chamber_tokens_per_s(build_dir, name, threads, work_dir):
    out_dir = os.path.join(work_dir, name)
    cmd = [os.path.join(build_dir, "chamber"), "pretrain", f"configs/bench/{name}.yaml",
           "--out", out_dir, "--quiet", "--set", f"train.threads={threads}"]
    r = run(cmd)
    if r.returncode != 0:
        sys.exit(f"run_bench_cpu: {' '.join(cmd)} failed:\n{r.stderr}")
    check_config_matches(name, out_dir)
    rates = []
    with open(os.path.join(out_dir, "metrics.jsonl")) as f:
        for line in f:
            record = json.loads(line)
            if "tokens_per_s" in record:
                rates.append(record["tokens_per_s"])
    shutil.rmtree(out_dir, ignore_errors=True)  # the final checkpoint of the 124M model is 1.5 GB
    if len(rates) <= WARMUP_STEPS:
        sys.exit(f"run_bench_cpu: {name}: only {len(rates)} steps in metrics.jsonl")
    return statistics.median(rates[WARMUP_STEPS:]), rates


def torch_tokens_per_s(name, threads, steps):
    r = run([sys.executable, os.path.join(HERE, "torch_cpu.py"), name, "--threads", str(threads),
             "--steps", str(steps), "--warmup", str(WARMUP_STEPS)])
    if r.returncode == 3:
        return None, r.stderr.strip()
    if r.returncode != 0:
        sys.exit(f"run_bench_cpu: bench/torch_cpu.py {name} failed:\n{r.stderr}")
    result = json.loads(r.stdout.strip().splitlines()[-1])
    return result["tokens_per_s_median"], result["torch"]


def machine_description():
    model = "unknown CPU"
    try:
        for line in run(["lscpu"]).stdout.splitlines():
            if line.startswith("Model name:"):
                model = line.split(":", 1)[1].strip()
    except OSError:
        pass
    return f"{model}, {os.cpu_count()} cores"


def main():
    parser = argparse.ArgumentParser(description="CPU training throughput vs PyTorch eager")
    parser.add_argument("--build-dir", default=os.path.join(ROOT, "build"))
    parser.add_argument("--threads", type=int,
                        default=int(os.environ.get("CHAMBER_THREADS", "0")) or os.cpu_count())
    parser.add_argument("--torch-steps", type=int, default=8)
    args = parser.parse_args()
    build_dir = os.path.abspath(args.build_dir)
    threads = args.threads

    commit = run(["git", "rev-parse", "--short", "HEAD"]).stdout.strip() or "?"
    load = os.getloadavg()[0]
    print(f"machine: {machine_description()}; {threads} threads; commit {commit}; "
          f"load average at start {load:.2f}", flush=True)
    peak, peak_name = sgemm_peak(build_dir, threads)
    print(f"sgemm peak: {peak / 1e9:.1f} GFLOP/s ({peak_name}, OpenBLAS, {threads} threads)", flush=True)

    rows, torch_note = [], None
    with tempfile.TemporaryDirectory(prefix="chamber-bench-cpu-") as work_dir:
        for name in CONFIGS:
            shape = SHAPES[name]
            flops = model_flops_per_token(shape)
            ours, per_step = chamber_tokens_per_s(build_dir, name, threads, work_dir)
            print(f"{name}: chamber {ours:.0f} tok/s (steps: "
                  f"{', '.join(f'{r:.0f}' for r in per_step)})", flush=True)
            theirs, info = torch_tokens_per_s(name, threads, args.torch_steps)
            if theirs is None:
                torch_note = info
            else:
                torch_note = f"PyTorch {info} eager"
                print(f"{name}: pytorch {theirs:.0f} tok/s", flush=True)
            rows.append((name, shape, flops, ours, theirs))

    print()
    print(f"| config | B x T | Chamber tok/s | model GFLOP/s | share of sgemm peak "
          f"({peak / 1e9:.0f} GFLOP/s) | PyTorch tok/s | ratio to PyTorch |")
    print("|---|---|---|---|---|---|---|")
    for name, shape, flops, ours, theirs in rows:
        B, T = shape[5], shape[6]
        achieved = ours * flops
        torch_cells = (f"{theirs:.0f} | {ours / theirs:.2f}" if theirs else "skipped | -")
        print(f"| {name} | {B} x {T} | {ours:.0f} | {achieved / 1e9:.1f} | "
              f"{100 * achieved / peak:.0f}% | {torch_cells} |")
    print()
    if torch_note and not any(r[4] for r in rows):
        print(f"PyTorch skipped: {torch_note}. Install it with `pip install torch` (see README).")
    elif torch_note:
        print(f"PyTorch: {torch_note}, torch.set_num_threads({threads}).")
    print(f"load average at end {os.getloadavg()[0]:.2f} (numbers are noisy when other work runs)")


if __name__ == "__main__":
    main()
