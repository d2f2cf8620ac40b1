"""Paired comparison of two configurations trained on the same seeds.

    python scripts/paired.py base.json lever.json               # final greedy scores
    python scripts/paired.py base.json lever.json --at-episode 600   # a screen's stop
    python scripts/paired.py base.json lever.json --markdown    # a table for benchmarks.md

Each JSON is what ``scripts/benchmark.py --seeds N --json FILE`` writes (or its
``--compare`` run, whose two arms are both in one file). Seeds present in both arms
are paired: the per-seed difference (B - A) of the greedy mean, the mean difference
with a paired 95% Student-t interval, and the training cost of each arm (CPU seconds
and env steps per CPU-second, one torch thread). With ``--at-episode E`` the scores are
the evaluations both runs logged after episode E (``eval_every``), so a screen
stopped early compares like with like; a default changes only on full runs.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
from pathlib import Path

# Two-sided 95% Student-t quantiles for 1..30 degrees of freedom.
T_975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179,
         2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064,
         2.060, 2.056, 2.052, 2.048, 2.045, 2.042)


def t_interval(values: list[float]) -> tuple[float, float]:
    """Mean and half-width of the 95% Student-t interval (nan half-width below 2 values)."""
    mean = statistics.fmean(values) if values else math.nan
    if len(values) < 2:
        return mean, math.nan
    df = len(values) - 1
    t = T_975[df - 1] if df <= len(T_975) else 1.96
    return mean, t * statistics.stdev(values) / math.sqrt(len(values))


def arms(path: Path) -> list[tuple[str, dict]]:
    """The arms a benchmark JSON holds: ``(label, {seed: run})`` for each."""
    data = json.loads(path.read_text(encoding="utf-8"))
    found = []
    for key in ("several_seeds", "several_seeds_compare"):
        several = data.get(key)
        if several:
            label = " ".join(f"{k}={v}" for k, v in several["overrides"].items()) or "defaults"
            found.append((label, {run["seed"]: run for run in several["runs"]}))
    if not found:
        raise SystemExit(f"{path} holds no --seeds results (run benchmark.py --seeds N).")
    return found


def score(run: dict, at_episode: int | None) -> float | None:
    """The run's final greedy mean, or its evaluation after ``at_episode``."""
    if at_episode is None:
        return run["mean_score"]
    for row in run.get("evaluations_during_training", []):
        if row["episode"] == at_episode:
            return row["mean"]
    return None


def cost(run: dict) -> tuple[float, float]:
    """CPU seconds of training and env steps per CPU-second (wall seconds for runs
    measured before CPU time was recorded)."""
    seconds = run.get("cpu_seconds", run["training_seconds"])
    return seconds, run["env_steps"] / seconds


def compare(a: dict, b: dict, at_episode: int | None = None) -> dict:
    """Per-seed scores and differences of the seeds both arms ran, and their summary."""
    rows = []
    for seed in sorted(set(a) & set(b)):
        sa, sb = score(a[seed], at_episode), score(b[seed], at_episode)
        if sa is None or sb is None:
            continue
        rows.append({"seed": seed, "a": sa, "b": sb, "difference": sb - sa,
                     "a_cpu_seconds": cost(a[seed])[0], "b_cpu_seconds": cost(b[seed])[0],
                     "a_steps_per_cpu_s": cost(a[seed])[1], "b_steps_per_cpu_s": cost(b[seed])[1]})
    mean, half = t_interval([r["difference"] for r in rows])
    return {"at_episode": at_episode, "rows": rows, "mean_difference": mean, "ci95": half,
            "a_mean": statistics.fmean(r["a"] for r in rows) if rows else math.nan,
            "b_mean": statistics.fmean(r["b"] for r in rows) if rows else math.nan}


def markdown(result: dict, label_a: str, label_b: str) -> str:
    at = f"evaluation after episode {result['at_episode']}" if result["at_episode"] \
        else "greedy mean over the final games"
    lines = [f"| seed | {label_a} | {label_b} | B − A | CPU s (A / B) | steps per CPU-s (A / B) |",
             "|---|---|---|---|---|---|"]
    for r in result["rows"]:
        lines.append(f"| {r['seed']} | {r['a']:.1f} | {r['b']:.1f} | {r['difference']:+.1f} | "
                     f"{r['a_cpu_seconds']:,.0f} / {r['b_cpu_seconds']:,.0f} | "
                     f"{r['a_steps_per_cpu_s']:.0f} / {r['b_steps_per_cpu_s']:.0f} |")
    half = result["ci95"]
    interval = "–" if not math.isfinite(half) else \
        f"{result['mean_difference'] - half:+.1f} to {result['mean_difference'] + half:+.1f}"
    lines.append(f"| mean | {result['a_mean']:.1f} | {result['b_mean']:.1f} | "
                 f"{result['mean_difference']:+.1f} (95%: {interval}) | | |")
    return f"Scores: {at}.\n\n" + "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("a", type=Path, help="the first arm's benchmark JSON (A)")
    parser.add_argument("b", type=Path, nargs="?",
                        help="the second arm's JSON (B); omit for a --compare run's file")
    parser.add_argument("--at-episode", type=int,
                        help="compare the evaluations logged after this episode")
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    args = parser.parse_args(argv)
    found = arms(args.a) + (arms(args.b) if args.b else [])
    if len(found) != 2:
        parser.error(f"need exactly two arms, found {len(found)}")
    (label_a, a), (label_b, b) = found
    result = compare(a, b, args.at_episode)
    if not result["rows"]:
        parser.error("the two arms share no seed with a score to compare")
    if args.markdown:
        print(markdown(result, label_a, label_b))
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"A: {label_a}   B: {label_b}", title_justify="left")
    for column in ("seed", "A", "B", "B - A", "CPU s A", "CPU s B"):
        table.add_column(column, justify="right")
    for r in result["rows"]:
        table.add_row(str(r["seed"]), f"{r['a']:.1f}", f"{r['b']:.1f}", f"{r['difference']:+.1f}",
                      f"{r['a_cpu_seconds']:,.0f}", f"{r['b_cpu_seconds']:,.0f}")
    Console().print(table)
    print(f"mean difference {result['mean_difference']:+.1f}, 95% interval ±{result['ci95']:.1f} "
          f"over {len(result['rows'])} paired seeds")
    return 0


if __name__ == "__main__":
    sys.exit(main())
