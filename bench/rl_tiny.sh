#!/bin/sh
# The RL issue's acceptance run, end to end on this machine: pretrain configs/tiny.yaml (skipped
# when runs/tiny already holds its final checkpoint), evaluate the base model on held-out easy
# problems, then run configs/rl-tiny-{grpo,ppo,ei}.yaml from it and print, per algorithm, the
# wall time, the mean training reward over the first and the last five steps, and held-out greedy
# pass@1 and style shares before and after.
#   sh bench/rl_tiny.sh [BUILD_DIR] [OUT_DIR]        (defaults: build, runs)
set -e
BUILD=${1:-build}
OUT=${2:-runs}
CHAMBER=$BUILD/chamber
[ -x "$CHAMBER" ] || { echo "rl_tiny.sh: no $CHAMBER; run make first" >&2; exit 1; }
steps=$(sed -n 's/^  steps: *\([0-9]*\).*/\1/p' configs/tiny.yaml)
final=$(printf "%s/tiny/checkpoints/step_%08d" "$OUT" "$steps")
if [ ! -d "$final" ]; then
  start=$(date +%s)
  # --resume continues an interrupted pretraining, and starts one when there is none
  "$CHAMBER" pretrain configs/tiny.yaml --out "$OUT/tiny" --quiet --resume
  echo "pretrain configs/tiny.yaml: $(( $(date +%s) - start )) s"
fi
for algo in grpo ppo ei; do
  rm -rf "$OUT/rl-tiny-$algo"
  start=$(date +%s)
  "$CHAMBER" rl "configs/rl-tiny-$algo.yaml" --init "$OUT/tiny" --out "$OUT/rl-tiny-$algo" --quiet > /dev/null
  seconds=$(( $(date +%s) - start ))
  python3 - "$OUT/rl-tiny-$algo/metrics.jsonl" "$algo" "$seconds" <<'PY'
import json, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
rewards = [r["reward"] for r in rows if "reward" in r]
evals = [r for r in rows if "eval_pass1" in r]
def styles(r):
    return " ".join("%s %.2f" % (k[len("eval_style_"):], v) for k, v in sorted(r.items()) if k.startswith("eval_style_"))
n = min(5, len(rewards) // 2)
print("%-5s %4s s  reward first %d steps %.3f -> last %d steps %.3f   eval pass@1 %.3f -> %.3f   styles [%s] -> [%s]" % (
    sys.argv[2], sys.argv[3], n, sum(rewards[:n]) / n, n, sum(rewards[-n:]) / n,
    evals[0]["eval_pass1"], evals[-1]["eval_pass1"], styles(evals[0]), styles(evals[-1])))
PY
done
