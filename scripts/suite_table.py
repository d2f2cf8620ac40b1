"""Rewrite the README's suite table from a ``benchmark.py --suite`` JSON, never by hand.

    python scripts/benchmark.py --suite --json suite.json
    python scripts/suite_table.py suite.json           # rewrite the block in README.md
    python scripts/suite_table.py suite.json --check   # exit 1 while the block differs

The table lives in the README between two comment lines, which Markdown does not show::

    <!-- generated: suite table (python scripts/suite_table.py SUITE.json rewrites this block) -->
    ...
    <!-- end generated: suite table -->

Everything between them comes from the JSON: one row per game (best normalised score
first) and a line saying when, how and under what load the suite ran. A figure typed
into the block is overwritten by the next rewrite and reported by ``--check``.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCK = re.compile(r"(^<!-- generated: suite table \(.*?\) -->\n\n)(.*?)"
                   r"(\n\n<!-- end generated: suite table -->$)", re.DOTALL | re.MULTILINE)
MARKERS = ("<!-- generated: suite table (python scripts/suite_table.py SUITE.json rewrites "
           "this block) -->\n\n", "\n\n<!-- end generated: suite table -->")


def number(value: float | None) -> str:
    """A normalised score to two decimals, with a true minus sign as the README writes it."""
    if value is None or not math.isfinite(value):
        return "n/a"
    return f"{value:.2f}".replace("-", "−")


def episodes(row: dict) -> str:
    """The episodes a game trained, and whether the budget cut its schedule short (its
    epsilon and learning rate then never reached the values the schedule ends at)."""
    training = row.get("training") or {}
    done = training.get("episodes")
    if done is None:
        return "n/a"
    planned = training.get("planned_episodes")
    if training.get("finished", True):
        return f"{done}"
    return f"{done} of {planned} (budget spent)" if planned else f"{done} (budget spent)"


def load(values: list[float] | None) -> str:
    return "unknown" if not values else f"{values[0]:.2f}"


def render(results: dict) -> str:
    """The block's Markdown: the table, then when and under what load the suite ran.

    Raises:
        ValueError: ``results`` is not the JSON of a ``--suite`` run.
    """
    if not results.get("suite") or not results.get("games"):
        raise ValueError("not the JSON of a suite run (python scripts/benchmark.py --suite "
                         "--json FILE writes one)")
    rows = sorted(results["games"], key=lambda row: (
        row["normalised"] is None, -(row["normalised"] or 0.0)))  # unscored games last
    lines = ["| game | kind | normalised | episodes trained |", "|---|---|---|---|"]
    lines += [f"| {row['game']} | {row['kind']} | {number(row['normalised'])} | "
              f"{episodes(row)} |" for row in rows]
    m = results["machine"]
    jobs = results.get("jobs", 1)
    overrides = results.get("overrides") or {}
    command = "python scripts/benchmark.py --suite" + "".join(
        f" --override {name}={value}" for name, value in overrides.items())
    lines += ["", f"Measured {results.get('started', 'at an unrecorded time')} by "
              f"`{command}`: {results['minutes_per_game']:g} min of "
              f"training per game, {jobs} game{'s' if jobs != 1 else ''} at once, one torch "
              f"thread each, seed {results['seed']}, {results['eval_episodes']} games per "
              f"score; {m['processor']}, {m['cpu_count']} CPUs, torch {m['torch']}; load "
              f"average {load(m.get('load_average_start'))} at the start and "
              f"{load(m.get('load_average_end'))} at the end."]
    return "\n".join(lines)


def rewrite(text: str, block: str) -> str:
    """``text`` (the README) with its suite block replaced by ``block``.

    Raises:
        ValueError: the text lacks the block's two marker lines.
    """
    if not BLOCK.search(text):
        raise ValueError("the README has no suite table block; put the table between\n"
                         + MARKERS[0] + "...table..." + MARKERS[1])
    return BLOCK.sub(lambda match: match.group(1) + block + match.group(3), text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("json", type=Path, help="a suite run's JSON (benchmark.py --suite "
                        "--json FILE)")
    parser.add_argument("--readme", type=Path, default=README,
                        help="the Markdown file holding the block (default: README.md)")
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 if the block differs from the JSON's table")
    args = parser.parse_args(argv)
    try:
        results = json.loads(args.json.read_text(encoding="utf-8"))
        text = args.readme.read_text(encoding="utf-8")
        new = rewrite(text, render(results))
    except (OSError, ValueError) as error:  # json.JSONDecodeError is a ValueError
        parser.error(str(error))
    if new == text:
        return 0
    if args.check:
        print(f"{args.readme}'s suite table is stale: run python scripts/suite_table.py "
              f"{args.json}", file=sys.stderr)
        return 1
    args.readme.write_text(new, encoding="utf-8")
    print(f"rewrote the suite table in {args.readme}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
