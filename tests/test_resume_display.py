"""Issue 27: after --resume, the live display's mean and best cover the whole run (its log)."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from retro_gamer.run_dir import RunDirectory

CLI = [sys.executable, "-m", "retro_gamer.cli"]
ENV = {**os.environ, "OMP_NUM_THREADS": "1"}


@pytest.mark.slow  # two trainings through the CLI: about a minute on a busy 2-core machine
def test_a_resumed_runs_display_counts_the_episodes_before_the_resume(tmp_path):
    run = tmp_path / "snake"
    subprocess.run([*CLI, "create", "--game", "retro.examples.snake", "--output", str(run),
                    "--training-episodes", "4", "--checkpoint-every", "1", "--layer-size", "8",
                    "--n-layers", "1", "--batch-size", "8", "--memory-capacity", "100",
                    "--max-turns-per-episode", "30", "--seed", "2", "--eval-every", "0"],
                   check=True, capture_output=True, env=ENV)
    subprocess.run([*CLI, "train", str(run)], check=True, capture_output=True, env=ENV)
    result = subprocess.run([*CLI, "train", str(run), "--resume", "latest",
                             "training_episodes=6"], capture_output=True, text=True, env=ENV,
                            timeout=300)
    assert result.returncode == 0, result.stderr
    returns = [e["total_reward"] for e in RunDirectory(run).episodes()]
    assert len(returns) == 6
    last = [line for line in result.stderr.splitlines() if "episode 6/6" in line][-1]
    match = re.search(r"mean\((\d+)\) (\S+) best (\S+) ", last)
    assert match, last
    assert int(match.group(1)) == 6  # not mean(2): only the episodes after the resume
    assert float(match.group(2)) == round(sum(returns) / 6, 1)
    assert float(match.group(3)) == max(returns)
