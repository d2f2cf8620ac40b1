"""``retro-gamer play``: live in a real pseudo-terminal, and recorded to asciicast v2."""

from __future__ import annotations

import json
import os
import re
import sys
import time
from pathlib import Path

import pexpect
import pytest
from conftest import train_snake

from retro_gamer.cli import main
from retro_gamer.record import AsciicastWriter, read_cast

_SCRIPT = Path(sys.executable).with_name("retro-gamer")
COMMAND = [str(_SCRIPT)] if _SCRIPT.is_file() else [sys.executable, "-m", "retro_gamer.cli"]
ANSI = re.compile(r"\x1bP.*?\x1b\\|\x1b\[[0-?]*[ -/]*[@-~]|\x1b[()][0-9A-Za-z]|\x1b[78=>]")
SNAKE_HEADS = "<>^v"
TINY = {"n_layers": 1, "layer_size": 16, "batch_size": 8, "memory_capacity": 200,
        "max_turns_per_episode": 25, "eval_episodes": 1, "device": "cpu", "torch_threads": 1}


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    return train_snake(tmp_path_factory.mktemp("play") / "snake",
                       {**TINY, "training_episodes": 2, "seed": 2})


def play_in_terminal(run: Path, *args: str, press: dict[str, str], timeout: float = 60
                     ) -> tuple[int | None, str]:
    """``retro-gamer play RUN ARGS`` in a 40 x 120 pseudo-terminal.

    ``press`` maps a text to the key sent (once) when the text appears on the screen.
    Returns the exit status and everything drawn, without escape sequences.
    """
    env = {**os.environ, "TERM": "xterm-256color"}
    env.pop("RETRO_GAMER_DEBUG", None)
    child = pexpect.spawn(COMMAND[0], [*COMMAND[1:], "play", str(run), *args],
                          cwd=str(run.parent), env=env, dimensions=(40, 120),
                          encoding="utf-8", timeout=timeout)
    patterns = [r"\x1b\[6n", pexpect.EOF, *map(re.escape, press)]
    texts = list(press)
    screen = []
    try:
        while True:
            index = child.expect(patterns)
            screen.append(child.before + (child.after if isinstance(child.after, str) else ""))
            if index == 0:  # blessed asks where the cursor is: answer as a terminal does
                child.send("\x1b[1;1R")
            elif index == 1:
                break
            else:
                text = texts[index - 2]
                child.send(press[text])
                patterns[index] = re.escape(f"\x00never again {text}")
    finally:
        child.close(force=True)
    return child.exitstatus, ANSI.sub("", "".join(screen))


def test_play_draws_the_board_quits_on_escape_and_shows_the_score(trained):
    started = time.monotonic()
    # Slow frames: the Escape sent once the board shows is read before the second turn,
    # so even a snake heading for the wall is quit rather than finished.
    status, screen = play_in_terminal(trained, "--framerate", "4",
                                      press={"score:": "\x1b"})
    assert status == 0, screen[-2000:]
    assert "═" in screen and "║" in screen  # retro's own board border
    assert "@" in screen and any(head in screen for head in SNAKE_HEADS)
    assert re.search(r"Score: \S+ after \d+ turns \(quit\)\.", screen)
    assert "Game over" not in screen  # quitting skips the final pause
    assert "Traceback" not in screen
    assert time.monotonic() - started < 30


def test_play_shows_the_score_between_games_and_at_the_end(trained):
    status, screen = play_in_terminal(trained, "--framerate", "200", "--episodes", "2",
                                      press={"Press Enter or Escape": "\r"})
    assert status == 0, screen[-2000:]
    assert re.search(r"Game 1/2 over: score \S+\. Next game in 2 s", screen)
    assert re.search(r"Game over: score \S+ \(mean \S+ over 2 games\)\. Press Enter or Escape",
                     screen)
    # After leaving the fullscreen view, each game's score stays in the terminal.
    assert re.search(r"Game 1: score \S+ after \d+ turns \(game over\)\.", screen)
    assert re.search(r"Game 2: score \S+ after \d+ turns \(game over\)\.", screen)
    assert re.search(r"Mean score \S+ over 2 games\.", screen)


# ------------------------------------------------------------------ recording


