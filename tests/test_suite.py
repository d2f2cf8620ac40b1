"""The game suite: its games, reference policies, the ``--suite`` benchmark, and learning."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from retro_gamer.suite import BY_NAME, SUITE, select
from retro_gamer.suite.runner import normalised, random_choice, reference_choice, score_policy

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "benchmark.py"
KINDS = {"character keys", "observe_state, not spatial", "per-turn cost", "sparse reward",
         "large board (64x24)"}


def benchmark(tmp_path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True,
                          timeout=600, cwd=tmp_path, env={**os.environ, "COLUMNS": "150"})


def test_the_suite_holds_the_examples_and_one_game_of_each_kind():
    modules = {game.module for game in SUITE}
    assert {"retro.examples.snake", "retro.examples.beast", "retro.examples.nav",
            "retro.examples.labyrinth"} <= modules
    assert KINDS <= {game.kind for game in SUITE}
    assert "labyrinth" not in {game.name for game in select(None)}  # named to run it
    assert [game.name for game in select("wall, far")] == ["wall", "far"]


@pytest.mark.parametrize("name", [game.name for game in select(None)])
def test_the_reference_policy_beats_random_play(name):
    game = BY_NAME[name]
    turns = game.max_turns_per_episode
    random_play = score_policy(game.module, turns, random_choice(0), 3, seed=1)
    reference = score_policy(game.module, turns, reference_choice(game.reference()), 3, seed=1)
    assert reference.mean > random_play.mean


def test_normalised_score_is_zero_for_random_and_one_for_the_reference():
    assert normalised(-165.0, -165.0, -48.0) == 0.0
    assert normalised(-48.0, -165.0, -48.0) == 1.0
    assert math.isnan(normalised(3.0, 1.0, 1.0))  # a reference no better than random


def test_suite_benchmark_prints_the_table_and_writes_json(tmp_path):
    out = tmp_path / "suite.json"
    completed = benchmark(tmp_path, "--suite", "--games", "wall,thermostat", "--minutes",
                          "0.01", "--eval-episodes", "2", "--json", str(out))
    assert completed.returncode == 0, completed.stderr[-3000:]
    for column in ("game", "random", "reference", "agent", "normalised", "minutes"):
        assert column in completed.stdout
    results = json.loads(out.read_text(encoding="utf-8"))
    assert results["minutes_per_game"] == 0.01 and results["eval_episodes"] == 2
    assert results["machine"]["cpu_count"] and "load_average_end" in results["machine"]
    rows = {row["game"]: row for row in results["games"]}
    assert set(rows) == {"wall", "thermostat"}
    assert rows["wall"]["reference"] == -48.0  # walk left and stay: 2 x -5, 38 x -1
    for row in rows.values():
        assert row["reference"] > row["random"]
        assert row["normalised"] == pytest.approx(
            (row["agent"] - row["random"]) / (row["reference"] - row["random"]))
        assert row["training"]["episodes"] >= 1 and row["training"]["minutes"] > 0


def test_an_unknown_suite_game_is_refused_with_the_names(tmp_path):
    completed = benchmark(tmp_path, "--suite", "--games", "snake,pong")
    assert completed.returncode == 2
    assert "unknown suite game 'pong'" in completed.stderr and "labyrinth" in completed.stderr
    assert "Traceback" not in completed.stderr
