#!/usr/bin/env python3
"""The quickstart across pretraining seeds: runs `chamber run configs/quickstart.yaml` as a sweep over
`pretrain.train.seed` (initialisation and data order) and checks, for every seed, what the
quickstart promises:
  - the pretrained model's pass@8 on the evaluation problems is at least 0.4 (RL has signal);
  - the mean training reward rises by at least 0.2 from the first 5 RL steps to the last 5;
  - some solution style's share of the sampled answers moves by at least 0.3: the evaluation's
    samples (8 per held-out problem at temperature 0.7) from the pretrained model to the final RL
    checkpoint. The same move in the RL rollouts (mean of the first 5 steps against the last 5) is
    shown beside it.
Prints one row per seed, then the mean and range of each number; exits 1 if any seed misses.

  python3 bench/quickstart_seeds.py [--chamber build/chamber] [--seeds 1 2 3 4 5]
                                    [--name qs-seeds] [--set KEY=VALUE ...] [--summary-only]

--set passes overrides to `chamber run` (for example pretrain.train.steps=2000). With
--summary-only the runs are not started, only read (runs/NAME must exist).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

MIN_BASE_PASS8, MIN_REWARD_RISE, MIN_STYLE_MOVE = 0.4, 0.2, 0.3


def read_jsonl(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def eval_sample_shares(eval_json):
    """Style -> share of the sampled answers, over all evaluation sets of an eval.json."""
    with open(eval_json) as f:
        sets = json.load(f)["sets"]
    shares = {}
    for results in sets.values():
        for style, numbers in results.get("styles_samples", {}).items():
            shares[style] = shares.get(style, 0.0) + numbers["share"] / len(sets)
    return shares


def summarise_run(root, run_dir, report_run):
    base = report_run.get("base_eval", {})
    pass8 = next((v for k, v in base.items() if k.endswith(".pass@8")), float("nan"))
    rows = [r for r in read_jsonl(os.path.join(run_dir, "rl", "metrics.jsonl")) if "reward" in r]
    first, last = rows[:5], rows[-5:]
    mean = lambda rs, key: statistics.mean(r.get(key, 0.0) for r in rs)
    reward_rise = mean(last, "reward") - mean(first, "reward")
    styles = sorted({k for r in rows for k in r if k.startswith("style_") and not k.startswith("style_acc")})
    moves = {s[len("style_"):]: mean(last, s) - mean(first, s) for s in styles}
    top_rollout = max(moves, key=lambda s: abs(moves[s])) if moves else "none"
    # Evaluation samples: the pretrained model's (eval_base) against the last RL checkpoint's.
    pretrain_dir = os.path.join(root, *report_run["pretrain_dir"].split("/")[-2:])  # pretrain/<hash>
    before = eval_sample_shares(os.path.join(pretrain_dir, "eval_base", "eval.json"))
    evals = sorted(d for d in os.listdir(os.path.join(run_dir, "eval")) if d.startswith("step_"))
    after = eval_sample_shares(os.path.join(run_dir, "eval", evals[-1], "eval.json"))
    eval_moves = {k: after.get(k, 0.0) - before.get(k, 0.0) for k in set(before) | set(after)}
    top_eval = max(eval_moves, key=lambda s: abs(eval_moves[s])) if eval_moves else "none"
    rising = max(eval_moves, key=lambda s: eval_moves[s]) if eval_moves else "none"
    return {"base_pass8": pass8, "reward_first5": mean(first, "reward"),
            "reward_last5": mean(last, "reward"), "reward_rise": reward_rise,
            "style": top_eval, "style_move": eval_moves.get(top_eval, 0.0),
            "rising": f"{rising} {before.get(rising, 0.0):.2f}->{after.get(rising, 0.0):.2f}",
            "rollout_style": top_rollout, "rollout_style_move": moves.get(top_rollout, 0.0),
            "final_pass1": report_run.get("final", {}).get("eval_pass1", float("nan"))}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--chamber", default="build/chamber")
    parser.add_argument("--config", default="configs/quickstart.yaml")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    parser.add_argument("--name", default="qs-seeds")
    parser.add_argument("--set", dest="sets", action="append", default=[])
    parser.add_argument("--summary-only", action="store_true")
    args = parser.parse_args()

    if not args.summary_only:
        sweep = "sweep=[{pretrain.train.seed: [%s]}]" % ", ".join(map(str, args.seeds))
        cmd = [args.chamber, "run", args.config, "--set", f"name={args.name}", "--set", sweep]
        for s in args.sets:
            cmd += ["--set", s]
        print("+", " ".join(cmd), flush=True)
        if subprocess.call(cmd) != 0:
            sys.exit("quickstart_seeds: chamber run failed")

    report_path = os.path.join("runs", args.name, "report.json")
    try:
        with open(report_path) as f:
            report = json.load(f)
    except OSError as e:
        sys.exit(f"quickstart_seeds: cannot read {report_path} ({e}); run without --summary-only")
    results = []
    for run in report["runs"]:
        root = os.path.join("runs", args.name)
        r = summarise_run(root, os.path.join(root, run["id"]), run)
        r["id"] = run["id"]
        r["ok"] = (r["base_pass8"] >= MIN_BASE_PASS8 and r["reward_rise"] >= MIN_REWARD_RISE
                   and abs(r["style_move"]) >= MIN_STYLE_MOVE)
        results.append(r)

    print(f"\n{'run':<10} {'base pass@8':>11} {'reward first5 -> last5':>23} {'eval style move':>23} "
          f"{'rollout style move':>23} {'final pass@1':>12}  {'amplified (eval share)':<24} verdict")
    for r in results:
        print(f"{r['id']:<10} {r['base_pass8']:>11.3f} {r['reward_first5']:>10.3f} -> {r['reward_last5']:<9.3f}"
              f" {r['style']:>12} {r['style_move']:>+10.3f} {r['rollout_style']:>12} {r['rollout_style_move']:>+10.3f}"
              f" {r['final_pass1']:>12.3f}  {r['rising']:<24} {'ok' if r['ok'] else 'MISSED'}")
    for key, label in [("base_pass8", "base pass@8"), ("reward_rise", "reward rise"),
                       ("style_move", "largest style share move in evaluation samples (absolute)"),
                       ("rollout_style_move", "largest style share move in RL rollouts (absolute)"),
                       ("final_pass1", "final greedy pass@1")]:
        values = [abs(r[key]) if key.endswith("style_move") else r[key] for r in results]
        print(f"{label}: mean {statistics.mean(values):.3f}, range {min(values):.3f} .. {max(values):.3f}")
    missed = [r["id"] for r in results if not r["ok"]]
    print(f"{len(results) - len(missed)} of {len(results)} seeds meet the quickstart's promise"
          f" (base pass@8 >= {MIN_BASE_PASS8}, reward rise >= {MIN_REWARD_RISE},"
          f" a style share moving >= {MIN_STYLE_MOVE})")
    sys.exit(1 if missed else 0)


if __name__ == "__main__":
    main()
