"""A new user's first hour on any game: messages that lead to the fix, progress that never
goes quiet, output that suits where it goes (issue 18).

Commands run as a user runs them: a real process in a pseudo-terminal (pexpect) where a
terminal matters, a real process with its output piped where it must not, and otherwise
in-process through ``retro_gamer.cli.main``.
"""

from __future__ import annotations

import io
import json
import math
import re
import sys
from pathlib import Path

import pexpect
import pytest
from cli_runners import environment, finish, run_captured, start
from conftest import CHAR_GAME_SOURCE, one_torch_thread, train_snake
from rich.console import Console

from retro_gamer.cli import build_parser
from retro_gamer.progress import Pace, TrainingProgress
from retro_gamer.record import read_cast
from retro_gamer.runs import create_run, train_run
from retro_gamer.trainer import EpisodeStats, TurnStats

_SCRIPT = Path(sys.executable).with_name("retro-gamer")
COMMAND = [str(_SCRIPT)] if _SCRIPT.is_file() else [sys.executable, "-m", "retro_gamer.cli"]
ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]")
TINY = {"n_layers": 1, "layer_size": 16, "batch_size": 8, "memory_capacity": 200,
        "max_turns_per_episode": 25, "eval_episodes": 1, "device": "cpu", "torch_threads": 1}


def in_terminal(*args: str, cwd: Path, timeout: float = 120) -> tuple[int | None, str]:
    """``retro-gamer ARGS`` in a 40x100 pseudo-terminal, answering cursor queries.

    ``timeout`` only guards against a hang (the fault under test), it measures nothing.
    """
    child = pexpect.spawn(COMMAND[0], [*COMMAND[1:], *args], cwd=str(cwd), env=environment(),
                          dimensions=(40, 100), encoding="utf-8", timeout=timeout)
    screen = []
    try:
        while child.expect([r"\x1b\[6n", pexpect.EOF]) == 0:
            screen.append(child.before)
            child.send("\x1b[1;1R")
        screen.append(child.before)
    finally:
        child.close(force=True)
    return child.exitstatus, ANSI.sub("", "".join(screen))


# ------------------------------------------------------------------ 1-4: finding a game


@pytest.mark.parametrize("example", ["simple", "debug"])
def test_a_module_that_plays_when_imported_is_reported_not_run_in_a_terminal(tmp_path,
                                                                            example):
    status, screen = in_terminal("create", "--game", f"retro.examples.{example}",
                                 "--output", "runs/x", cwd=tmp_path)
    assert status == 2, screen
    text = " ".join(screen.split())
    assert "starts its game" in text and "create_game()" in text, text
    assert "[tool.retro-gamer]" in text and "Traceback" not in text
    assert not (tmp_path / "runs").exists()


def test_a_module_that_plays_when_imported_is_reported_without_a_terminal(tmp_path):
    result = finish(start("create", "--game", "retro.examples.simple", "--output", "runs/s",
                          cwd=tmp_path), timeout=120)
    assert result.returncode == 2
    assert "starts its game" in result.stderr and "TerminalTooSmall" not in result.stderr


def test_a_namespace_package_is_named_for_what_it_lacks(tmp_path):
    code, _, err = run_in(tmp_path, "create", "--game", "retro.examples.virus",
                          "--output", "runs/v")
    assert code == 2
    assert "namespace package" in err and "create_game()" in err, err
    assert "no source file" not in err


def test_an_installed_game_without_a_description_gets_the_wrapper_projects_lines(
        tmp_path, monkeypatch):
    # Every playable retro example now has a description (bundled where retro ships none),
    # so the installed game here is a package of our own inside a site-packages folder.
    package = tmp_path / "lib" / "site-packages" / "mazegame"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(CHAR_GAME_SOURCE)
    monkeypatch.syspath_prepend(str(package.parent))
    code, _, err = run_in(tmp_path, "create", "--game", "mazegame", "--output", "runs/l")
    assert code == 2
    assert "is an installed game" in err and "from mazegame import create_game" in err, err
    assert "[tool.retro-gamer]" in err and "pyproject.toml" in err
    assert "next to your game" not in err  # that would mean editing site-packages


@pytest.mark.parametrize("typo", ["retro.examples.snak", "retro.exampels.snake",
                                  "retr.examples.snake"])
def test_a_misspelt_installed_module_gets_did_you_mean(tmp_path, typo):
    code, _, err = run_in(tmp_path, "create", "--game", typo, "--output", "runs/s")
    assert code == 2
    assert "Did you mean 'retro.examples.snake'?" in err, err
    if typo.startswith("retro."):  # running from the game's folder does not fit a package
        assert "Run retro-gamer from" not in err


def test_a_misspelt_module_in_the_current_folder_gets_did_you_mean(tmp_path):
    (tmp_path / "coinwalk.py").write_text(CHAR_GAME_SOURCE)
    code, _, err = run_in(tmp_path, "create", "--game", "coinwalc", "--output", "runs/c")
    assert code == 2 and "Did you mean 'coinwalk'?" in err, err


