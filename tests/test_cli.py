"""The ``retro-gamer`` command, run as a user runs it: real processes, files and terminals.

Commands run in a temporary folder outside the checkout. ``play`` runs in a real
pseudo-terminal (pexpect) that answers the cursor-position queries a terminal
emulator answers (blessed asks before drawing and waits seconds for a reply).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pexpect
import pytest
import tomlkit
from conftest import one_torch_thread
from gamekit import CORRIDOR_PYPROJECT, ENDLESS_SOURCE, GAMES_SOURCE, write_project

from retro_gamer.run_dir import RunDirectory
from retro_gamer.runs import create_run, train_run

_SCRIPT = Path(sys.executable).with_name("retro-gamer")
COMMAND = [str(_SCRIPT)] if _SCRIPT.is_file() else [sys.executable, "-m", "retro_gamer.cli"]

EPISODE_LINE = re.compile(
    r"^\[EP \d{4}\] total_reward=\S+ steps=\d+ epsilon=\S+ avg_loss=\S+$"
)
ANSI = re.compile(r"\x1bP.*?\x1b\\|\x1b\[[0-?]*[ -/]*[@-~]|\x1b[()][0-9A-Za-z]|\x1b[78=>]")

# The specification's Snake description and hyperparameter defaults, word for word.
SPEC_SNAKE_GAME = {
    "actions": ["KEY_RIGHT", "KEY_UP", "KEY_LEFT", "KEY_DOWN"],
    "reward": "score",
    "character_set": ["@", "*", ">", "<", "^", "v"],
    "spatial": True,
    "observe_state": [],
}
SPEC_DEFAULTS = {
    "learning_rate": 0.001, "lr_decay": 0.995, "gamma": 0.99, "epsilon": 1.0,
    "epsilon_decay": 0.995, "epsilon_min": 0.05, "batch_size": 64, "memory_capacity": 10000,
    "prioritize_experiences": False, "n_layers": 2, "layer_size": 128,
    "training_episodes": 1000, "max_turns_per_episode": 2000, "target_update_freq": 100,
    "exploration_turns": 200, "unknown_character_strategy": "ignore",
}
# Every create option of the specification, with a value that differs from its default.
SPEC_OPTIONS = {
    "--training-episodes": ("training_episodes", "7", 7),
    "--n-layers": ("n_layers", "3", 3),
    "--layer-size": ("layer_size", "48", 48),
    "--learning-rate": ("learning_rate", "0.0005", 0.0005),
    "--lr-decay": ("lr_decay", "0.9", 0.9),
    "--gamma": ("gamma", "0.95", 0.95),
    "--epsilon-decay": ("epsilon_decay", "0.98", 0.98),
    "--epsilon-min": ("epsilon_min", "0.1", 0.1),
    "--batch-size": ("batch_size", "8", 8),
    "--memory-capacity": ("memory_capacity", "300", 300),
    "--target-update-freq": ("target_update_freq", "25", 25),
    "--max-turns-per-episode": ("max_turns_per_episode", "40", 40),
    "--exploration-turns": ("exploration_turns", "50", 50),
}
# Small and quick, for runs the tests train.
QUICK = ["--n-layers", "1", "--layer-size", "16", "--batch-size", "8",
         "--memory-capacity", "200", "--max-turns-per-episode", "15"]


def environment() -> dict:
    env = {k: v for k, v in os.environ.items() if k != "RETRO_GAMER_DEBUG"}
    env["COLUMNS"] = "160"  # rich's tables in info: wide enough not to elide names
    return env


def cli(*args: str, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([*COMMAND, *map(str, args)], cwd=cwd, env=environment(),
                          capture_output=True, text=True, timeout=timeout)


def assert_clean_error(result: subprocess.CompletedProcess, *fragments: str) -> str:
    """A non-zero exit with one line of explanation and no traceback; returns the line."""
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "Traceback" not in output, output
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) == 1, output
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


def config(run_dir: Path) -> dict:
    return tomlkit.parse((run_dir / "config.toml").read_text(encoding="utf-8")).unwrap()


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def episode_numbers(run_dir: Path) -> list[int]:
    lines = RunDirectory(run_dir).episode_lines()
    assert all(EPISODE_LINE.match(line) for line in lines), lines
    return [int(line[4:8]) for line in lines]


def play_in_terminal(*args: str, cwd: Path, quit_on: str = "═", timeout: float = 60
                     ) -> tuple[int | None, str, float]:
    """Run ``retro-gamer play ARGS`` in a 40x100 pseudo-terminal; press Escape once
    ``quit_on`` has been drawn. Returns (exit status, screen text without escapes, seconds)."""
    started = time.monotonic()
    child = pexpect.spawn(COMMAND[0], [*COMMAND[1:], "play", *args], cwd=str(cwd),
                          env=environment(), dimensions=(40, 100), encoding="utf-8",
                          timeout=timeout)
    screen, pressed = [], False
    try:
        while True:
            index = child.expect([r"\x1b\[6n", re.escape(quit_on), pexpect.EOF])
            screen.append(child.before + (child.after if isinstance(child.after, str) else ""))
            if index == 0:  # "where is the cursor?": answer as a terminal emulator does
                child.send("\x1b[1;1R")
            elif index == 1 and not pressed:
                child.send("\x1b")  # Escape
                pressed = True
            elif index == 2:
                break
    finally:
        child.close(force=True)
    return child.exitstatus, ANSI.sub("", "".join(screen)), time.monotonic() - started


# ------------------------------------------------------------------------------ create


def test_create_writes_the_specification_example_for_snake(tmp_path):
    result = cli("create", "--game", "retro.examples.snake", "--output", "runs/snake",
                 cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "runs/snake" in result.stdout

    written = config(tmp_path / "runs" / "snake")
    game = written["game"]
    assert {k: game[k] for k in SPEC_SNAKE_GAME} == SPEC_SNAKE_GAME
    assert game["module"] == "retro.examples.snake"
    assert game["board_size"] == [32, 16]
    hyper = written["hyperparameters"]
    assert {k: hyper[k] for k in SPEC_DEFAULTS} == SPEC_DEFAULTS
    assert sorted(p.name for p in (tmp_path / "runs" / "snake").iterdir()) == ["config.toml"]


def test_create_refuses_an_existing_run_directory(tmp_path):
    create_run("retro.examples.snake", tmp_path / "run", {})
    (tmp_path / "run" / "config.toml").write_text(
        "# my edits\n" + (tmp_path / "run" / "config.toml").read_text(), encoding="utf-8")
    before = snapshot(tmp_path / "run")

    again = cli("create", "--game", "retro.examples.snake", "--output", "run", "--gamma", "0.5",
                cwd=tmp_path)
    assert_clean_error(again, "run")
    assert snapshot(tmp_path / "run") == before

    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "todo.txt").write_text("mine", encoding="utf-8")
    into_other = cli("create", "--game", "retro.examples.snake", "--output", "notes",
                     cwd=tmp_path)
    assert_clean_error(into_other, "notes")
    assert snapshot(tmp_path / "notes") == {"todo.txt": b"mine"}


def test_create_help_lists_every_hyperparameter_option_of_the_specification(tmp_path):
    result = cli("create", "--help", cwd=tmp_path)
    assert result.returncode == 0
    for option in [*SPEC_OPTIONS, "--prioritize-experiences", "--no-prioritize-experiences",
                   "--game", "--output"]:
        assert re.search(rf"(^|[\s,\[]){re.escape(option)}\b", result.stdout), option


def test_create_options_land_in_config_for_a_game_in_the_current_folder(tmp_path):
    project = write_project(tmp_path / "corridor", "corridor_game")
    args = [item for option, (_, text, _) in SPEC_OPTIONS.items() for item in (option, text)]
    result = cli("create", "--game", "corridor_game", "--output", "runs/a", *args,
                 "--prioritize-experiences", cwd=project)
    assert result.returncode == 0, result.stderr
    hyper = config(project / "runs" / "a")["hyperparameters"]
    for name, _, value in SPEC_OPTIONS.values():
        assert hyper[name] == value, name
    assert hyper["prioritize_experiences"] is True
    assert config(project / "runs" / "a")["game"]["board_size"] == [7, 1]

    result = cli("create", "--game", "corridor_game", "--output", "runs/b",
                 "--no-prioritize-experiences", "--epsilon-min", "0.2", cwd=project)
    assert result.returncode == 0, result.stderr
    hyper = config(project / "runs" / "b")["hyperparameters"]
    assert hyper["prioritize_experiences"] is False and hyper["epsilon_min"] == 0.2


def test_create_refuses_an_invalid_value_cleanly(tmp_path):
    result = cli("create", "--game", "retro.examples.snake", "--output", "run",
                 "--gamma", "1.5", cwd=tmp_path)
    assert_clean_error(result, "gamma", "1.5")
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("module, says", [
    ("no_such_game_module", "no_such_game_module"),
    ("broken_game", "ZeroDivisionError"),
])
def test_create_with_a_bad_module_is_a_clean_error(tmp_path, module, says):
    write_project(tmp_path, "broken_game", source="1 / 0\n")
    result = cli("create", "--game", module, "--output", "run", cwd=tmp_path)
    assert_clean_error(result, says)
    assert not (tmp_path / "run").exists()


# ------------------------------------------------------------------- info and play


def test_info_shows_game_hyperparameters_episodes_and_checkpoints(trained_snake):
    result = cli("info", trained_snake, cwd=trained_snake.parent)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for expected in ["retro.examples.snake", "32 x 16", "KEY_RIGHT", "score",
                     "learning_rate", "layer_size", "memory_capacity",
                     "ep_0001", "ep_0002", "final"]:
        assert expected in out, expected
    assert re.search(r"2 done", out)
    lines = RunDirectory(trained_snake).episodes()
    assert f"{lines[-1]['steps']}" in out

    summary = json.loads(cli("info", trained_snake, "--json", cwd=trained_snake.parent).stdout)
    assert summary["game"]["module"] == "retro.examples.snake"
    assert summary["hyperparameters"]["layer_size"] == 16
    assert summary["episodes_done"] == 2
    assert [e["episode"] for e in summary["recent_episodes"]] == [1, 2]
    assert [c["name"] for c in summary["checkpoints"]] == ["ep_0001", "ep_0002", "final"]


def test_play_draws_snake_and_quits_on_escape(trained_snake):
    status, screen, seconds = play_in_terminal(str(trained_snake), cwd=trained_snake.parent)
    assert status == 0, screen[-2000:]
    assert "═" in screen and "║" in screen  # the board's border
    assert "@" in screen  # the apple
    assert "score: 0" in screen  # the state pane
    assert "Traceback" not in screen
    assert re.search(r"Score: \S+ after \d+ turns", screen)
    assert seconds < 30


def test_play_a_named_checkpoint(trained_snake):
    status, screen, _ = play_in_terminal(str(trained_snake), "--checkpoint", "ep_0001",
                                         "--framerate", "30", cwd=trained_snake.parent)
    assert status == 0, screen[-2000:]
    assert "═" in screen and "Score:" in screen


def test_play_an_unknown_checkpoint_is_a_clean_error(trained_snake):
    result = cli("play", trained_snake, "--checkpoint", "ep_0099", cwd=trained_snake.parent)
    line = assert_clean_error(result, "ep_0099")
    assert "ep_0001" in line and "final" in line  # what there is instead


def test_play_without_a_terminal_says_so(trained_snake):
    result = cli("play", trained_snake, cwd=trained_snake.parent)
    assert_clean_error(result, "terminal")


def test_escape_ends_a_game_that_would_never_end(tmp_path, game_project):
    project = game_project(pyproject=CORRIDOR_PYPROJECT, source=ENDLESS_SOURCE)
    run = project.root / "run"
    create_run(project.module, run, {"training_episodes": 1, "n_layers": 1, "layer_size": 8,
                                     "batch_size": 4, "memory_capacity": 50,
                                     "max_turns_per_episode": 10, "seed": 0, "device": "cpu"})
    with one_torch_thread():
        train_run(run)
    status, screen, seconds = play_in_terminal("run", "--framerate", "20", quit_on="score:",
                                               cwd=project.root, timeout=30)
    assert status == 0, screen[-2000:]
    assert "quit)" in screen and "game over" not in screen
    assert seconds < 30


# ------------------------------------------------------------------------ end to end


@pytest.mark.slow  # six commands in a row, each starting Python and torch afresh
def test_create_train_resume_info_play(tmp_path):
    project = write_project(tmp_path / "corridor", "corridor_e2e", source=GAMES_SOURCE)
    run = project / "runs" / "corridor"

    created = cli("create", "--game", "corridor_e2e", "--output", "runs/corridor",
                  "--training-episodes", "3", *QUICK, cwd=project)
    assert created.returncode == 0, created.stderr

    trained = cli("train", "runs/corridor", "seed=5", cwd=project)
    assert trained.returncode == 0, trained.stdout + trained.stderr
    assert episode_numbers(run) == [1, 2, 3]
    assert (run / "checkpoints" / "final.pt").is_file()
    assert config(run)["hyperparameters"]["seed"] == 5  # the override was recorded

    again = cli("train", "runs/corridor", cwd=project)
    assert_clean_error(again, "--resume")
    assert episode_numbers(run) == [1, 2, 3]

    resumed = cli("train", "runs/corridor", "--resume", "latest", "training_episodes=5",
                  cwd=project)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert episode_numbers(run) == [1, 2, 3, 4, 5]
    log = (run / "training.log").read_text(encoding="utf-8").splitlines()
    marker = [line for line in log if "resumed" in line]
    assert len(marker) == 1 and not EPISODE_LINE.match(marker[0])
    assert log.index(marker[0]) == log.index(RunDirectory(run).episode_lines()[3]) - 1
    assert config(run)["hyperparameters"]["training_episodes"] == 5

    summary = json.loads(cli("info", "runs/corridor", "--json", cwd=project).stdout)
    assert summary["episodes_done"] == 5
    assert "final" in [c["name"] for c in summary["checkpoints"]]

    status, screen, _ = play_in_terminal("runs/corridor", "--framerate", "30",
                                         quit_on="score:", cwd=project)
    assert status == 0, screen[-2000:]
    assert "Score:" in screen and "G" in screen


def test_ctrl_c_while_train_starts_up_says_how_to_go_on(tmp_path, monkeypatch, capsys):
    """A newcomer's Ctrl+C before the first episode printed only 'interrupted': it now says
    that nothing was trained and the command that goes on (here: train it again)."""
    import retro_gamer.sweep
    from retro_gamer.cli import main

    run = tmp_path / "run"
    create_run("retro.examples.snake", run, {"training_episodes": 1})

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(retro_gamer.sweep, "read_run_config", interrupted)
    assert main(["train", str(run)]) == 130
    message = " ".join(capsys.readouterr().err.split())
    assert "stopped: interrupted" in message
    assert "Nothing was trained in this command" in message
    assert f"retro-gamer train {run}" in message and "--resume" not in message
