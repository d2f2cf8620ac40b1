"""scripts/benchmark.py --quick runs end to end and writes every figure (no timing assertions)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "benchmark.py"


def test_quick_benchmark_writes_the_expected_json(tmp_path):
    out = tmp_path / "bench.json"
    env = {**os.environ, "COLUMNS": "120"}
    completed = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--json", str(out)],
        capture_output=True, text=True, timeout=600, cwd=tmp_path, env=env,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert "GameEnvironment.step" in completed.stdout

    results = json.loads(out.read_text(encoding="utf-8"))
    assert results["quick"] is True
    machine = results["machine"]
    assert machine["device"] in ("cpu", "cuda") or machine["device"].startswith("cuda")
    assert machine["cpu_count"] and machine["threads_measured"]

    env_rates = results["env"]
    for key in ("raw_game_step_per_s", "env_step_per_s", "env_act_per_s",
                "ratio_env_step_to_raw", "ratio_env_act_to_raw"):
        assert env_rates[key] > 0, key

    acting = results["acting"]
    assert acting["single_game_steps_per_s"] > 0 and acting["batched_steps_per_s"] > 0
    assert acting["parallel_games"] > 1

    assert results["training"]
    for threads, training in results["training"].items():
        assert int(threads) >= 1
        assert training["env_steps_per_s"] > 0 and training["env_steps"] > 0
        breakdown = training["breakdown_us_per_env_step"]
        assert {"game", "encode", "act", "replay", "train_step"} <= breakdown.keys()
        assert all(value >= 0 for value in breakdown.values())

    score = results["time_to_score"]
    for key in ("training_seconds", "episodes", "env_steps", "eval_episodes"):
        assert score[key] > 0, key
    for key in ("mean_score", "median_score", "max_score"):
        assert score[key] >= 0, key


def run_preset(tmp_path, preset: str, minutes: str):
    """``benchmark.py --only-preset``; returns its stdout and its preset_score JSON."""
    out = tmp_path / "preset.json"
    completed = subprocess.run(
        [sys.executable, str(SCRIPT), "--only-preset", "--preset", preset, "--minutes", minutes,
         "--eval-episodes", "2", "--json", str(out)],
        capture_output=True, text=True, timeout=600, cwd=tmp_path,
        env={**os.environ, "COLUMNS": "120"},
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    return completed.stdout, json.loads(out.read_text(encoding="utf-8"))["preset_score"]


def test_preset_run_trains_as_a_user_would_within_its_budget(tmp_path):
    """--only-preset trains Snake through the CLI with preset=NAME, stops at the budget, scores."""
    stdout, preset = run_preset(tmp_path, "quick", "5")
    # preset=quick is 5 episodes: they all finish well inside 5 minutes.
    assert preset["preset"] == "quick" and preset["finished"] is True
    assert preset["episodes"] == 5 and preset["eval_episodes"] == 2
    assert preset["training_seconds"] < 5 * 60 and preset["mean_score"] >= 0
    assert "preset=quick" in stdout


def test_preset_run_stops_at_the_budget_and_scores_the_newest_checkpoint(tmp_path):
    _, preset = run_preset(tmp_path, "snake", "0.3")
    assert preset["finished"] is False and 1 <= preset["episodes"] < 5000
    assert 18 <= preset["training_seconds"] < 120