def test_record_writes_an_asciicast_v2_file_that_replays_the_game(trained, tmp_path, capsys):
    cast = tmp_path / "snake.cast"
    code = main(["play", str(trained), "--record", str(cast), "--episodes", "2",
                 "--framerate", "10"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert f"asciinema play {cast}" in out
    assert len(re.findall(r"Game \d: score \S+ after \d+ turns \(game over\)", out)) == 2

    lines = cast.read_text(encoding="utf-8").splitlines()
    header = json.loads(lines[0])
    assert header["version"] == 2
    assert header["width"] >= 34 and header["height"] >= 18  # a 32 x 16 board and its border
    assert isinstance(header["timestamp"], int)
    events = [json.loads(line) for line in lines[1:]]
    assert all(len(e) == 3 and e[1] == "o" and isinstance(e[2], str) for e in events)
    times = [e[0] for e in events]
    assert times == sorted(times)
    assert read_cast(cast) == (header, events)

    frames = [ANSI.sub("", e[2]) for e in events if "┌" in e[2]]
    # Each turn is a frame, 1/framerate seconds apart.
    assert len(frames) > 4
    assert times[2] - times[1] == pytest.approx(0.1)
    for frame in frames:
        rows = frame.split("\r\n")
        board = rows[1:17]
        assert rows[0].startswith("┌" + "─" * 32 + "┐")
        assert all(row.startswith("│") and row[33] == "│" for row in board)
        assert sum(row.count("@") for row in board) == 1  # the apple
        assert sum(row.count(h) for row in board for h in SNAKE_HEADS) == 1  # the head
        assert len(rows) == header["height"]
        assert all(len(row) == header["width"] for row in rows)
    assert "score:" in frames[0]  # the state pane
    assert any("Game 1/2 over: score" in frame for frame in frames)
    assert "Game over: score" in frames[-1]


def test_record_needs_a_cast_file_name(trained, tmp_path, capsys):
    code = main(["play", str(trained), "--record", str(tmp_path / "game.txt")])
    _, err = capsys.readouterr()
    assert code == 2 and ".cast" in err and not (tmp_path / "game.txt").exists()
    code = main(["play", str(trained), "--episodes", "0"])
    _, err = capsys.readouterr()
    assert code == 2 and "--episodes" in err


def test_asciicast_writer_and_reader(tmp_path):
    writer = AsciicastWriter(10, 3, title="t", timestamp=123)
    writer.output(0.0, "a")
    writer.output(0.5, "b\r\n")
    path = writer.save(tmp_path / "x.cast")
    header, events = read_cast(path)
    assert header == {"version": 2, "width": 10, "height": 3, "timestamp": 123,
                      "env": {"TERM": "xterm-256color", "SHELL": "/bin/sh"}, "title": "t"}
    assert events == [[0.0, "o", "a"], [0.5, "o", "b\r\n"]]
    with pytest.raises(ValueError):
        writer.output(0.1, "back in time")


# ------------------------------------------------------------------ the explain view (issue 27)


def test_explain_shows_the_networks_own_q_values_and_view(trained):
    import numpy as np
    import torch

    from retro_gamer.agent import GreedyAgent
    from retro_gamer.env import GameEnvironment
    from retro_gamer.explain import OFF_BOARD, explain
    from retro_gamer.games import find_create_game
    from retro_gamer.run_dir import RunDirectory

    agent = GreedyAgent.from_checkpoint(RunDirectory(trained), "final")
    env = GameEnvironment(find_create_game("retro.examples.snake"), agent.metadata)
    env.start()
    for _ in range(3):
        explanation = explain(agent, env.board, env.extras)
        with torch.no_grad():
            q = agent.network(torch.from_numpy(env.board)[None],
                              torch.from_numpy(env.extras)[None])[0].numpy()
        assert np.allclose(explanation.q_values, q)
        assert explanation.chosen == agent.act(env.board, env.extras) == int(q.argmax())
        assert explanation.margin == pytest.approx(q.max() - np.sort(q)[-2], abs=1e-6)
        assert explanation.actions[-1] == "no-op"
        assert len(explanation.view) == 7 and explanation.view[3][3] in SNAKE_HEADS
        # The view is the board around the head, cells past the edge drawn as walls.
        characters = ["·", *agent.character_set]
        heads = [agent.character_set.index(h) + 1 for h in SNAKE_HEADS]
        (row,), (col,) = np.nonzero(np.isin(env.board, heads))
        height, width = env.board.shape
        for dy in range(-3, 4):
            assert explanation.view[3 + dy] == "".join(
                characters[env.board[row + dy, col + dx]]
                if 0 <= row + dy < height and 0 <= col + dx < width else OFF_BOARD
                for dx in range(-3, 4))
        lines = explanation.lines()
        marked = [line for line in lines if line.startswith("▶")]
        assert len(marked) == 1 and explanation.actions[explanation.chosen] in marked[0]
        assert f"{q[explanation.chosen]:10.4f}" in marked[0]
        env.act(explanation.chosen)


def test_record_with_explain_keeps_the_explanation_in_every_turn(trained, tmp_path, capsys):
    import random

    from retro_gamer.agent import GreedyAgent
    from retro_gamer.env import GameEnvironment
    from retro_gamer.explain import explain
    from retro_gamer.games import find_create_game
    from retro_gamer.run_dir import RunDirectory

    cast = tmp_path / "explained.cast"
    random.seed(8)
    code = main(["play", str(trained), "--record", str(cast), "--explain"])
    assert code == 0, capsys.readouterr().err
    header, events = read_cast(cast)
    frames = [ANSI.sub("", e[2]) for e in events if "┌" in e[2]]
    turns = [frame for frame in frames if "Q-values" in frame]
    assert len(turns) == len(frames) - 2  # all but the ended board and the game-over frame
    assert all(len(frame.split("\r\n")) == header["height"] for frame in frames)
    # The first frame's figures are the network's for the game's first board.
    random.seed(8)
    agent = GreedyAgent.from_checkpoint(RunDirectory(trained), "final")
    env = GameEnvironment(find_create_game("retro.examples.snake"), agent.metadata)
    env.start()
    expected = explain(agent, env.board, env.extras).lines()
    shown = [row.rstrip() for row in turns[0].split("\r\n")]
    assert [row.rstrip() for row in expected] == shown[shown.index(expected[0]):][:len(expected)]


def test_play_explain_in_a_terminal_beside_the_board(trained):
    status, screen = play_in_terminal(trained, "--explain", "--framerate", "4",
                                      press={"greedy margin": "\x1b"})
    assert status == 0, screen[-2000:]
    assert "Q-values (expected future reward):" in screen and "▶" in screen
    assert "view around the player" in screen and "(quit)" in screen
    assert "Traceback" not in screen


def test_the_e_key_turns_the_explanation_on_while_playing(trained):
    # Without --explain nothing is explained until e is pressed; then the explanation shows.
    status, screen = play_in_terminal(trained, "--framerate", "4",
                                      press={"score:": "e", "greedy margin": "\x1b",
                                             "Press Enter or Escape": "\r"})
    assert status == 0, screen[-2000:]
    assert "Q-values" in screen and screen.index("score:") < screen.index("Q-values")
    assert "Traceback" not in screen
