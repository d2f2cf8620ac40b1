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


# ------------------------------------------------------------ several seeds, references


def load_benchmark():
    """scripts/benchmark.py as a module (it is a script, not part of the package)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("benchmark_script", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_seeds(tmp_path, *args: str) -> tuple[str, dict]:
    out = tmp_path / "seeds.json"
    completed = subprocess.run(
        [sys.executable, str(SCRIPT), "--seeds", "2", "--jobs", "2", "--eval-episodes", "2",
         "--json", str(out), *args],
        capture_output=True, text=True, timeout=600, cwd=tmp_path,
        env={**os.environ, "COLUMNS": "160"},
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    return completed.stdout, json.loads(out.read_text(encoding="utf-8"))


def check_seed_rows(several: dict) -> None:
    assert several["seeds"] == [3, 4] and several["jobs"] == 2
    for run in several["runs"]:
        assert run["seed"] in (3, 4) and run["training_seconds"] > 0
        assert run["eval_episodes"] == 2
        assert run["median_score"] >= 0 and run["max_score"] >= run["mean_score"] >= 0
    for policy in ("random", "chaser"):
        rows = several["reference"][policy]
        # The references play the same games as the agents' evaluation: seed + 1.
        assert [r["seed"] for r in rows] == [4, 5] and all(r["eval_episodes"] == 2
                                                            for r in rows)
    summary = several["summary"]
    for key in ("agent", "random", "chaser"):
        row = summary[key]
        assert row["seeds"] == 2 and row["target"] == 500
        assert row["ci95_low"] <= row["mean"] <= row["ci95_high"]
        assert 0 <= row["reaching_target"] <= 2
    assert summary["chaser"]["mean"] > summary["random"]["mean"]


def test_several_seeds_time_to_score_with_references_beside(tmp_path):
    stdout, results = run_seeds(tmp_path, "--quick", "--seed", "3", "--override", "eval_every=1")
    several = results["several_seeds"]
    assert several["kind"] == "time_to_score"
    assert several["overrides"] == {"training_episodes": 3, "max_turns_per_episode": 100,
                                    "eval_every": 1}
    check_seed_rows(several)
    for run in several["runs"]:
        assert run["episodes"] == 3 and run["threads"] == 1
        # eval_every=1: best.pt exists, and was scored over the same games as final.pt.
        assert 1 <= run["best_episode"] <= 3 and run["best_mean_score"] >= 0
        assert len(run["evaluations_during_training"]) == 3
    assert "agent (best.pt)" in stdout and "apple-chaser" in stdout
    assert results["machine"]["load_average_end"]


def test_several_seeds_of_a_preset_within_its_budget(tmp_path):
    _, results = run_seeds(tmp_path, "--preset", "quick", "--minutes", "5", "--seed", "3")
    several = results["several_seeds"]
    assert several["kind"] == "preset" and several["preset"] == "quick"
    check_seed_rows(several)
    assert all(run["finished"] and run["episodes"] == 5 for run in several["runs"])


def test_bad_override_is_one_clean_message(tmp_path):
    completed = subprocess.run(
        [sys.executable, str(SCRIPT), "--seeds", "1", "--override", "gama=0.9"],
        capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert completed.returncode == 2 and "Traceback" not in completed.stderr
    assert "gama" in completed.stderr and "gamma" in completed.stderr


def test_the_apple_chaser_plays_real_snake_far_better_than_random():
    benchmark = load_benchmark()
    chaser = benchmark.reference_score("chaser", seed=11, episodes=3)
    randomly = benchmark.reference_score("random", seed=11, episodes=3)
    # Ten apples (50 points each) a game at the very least; random play rarely eats one.
    assert chaser["mean_score"] >= 500 > randomly["mean_score"] * 5
    assert chaser == benchmark.reference_score("chaser", seed=11, episodes=3)  # seeded


def test_the_apple_chaser_follows_its_rules():
    from retro.examples.snake import SnakeBodySegment, create_game

    benchmark = load_benchmark()
    actions = ["KEY_RIGHT", "KEY_UP", "KEY_LEFT", "KEY_DOWN"]
    game = create_game()
    head, apple = game.get_agent_by_name("Snake head"), game.get_agent_by_name("Apple")
    head.position, apple.position = (0, 0), (5, 0)
    assert actions[benchmark.chaser_action(game, actions)] == "KEY_RIGHT"  # nearer, safe
    game.add_agent(SnakeBodySegment(1, (1, 0)))
    # Right is the body, up and left leave the board: the only safe move, away from the apple.
    assert actions[benchmark.chaser_action(game, actions)] == "KEY_DOWN"
    game.add_agent(SnakeBodySegment(2, (0, 1)))
    assert actions[benchmark.chaser_action(game, actions)] == "KEY_RIGHT"  # no safe move


def test_compare_trains_both_arms_on_the_same_seeds_and_pairs_them(tmp_path):
    """``--seeds N --compare NAME=VALUE``: arm B is arm A with one change, on A's seeds,
    and the JSON holds the paired differences that scripts/paired.py prints too."""
    out = tmp_path / "pair.json"
    completed = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--seeds", "2", "--jobs", "1",
         "--eval-episodes", "2", "--compare", "layer_norm=true", "--json", str(out)],
        capture_output=True, text=True, timeout=600, cwd=tmp_path,
        env={**os.environ, "COLUMNS": "120"})
    assert completed.returncode == 0, completed.stderr[-3000:]
    results = json.loads(out.read_text(encoding="utf-8"))
    arm_a, arm_b = results["several_seeds"], results["several_seeds_compare"]
    assert arm_b["overrides"] == {**arm_a["overrides"], "layer_norm": True}
    assert [r["seed"] for r in arm_a["runs"]] == [r["seed"] for r in arm_b["runs"]] == [0, 1]
    assert all(r["cpu_seconds"] > 0 for r in arm_a["runs"] + arm_b["runs"])
    paired = results["paired"]
    assert [row["seed"] for row in paired["rows"]] == [0, 1]
    for row, a, b in zip(paired["rows"], arm_a["runs"], arm_b["runs"], strict=True):
        assert row["difference"] == b["mean_score"] - a["mean_score"]
    printed = subprocess.run([sys.executable, str(SCRIPT.with_name("paired.py")), str(out),
                              "--markdown"], capture_output=True, text=True, check=True)
    assert "| 0 |" in printed.stdout and "B − A" in printed.stdout
