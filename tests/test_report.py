"""What the user sees while training and afterwards: the live display, ``info`` and its JSON.

``train`` runs in a real pseudo-terminal (pexpect, 40 x 120), where the rich
live display must appear; everything else runs in-process through
``retro_gamer.cli.main`` and reads what it printed.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pexpect
import pytest
from cli_runners import run_captured
from conftest import train_snake
from rich.console import Console

from retro_gamer.cli import build_parser
from retro_gamer.progress import TrainingProgress, braille_chart, moving_average, sparkline
from retro_gamer.run_dir import RunDirectory, atomic_write
from retro_gamer.runs import create_run
from retro_gamer.trainer import EpisodeStats

_SCRIPT = Path(sys.executable).with_name("retro-gamer")
COMMAND = [str(_SCRIPT)] if _SCRIPT.is_file() else [sys.executable, "-m", "retro_gamer.cli"]
ANSI = re.compile(r"\x1bP.*?\x1b\\|\x1b\[[0-?]*[ -/]*[@-~]|\x1b[()][0-9A-Za-z]|\x1b[78=>]")
BRAILLE = re.compile("[\u2801-\u28ff]")
TINY = {"n_layers": 1, "layer_size": 16, "batch_size": 8, "memory_capacity": 200,
        "max_turns_per_episode": 25, "eval_episodes": 1, "device": "cpu", "torch_threads": 1}


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """A Snake run trained for three episodes, a checkpoint after each."""
    return train_snake(tmp_path_factory.mktemp("report") / "snake",
                       {**TINY, "training_episodes": 3, "checkpoint_every": 2, "seed": 3,
                        "gamma": 0.9})


def run_cli(capsys, *args) -> tuple[int, str, str]:
    return run_captured(capsys, *args)


# ------------------------------------------------------------------ live display


def test_train_shows_the_live_display_in_a_terminal(tmp_path):
    run = tmp_path / "snake"
    create_run("retro.examples.snake", run, {**TINY, "training_episodes": 3, "seed": 1})
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "120", "LINES": "40"}
    env.pop("RETRO_GAMER_DEBUG", None)
    child = pexpect.spawn(COMMAND[0], [*COMMAND[1:], "train", str(run)], cwd=str(tmp_path),
                          env=env, dimensions=(40, 120), encoding="utf-8", timeout=90)
    output = child.read()  # until the process ends
    child.close()
    assert child.exitstatus == 0, output[-3000:]
    screen = ANSI.sub("", output)
    assert "\x1b[" in output  # drawn in place with control codes, not plain lines
    assert "3/3 episodes" in screen  # the bar, with its count
    assert "ETA" in screen
    for label in ("return", "mean of", "best", "epsilon", "learning rate", "loss",
                  "steps/s"):
        assert label in screen, label
    assert "returns of the last 3 episodes" in screen
    assert BRAILLE.search(screen)  # the learning curve
    assert "Traceback" not in screen
    assert len(RunDirectory(run).episodes()) == 3


def _stats(episode: int, total: int = 4, reward: float = 1.0) -> EpisodeStats:
    return EpisodeStats(episode=episode, total_episodes=total, total_reward=reward, steps=10,
                        epsilon=0.5, avg_loss=0.25, learning_rate=1e-3,
                        env_steps=10 * episode, train_steps=5 * episode, elapsed=0.5 * episode)


def test_without_a_terminal_training_prints_plain_labelled_lines(capsys):
    console = Console(file=io.StringIO(), force_terminal=False)
    with TrainingProgress(console, label="3_gamma=0.9", every_seconds=0.0) as progress:
        for episode, reward in zip(range(1, 5), (1.0, 5.0, 2.0, 0.0), strict=True):
            progress(_stats(episode, reward=reward))
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 4
    assert all(line.startswith("3_gamma=0.9: episode ") for line in lines)
    assert "\x1b" not in "".join(lines)
    assert lines[-1].startswith("3_gamma=0.9: episode 4/4 return 0 mean(4) 2.0 best 5 ")
    assert "steps/s" in lines[-1] and "ETA" in lines[-1]


def test_text_charts():
    assert sparkline([0, 1, 2, 3, 4, 5, 6, 7]) == "▁▂▃▄▅▆▇█"
    assert sparkline([3, 3]) == "▁▁"
    rows = braille_chart([0, 1, 2, 3], width=2, height=1)
    assert rows == ["\u28e0\u281e"]  # ⣠⠞: a rising line, bottom left to top right
    assert moving_average([2, 4, 6, 8], 2) == [2, 3, 5, 7]


# ------------------------------------------------------------------ info on a run


def test_info_json_round_trips_and_matches_the_rendered_report(trained, capsys):
    code, out, _ = run_cli(capsys, "info", trained, "--json")
    assert code == 0
    summary = json.loads(out)
    assert json.loads(json.dumps(summary)) == summary
    code, rendered, _ = run_cli(capsys, "info", trained)
    assert code == 0

    episodes = RunDirectory(trained).episodes()
    assert summary["kind"] == "run"
    assert summary["episodes_done"] == 3 == summary["episodes_total"]
    assert summary["recent_episodes"] == episodes
    returns = [ep["total_reward"] for ep in episodes]
    assert summary["statistics"]["best_return"] == max(returns)
    assert summary["learning_curve"]["returns"] == returns
    for ep in summary["recent_episodes"]:
        row = (rf"│\s+{ep['episode']} │\s+{ep['total_reward']:g} │\s+{ep['steps']} │\s+"
               rf"{ep['epsilon']:.4f} │\s+{ep['avg_loss']:.6f} │")
        assert re.search(row, rendered), row
    assert f"best {max(returns):g}" in rendered
    assert "3 of 3 trained" in rendered
    # The game panel.
    for text in ("retro.examples.snake", "32 x 16", "KEY_RIGHT", "(5 Q-values)",
                 "state['score']", "@ * > < ^ v", "CNN (spatial), 1 hidden layer x 16"):
        assert text in rendered, text
    # Non-default values are marked with their default.
    assert {"gamma", "layer_size", "training_episodes"} <= set(summary["non_default"])
    assert summary["defaults"]["gamma"] == 0.99
    assert "0.9 [0.99]" in rendered and "16 [128]" in rendered
    assert "learning_rate" not in summary["non_default"]
    # The learning curve: braille dots between its extremes.
    assert BRAILLE.search(rendered)
    assert "Learning curve" in rendered
    # Checkpoints with the episode each was saved after.
    assert [(c["name"], c["episode"]) for c in summary["checkpoints"]] == [
        ("ep_0002", 2), ("final", 3)]
    for cp in summary["checkpoints"]:
        assert re.search(rf"│ {cp['name']}\s+│\s+{cp['episode']} │\s+[\d.]+ [kM]B │", rendered)
        assert cp["modified"].replace("T", " ")[:10] in rendered


def test_info_shows_the_replay_buffer_kept_for_an_exact_resume(trained, capsys):
    code, out, _ = run_cli(capsys, "info", str(trained), "--json")
    assert code == 0
    size = (trained / "replay" / "final.replay.pt").stat().st_size
    assert json.loads(out)["replay_buffers"] == [
        {"checkpoint": "final", "path": "replay/final.replay.pt", "size_bytes": size}]
    code, out, _ = run_cli(capsys, "info", str(trained))
    shown = " ".join(ANSI.sub("", out).split())
    assert "Replay buffer of final (for an exact resume): replay/final.replay.pt" in shown


# ------------------------------------------------------------------ sweeps


def _job(sweep: Path, source: Path, name: str, result: dict | None) -> Path:
    job = sweep / name
    shutil.copytree(source, job)
    for leftover in ("result.json", "eval"):
        path = job / leftover
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()
    if result is not None:
        atomic_write(job / "result.json", json.dumps(result).encode())
    return job


@pytest.fixture(scope="module")
def sweep(trained, tmp_path_factory) -> Path:
    """A sweep folder as ``train -m`` leaves it, with jobs in every state."""
    from retro_gamer.sweep import write_summary

    base = tmp_path_factory.mktemp("sweep_base") / "snake"
    shutil.copytree(trained, base)
    folder = base / "sweeps" / "2030-01-01_00-00-00"
    folder.mkdir(parents=True)
    values = ["0.5", "0.8", "0.9", "0.95", "0.99", "0.999"]
    dead = subprocess.Popen(["true"])
    dead.wait()
    _job(folder, trained, "0_gamma=0.5", {"overrides": ["gamma=0.5"], "status": "done",
                                          "objective": 5.0, "error": None, "seconds": 3.25})
    _job(folder, trained, "1_gamma=0.8", {"overrides": ["gamma=0.8"], "status": "done",
                                          "objective": 12.5, "error": None, "seconds": 4.0})
    _job(folder, trained, "2_gamma=0.9", {"overrides": ["gamma=0.9"], "status": "failed",
                                          "objective": None, "seconds": 1.0,
                                          "error": "GameCrashed: boom\nmore lines"})
    running = _job(folder, trained, "3_gamma=0.95", {"overrides": ["gamma=0.95"],
                                                     "status": "running", "objective": None,
                                                     "error": None})
    (running / ".retro-gamer.lock").write_text(f"process {os.getpid()} on {os.uname().nodename}")
    killed = _job(folder, trained, "4_gamma=0.99", {"overrides": ["gamma=0.99"],
                                                    "status": "running", "objective": None,
                                                    "error": None})
    (killed / ".retro-gamer.lock").write_text(f"process {dead.pid} on {os.uname().nodename}")
    (folder / "multirun.yaml").write_text(
        "hydra:\n  sweeper:\n    _target_: hydra._internal.core_plugins.basic_sweeper."
        "BasicSweeper\n    max_batch_size: null\n    params: null\n  overrides:\n"
        f"    task:\n    - gamma={','.join(values)}\n", encoding="utf-8")
    write_summary(folder, command=[f"gamma={','.join(values)}"], state="running")
    return folder


def test_info_on_a_sweep_is_a_leaderboard(sweep, capsys):
    code, out, _ = run_cli(capsys, "info", sweep, "--json")
    assert code == 0
    summary = json.loads(out)
    assert summary["kind"] == "sweep"
    rows = [(job["job"], job["overrides"], job["status"], job["objective"])
            for job in summary["jobs"]]
    assert rows == [
        ("1", ["gamma=0.8"], "done", 12.5),  # best first
        ("0", ["gamma=0.5"], "done", 5.0),
        ("3", ["gamma=0.95"], "running", None),
        ("4", ["gamma=0.99"], "stopped", None),  # its process is gone
        ("2", ["gamma=0.9"], "failed", None),
        ("5", ["gamma=0.999"], "not started", None),  # no folder yet: from Hydra's config
    ]
    assert [job["rank"] for job in summary["jobs"]] == [1, 2, 3, 4, 5, 6]
    assert summary["counts"] == {"done": 2, "running": 1, "pruned": 0, "stopped": 1,
                                 "failed": 1, "not started": 1}
    assert summary["best"] == {"job": "1", "overrides": ["gamma=0.8"], "objective": 12.5}
    assert summary["jobs"][0]["episodes_done"] == 3 == summary["jobs"][0]["episodes_total"]
    assert summary["jobs"][4]["error"] == "GameCrashed: boom"

    code, rendered, _ = run_cli(capsys, "info", sweep)
    assert code == 0
    lines = [line for line in rendered.splitlines() if re.match(r"│\s+\d+ │", line)]
    assert len(lines) == 6
    for line, job in zip(lines, summary["jobs"], strict=True):
        cells = [c.strip() for c in line.strip("│").split("│")]
        assert cells[:4] == [str(job["rank"]), job["job"], job["overrides"][0], job["status"]]
        assert cells[5] == ("–" if job["objective"] is None else f"{job['objective']:g}")
    assert "2 done, 1 running, 1 stopped, 1 failed, 1 not started" in rendered


def test_info_on_a_run_lists_its_sweeps(sweep, capsys):
    base = sweep.parent.parent
    code, out, _ = run_cli(capsys, "info", base, "--json")
    assert code == 0
    sweeps = json.loads(out)["sweeps"]
    assert [(s["name"], s["jobs"], s["best"]["objective"]) for s in sweeps] == [
        ("2030-01-01_00-00-00", 6, 12.5)]
    code, rendered, _ = run_cli(capsys, "info", base)
    assert "Sweeps of this run" in rendered and "2030-01-01_00-00-00" in rendered
    assert "12.5" in rendered and "gamma=0.8" in rendered


def test_info_on_a_folder_that_is_neither_is_a_clean_error(tmp_path, capsys):
    code, out, err = run_cli(capsys, "info", tmp_path)
    assert code == 2
    assert "neither a run directory" in err and "Traceback" not in out + err
    code, _, err = run_cli(capsys, "info", tmp_path / "missing")
    assert code == 2 and "does not exist" in err


# ------------------------------------------------------------------ help


@pytest.mark.parametrize("command", ["create", "train", "play", "info", "eval", "plot"])
def test_every_command_has_help_with_examples(command, capsys):
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args([command, "--help"])
    assert exit_.value.code == 0
    text = capsys.readouterr().out
    assert "examples:" in text
    assert f"retro-gamer {command} " in text.split("examples:")[1]
