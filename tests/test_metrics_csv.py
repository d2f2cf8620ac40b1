"""Issue 27: metrics.csv and evaluations.csv, training.log's figures for pandas.

One row per episode (episode, return, steps, epsilon, loss, learning rate, env steps,
seconds) and one per evaluation during training, cut back with the log on resume, so a
resumed run's tables hold exactly the log's episodes.
"""

from __future__ import annotations

import csv
import importlib.util
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import one_torch_thread, train_snake

from retro_gamer.run_dir import RunDirectory

OPTIONS = {"training_episodes": 6, "checkpoint_every": 2, "n_layers": 1, "layer_size": 16,
           "batch_size": 8, "memory_capacity": 200, "max_turns_per_episode": 40, "seed": 3,
           "eval_every": 2, "eval_episodes": 2, "device": "cpu"}


def read_csv(path: Path) -> dict[str, list]:
    """The table's columns, numbers as floats (what pandas.read_csv gives, without pandas)."""
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert rows, f"{path} has no rows"
    return {name: [value if value in ("True", "False") else float(value)
                   for value in (row[name] for row in rows)] for name in rows[0]}


def assert_tables_match_the_log(run: Path) -> dict[str, list]:
    log = RunDirectory(run)
    metrics = read_csv(run / "metrics.csv")
    episodes = log.episodes()
    assert list(metrics) == ["episode", "return", "steps", "epsilon", "loss",
                             "learning_rate", "env_steps", "seconds"]
    assert metrics["episode"] == [e["episode"] for e in episodes]
    assert metrics["steps"] == [e["steps"] for e in episodes]
    assert [round(v, 4) for v in metrics["return"]] == [e["total_reward"] for e in episodes]
    assert [round(v, 4) for v in metrics["epsilon"]] == [e["epsilon"] for e in episodes]
    assert [round(v, 6) for v in metrics["loss"]] == pytest.approx(
        [e["avg_loss"] for e in episodes])
    total = 0
    for steps, env_steps in zip(metrics["steps"], metrics["env_steps"], strict=True):
        total += steps
        assert env_steps == total
    assert metrics["seconds"] == sorted(metrics["seconds"])
    evaluations = read_csv(run / "evaluations.csv")
    logged = log.training_evaluations()
    assert evaluations["episode"] == [e["episode"] for e in logged]
    assert evaluations["mean"] == [e["mean"] for e in logged]
    assert evaluations["best"] == [str(e["best"]) for e in logged]
    return metrics


def test_the_tables_hold_every_episode_and_evaluation_of_the_log(tmp_path):
    run = train_snake(tmp_path / "snake", OPTIONS)
    metrics = assert_tables_match_the_log(run)
    assert len(metrics["episode"]) == 6
    first_rate = metrics["learning_rate"][0]
    assert first_rate == pytest.approx(1e-3)  # the default, before any decay
    assert metrics["learning_rate"][1] == pytest.approx(first_rate * 0.995)
    assert len(read_csv(run / "evaluations.csv")["episode"]) == 3
    if importlib.util.find_spec("pandas"):  # the one-line read the docs promise
        import pandas

        assert pandas.read_csv(run / "metrics.csv")["return"].tolist() == metrics["return"]


def test_a_resume_cuts_the_tables_back_with_the_log(tmp_path):
    from retro_gamer.runs import train_run

    run = train_snake(tmp_path / "snake", OPTIONS)
    before = read_csv(run / "metrics.csv")
    with one_torch_thread():
        train_run(run, resume="ep_0002")
    after = assert_tables_match_the_log(run)
    assert after["episode"] == list(range(1, 7))
    assert {k: v[:2] for k, v in after.items()} == {k: v[:2] for k, v in before.items()}
    # Seconds go on from the kept rows' last figure: a run's time, not the process's.
    assert after["seconds"][2] >= after["seconds"][1]


@pytest.mark.slow
def test_a_killed_run_resumed_has_tables_equal_to_its_log(tmp_path):
    run = tmp_path / "snake"
    cli = [sys.executable, "-m", "retro_gamer.cli"]
    subprocess.run([*cli, "create", "--game", "retro.examples.snake", "--output", str(run),
                    "--training-episodes", "30", "--checkpoint-every", "1", "--layer-size",
                    "16", "--batch-size", "8", "--memory-capacity", "200",
                    "--max-turns-per-episode", "60", "--eval-every", "4",
                    "--eval-episodes", "2"], check=True, capture_output=True)
    process = subprocess.Popen([*cli, "train", str(run)], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not (run / "checkpoints" / "ep_0005.pt").exists():
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert not (run / "checkpoints" / "final.pt").exists(), "finished before the kill"
    subprocess.run([*cli, "train", str(run), "--resume", "latest"], check=True,
                   capture_output=True, timeout=300)
    assert_tables_match_the_log(run)
    assert assert_tables_match_the_log(run)["episode"] == list(range(1, 31))
    shutil.rmtree(run)