def run_in(cwd: Path, *args) -> tuple[int, str, str]:
    from cli_runners import run_in_process

    result = run_in_process(*args, cwd=cwd)
    return result.returncode, result.stdout, " ".join(result.stderr.split())


# ------------------------------------------------------------------ 5: keys do nothing

DEAF_SOURCE = CHAR_GAME_SOURCE.replace("def handle_keystroke(self, keystroke, game):",
                                       "def ignore_keystroke(self, keystroke, game):")


def test_a_game_no_agent_takes_keystrokes_in_is_warned_about(game_project, tmp_path):
    project = game_project(source=DEAF_SOURCE)
    code, _, err = run_in(project.root, "create", "--game", project.module,
                          "--output", tmp_path / "deaf", "--training-episodes", "1",
                          *(f"{k}={v}" for k, v in TINY.items()))
    assert code == 0
    assert "warning:" in err and "cannot affect the game" in err, err
    code, out, err = run_in(project.root, "train", tmp_path / "deaf")
    assert code == 0, err
    assert "warning:" in err and "handle_keystroke" in err, err


# ------------------------------------------------------------------ 6: long episodes

LONG_SOURCE = CHAR_GAME_SOURCE.replace('game.state["lives"] -= 1', 'pass')


def test_a_long_episode_reports_its_turns_in_plain_lines(game_project, tmp_path, capsys):
    """A game that never ends: one 250-turn episode must not leave the output silent."""
    project = game_project(source=LONG_SOURCE)
    run = tmp_path / "long"
    create_run(project.module, run, {**TINY, "training_episodes": 1,
                                     "max_turns_per_episode": 250})
    progress = TrainingProgress(Console(file=io.StringIO()), every_seconds=0)
    with one_torch_thread(), progress:
        train_run(run, on_episode=progress, on_turn=progress.on_turn)
    lines = capsys.readouterr().err.splitlines()
    assert any("episode 1/1 in progress: turn 200" in line for line in lines), lines


def test_the_live_display_shows_the_turn_of_a_long_episode():
    console = Console(file=io.StringIO(), width=100, record=True)
    progress = TrainingProgress(console)
    progress.on_turn(TurnStats(1, 10, 1200, 1200, 0, 30.0))
    console.print(*progress.panel())
    assert "episode 1/10 in progress: turn 1,200" in console.export_text()
    progress(episode_stats(1, 10, 1300, 31.0, train_steps=5))
    progress.on_turn(TurnStats(2, 10, 400, 1700, 60, 40.0))
    console.print(*progress.panel())
    assert "episode 2/10 in progress: turn 400" in console.export_text()


def episode_stats(episode: int, total: int, env_steps: int, elapsed: float,
                  train_steps: int = 100) -> EpisodeStats:
    return EpisodeStats(episode, total, 1.0, 10, 0.5, 0.1, 1e-3, env_steps, train_steps,
                        elapsed)


# ------------------------------------------------------------------ 7: where output goes


def test_forced_colour_without_a_terminal_gets_plain_lines(game_project, tmp_path):
    project = game_project()
    run = tmp_path / "coin"
    create_run(project.module, run, {**TINY, "training_episodes": 3})
    result = finish(start("train", run, cwd=project.root,
                          env=environment(FORCE_COLOR="1")))
    assert result.returncode == 0, result.stderr
    assert "training: episode 3/3 return" in result.stderr, result.stderr
    assert "\x1b[" not in result.stderr  # no redraw frames, no colour codes, in a log file


# ------------------------------------------------------------------ 8: rate and ETA


def test_the_eta_allows_for_episodes_growing_longer():
    """Episode e takes 1 + 0.1 e seconds: after 20 of 100 the rest takes 528 s."""
    progress = TrainingProgress(Console(file=io.StringIO()))
    elapsed = 0.0
    for episode in range(1, 21):
        elapsed += 1 + 0.1 * episode
        progress(episode_stats(episode, 100, 100 * episode, elapsed))
    true_rest = sum(1 + 0.1 * e for e in range(21, 101))
    assert progress.eta_seconds(progress.last) == pytest.approx(true_rest, rel=0.1)


def test_no_rate_or_eta_before_there_is_a_meaningful_one(capsys):
    progress = TrainingProgress(Console(file=io.StringIO()), every_seconds=0)
    progress(episode_stats(1, 10, 40_000, 1.0, train_steps=0))  # no learning yet: fast turns
    line = capsys.readouterr().err
    assert "- steps/s" in line and "ETA -:--:--" in line, line
    assert "40000 steps/s" not in line and "0:00:00" not in line


def test_pace_is_unknown_until_enough_episodes_have_learned():
    pace = Pace()
    assert math.isnan(pace.eta_seconds(0, 10, 0.0))
    pace.episode_done(episode_stats(1, 10, 100, 1.0, train_steps=0))
    pace.episode_done(episode_stats(2, 10, 200, 2.0, train_steps=10))
    assert math.isnan(pace.eta_seconds(2, 10, 2.0))


