"""Issue 7: a run killed with SIGKILL at any moment resumes exactly.

The reference is an uninterrupted run; the other run is killed again and
again at random moments (mid-episode, mid-checkpoint write, mid-evaluation:
checkpoints come every episode here, evaluations every third) and resumed from
its latest checkpoint each time. On the CPU with the same seed, the final
weights and best.pt's must be equal bit for bit, and the training.log's episode
and evaluation lines identical.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

CLI = [sys.executable, "-m", "retro_gamer.cli"]
SETTINGS = ["--training-episodes", "14", "--checkpoint-every", "1", "--memory-capacity", "400",
            "--batch-size", "16", "--layer-size", "16", "--max-turns-per-episode", "80",
            "--target-update-freq", "20", "--eval-episodes", "2", "--eval-every", "3",
            "--seed", "1234",
            "--prioritize-experiences"]
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONHASHSEED": "0"}


def create(run: Path) -> None:
    subprocess.run([*CLI, "create", "--game", "retro.examples.snake", "--output", str(run),
                    *SETTINGS], check=True, capture_output=True, env=ENV)


def episode_lines(run: Path, prefix: str = "[EP ") -> list[str]:
    return [line for line in (run / "training.log").read_text().splitlines()
            if line.startswith(prefix)]


def final_weights(run: Path, name: str = "final.pt") -> dict:
    return torch.load(run / "checkpoints" / name, weights_only=True)["model"]


@pytest.mark.slow
def test_sigkill_at_random_moments_then_resume_matches_an_uninterrupted_run(tmp_path):
    reference = tmp_path / "reference"
    create(reference)
    started = time.monotonic()
    subprocess.run([*CLI, "train", str(reference)], check=True, capture_output=True, env=ENV)
    full_time = time.monotonic() - started

    killed = tmp_path / "killed"
    create(killed)
    rng = random.Random(99)
    kills = 0
    for _ in range(4):
        resume = ["--resume", "latest"] if list((killed / "checkpoints").glob("*.pt")) else []
        process = subprocess.Popen([*CLI, "train", str(killed), *resume],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                   env=ENV)
        time.sleep(rng.uniform(0.3, max(0.6, full_time * 0.6)))
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            kills += 1
        process.wait()
        if (killed / "checkpoints" / "final.pt").exists() and process.returncode == 0:
            break
    assert kills >= 1, "the run finished before any kill: the test proved nothing"
    if not (killed / "checkpoints" / "final.pt").exists() or process.returncode != 0:
        resume = ["--resume", "latest"] if list((killed / "checkpoints").glob("*.pt")) else []
        subprocess.run([*CLI, "train", str(killed), *resume], check=True, capture_output=True,
                       env=ENV)

    assert episode_lines(killed) == episode_lines(reference)
    assert len(episode_lines(reference)) == 14
    evaluations = episode_lines(reference, "# eval after episode")
    assert len(evaluations) == 4 and episode_lines(killed, "# eval") == evaluations
    for checkpoint in ("final.pt", "best.pt"):
        expected, actual = final_weights(reference, checkpoint), final_weights(killed, checkpoint)
        assert expected.keys() == actual.keys()
        for name in expected:
            assert torch.equal(expected[name], actual[name]), (checkpoint, name)
    assert not list(killed.rglob(".*.tmp")), "a half-written temporary file was left behind"


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_sigterm_or_ctrl_c_saves_a_checkpoint_and_says_how_to_resume(tmp_path, sig):
    run = tmp_path / "run"
    subprocess.run([*CLI, "create", "--game", "retro.examples.snake", "--output", str(run),
                    "--training-episodes", "100000", "--checkpoint-every", "1000",
                    "--memory-capacity", "300", "--batch-size", "8", "--layer-size", "16",
                    "--max-turns-per-episode", "60", "--seed", "5"],
                   check=True, capture_output=True, env=ENV)
    process = subprocess.Popen([*CLI, "train", str(run)], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, env=ENV)
    deadline = time.monotonic() + 60
    while len(episode_lines(run) if (run / "training.log").exists() else []) < 3:
        assert time.monotonic() < deadline and process.poll() is None
        time.sleep(0.1)
    process.send_signal(sig)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 130  # the shell's "interrupted" status
    assert "Traceback" not in out + err and "error" not in err.lower()
    assert "stopped: Training stopped at episode" in err
    # The schedule was cut short: the user is told how far epsilon and the learning rate
    # still had to go (the defaults decay 0.995 an episode, epsilon to its 0.05 floor).
    said = " ".join(err.split())
    assert "of 100000" in said and "episodes to go: epsilon is" in said
    assert "(it ends at 0.05)" in said and "resuming finishes it" in said
    assert f"retro-gamer train {run} --resume latest" in out + err
    episodes = len(episode_lines(run))
    saved = run / "checkpoints" / f"ep_{episodes:04d}.pt"
    assert saved.exists(), "the checkpoint of the last finished episode must be saved"
    state = torch.load(saved, weights_only=True)
    assert state["episode"] == episodes
    # ... and the run continues from there.
    subprocess.run([*CLI, "train", str(run), "training_episodes=" + str(episodes + 2),
                    "--resume", "latest"], check=True, capture_output=True, env=ENV)
    numbers = [int(line[4:8]) for line in episode_lines(run)]
    assert numbers == list(range(1, episodes + 3))