def test_the_readme_says_where_its_training_time_was_measured():
    readme = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
    quickstart = readme[readme.index("## Quickstart"):readme.index("Run the test suite")]
    assert "about ten minutes on a laptop CPU" not in quickstart
    assert "load" in quickstart and "benchmarks.md" in quickstart


# ------------------------------------------------------------------ 9: a stopped run


@pytest.fixture(scope="module")
def stopped(tmp_path_factory) -> Path:
    """A Snake run stopped after two episodes: checkpoints ep_0001, ep_0002, no final."""
    run = train_snake(tmp_path_factory.mktemp("stopped") / "snake",
                      {**TINY, "training_episodes": 2, "checkpoint_every": 1, "seed": 2})
    (run / "checkpoints" / "final.pt").unlink()
    return run


def test_eval_after_a_stopped_run_uses_the_newest_checkpoint_and_says_so(stopped, capsys):
    code, out, err = run_captured(capsys, "eval", stopped, "--episodes", "1", "--json")
    assert code == 0, err
    assert json.loads(out)["checkpoint"] == "ep_0002"
    assert "using the newest, ep_0002" in " ".join(err.split())


def test_asking_for_final_of_a_stopped_run_suggests_latest(stopped, capsys):
    code, _, err = run_captured(capsys, "eval", stopped, "--checkpoint", "final")
    assert code == 2
    assert "--checkpoint latest" in " ".join(err.split()), err


# ------------------------------------------------------------------ 11: wording


def test_eval_help_prints_a_plain_percent_sign():
    assert "95% confidence" in eval_help() and "%%" not in eval_help()


def eval_help() -> str:
    parser = build_parser()
    commands = next(a for a in parser._actions if a.dest == "command")  # noqa: SLF001
    return commands.choices["eval"].format_help()


def test_one_episode_is_one_episode(game_project, tmp_path):
    project = game_project()
    run = tmp_path / "one"
    create_run(project.module, run, {**TINY, "training_episodes": 1})
    code, out, err = run_in(project.root, "train", run)
    assert code == 0, err
    assert "Trained 1 episode." in " ".join(out.split()), out


def test_the_charts_legend_counts_the_episodes_it_averages():
    console = Console(file=io.StringIO(), width=100, record=True)
    progress = TrainingProgress(console)
    for episode in range(1, 9):
        progress(episode_stats(episode, 8, 10 * episode, float(episode)))
    console.print(*progress.panel())
    text = console.export_text()
    assert "mean of 8" in text and "mean of 20" not in text, text


def test_a_bare_command_says_where_to_start():
    result = finish(start(cwd=Path.cwd()), timeout=120)
    assert result.returncode == 2
    assert "Start with: retro-gamer create" in result.stderr, result.stderr


def test_the_play_screen_says_which_number_the_agent_was_trained_on(stopped, tmp_path,
                                                                     capsys):
    cast = tmp_path / "game.cast"
    code, _, err = run_captured(capsys, "play", stopped, "--record", cast)
    assert code == 0, err
    frames = "".join(text for _, _, text in read_cast(cast)[1])
    assert "trained on 'score'" in frames


@pytest.mark.slow
def test_the_getting_started_pages_wrapper_steps_train_labyrinth(tmp_path):
    """The docs page's steps, run as written (with tiny episode counts)."""
    page = (Path(__file__).parents[1] / "docs" / "getting-started.rst").read_text("utf-8")
    blocks = literal_blocks(page, "labyrinth")
    project = tmp_path / "my-labyrinth"
    project.mkdir()
    (project / "small_labyrinth.py").write_text(blocks["small_labyrinth.py"])
    (project / "pyproject.toml").write_text(blocks["pyproject.toml"])
    commands = [line.split("#")[0].split() for line in blocks["console"].splitlines()
                if line.startswith("retro-gamer ")]
    assert [c[1] for c in commands] == ["create", "train", "play"]
    tiny = [f"{k}={v}" for k, v in {**TINY, "training_episodes": 2,
                                    "max_turns_per_episode": 30}.items()]
    code, out, err = run_in(project, *commands[0][1:], *tiny)
    assert code == 0, err
    code, out, err = run_in(project, *commands[1][1:])
    assert code == 0, err
    assert "Trained 2 episodes" in " ".join(out.split())
    code, out, err = run_in(project, "play", commands[2][2], "--record", "maze.cast")
    assert code == 0, err


def literal_blocks(page: str, section: str) -> dict[str, str]:
    """The code blocks of the page's section named ``section``, keyed by their caption
    (a file name) or by their language (``console``)."""
    start = page.lower().index(f"train retro's {section}")
    text = page[start:]
    text = text[:re.search(r"\n[^\n]+\n-{4,}\n", text[1:]).start() + 1]  # up to the next
    blocks = {}  # the last console block is the one to run; the first shows the error
    for match in re.finditer(r"\.\. code-block:: (\w+)\n((?:   :caption: (\S+)\n)?)\n"
                             r"((?:(?:   .*)?\n)+)", text):
        body = "\n".join(line[3:] for line in match.group(4).splitlines()) + "\n"
        blocks[match.group(3) or match.group(1)] = body.strip() + "\n"
    return blocks
