"""Watching a trained agent play: live in the terminal, or recorded to an asciicast file.

In the terminal the game is drawn by retro's own :class:`TerminalView`, inside
one fullscreen session for all the games: between games the score is shown
for a moment, and when the last game ends the final score stays on screen
until Enter or Escape. Enter or Escape during a game quits at once.

With ``record`` nothing is drawn: the games are played as fast as the agent
can and each turn becomes a frame of an asciicast v2 recording, timed at
``1 / framerate`` seconds.
"""

from __future__ import annotations

import os
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from blessed import Terminal
from retro.errors import TerminalTooSmall
from retro.input import InputSource

from retro_gamer.agent import GreedyAgent
from retro_gamer.encoding import BoardEncoder
from retro_gamer.errors import ConfigError, GameCrashed, RunDirectoryError
from retro_gamer.explain import Explanation, explain
from retro_gamer.games import find_create_game, make_game, raised_by_game
from retro_gamer.retro_adapter import keystroke
from retro_gamer.run_dir import RunDirectory

QUIT_KEYS = ("KEY_ENTER", "KEY_ESCAPE")
EXPLANATION_WIDTH = 40  # columns the explanation needs beside the board (else it goes below)
EXPLAIN_KEY = "e"  # shows or hides the explanation; the user's keys never reach the game
BETWEEN_GAMES_SECONDS = 2.0


def _is_quit_key(key) -> bool:
    return key.name in QUIT_KEYS or key in ("\n", "\r", "\x1b")


class AgentInput(InputSource):
    """Feeds the agent's choice to the game each turn; Enter or Escape from the user quits."""

    def __init__(self, agent: GreedyAgent, game, terminal: Terminal, explaining: bool = False):
        self.agent, self.game, self.terminal = agent, game, terminal
        self.encoder = BoardEncoder(agent.character_set, game.board_size)
        self.keys = [*agent.metadata.actions, None]
        self.extras = np.zeros(len(agent.metadata.observe_state), dtype=np.float32)
        self.quit = False
        self.explaining = explaining
        self.explanation: Explanation | None = None  # this turn's, while explaining
        self.rows_shown = 0  # rows of explanation on the screen, blanked when it is hidden

    def collect(self) -> set:
        while True:
            key = self.terminal.inkey(timeout=0)
            if not key:
                break
            if _is_quit_key(key):
                self.quit = True
                self.game.end()
                return set()
            if str(key).lower() == EXPLAIN_KEY:
                self.explaining = not self.explaining
        board = self.encoder.encode(self.game)
        for i, name in enumerate(self.agent.metadata.observe_state):
            self.extras[i] = float(self.game.state[name])
        if self.explaining:
            self.explanation = explain(self.agent, board, self.extras)
            action = self.explanation.chosen
        else:
            self.explanation, action = None, self.agent.act(board, self.extras)
        key = self.keys[action]
        return set() if key is None else {keystroke(key)}


@dataclass
class PlayResult:
    """The games played: one score and one turn count per game."""

    scores: list[float] = field(default_factory=list)
    turn_counts: list[int] = field(default_factory=list)
    quit: bool = False
    recording: Path | None = None

    @property
    def score(self) -> float:
        """The last game's score."""
        return self.scores[-1] if self.scores else 0.0

    @property
    def turns(self) -> int:
        """The last game's number of turns."""
        return self.turn_counts[-1] if self.turn_counts else 0

    @property
    def mean(self) -> float:
        return statistics.fmean(self.scores) if self.scores else 0.0


def check_play_options(framerate: int, episodes: int) -> None:
    """Raise ConfigError for a frame rate or a number of games below one."""
    if framerate < 1:
        raise ConfigError("--framerate must be at least 1.")
    if episodes < 1:
        raise ConfigError("--episodes must be at least 1.")


def play_run(run_dir: str | os.PathLike, checkpoint: str = "final", framerate: int = 12,
             episodes: int = 1, record: str | os.PathLike | None = None,
             console=None, explaining: bool = False) -> PlayResult:
    """Show the agent playing ``episodes`` games in this terminal, or record them.

    Live, it stops early when the user presses Enter or Escape. With ``record``
    (a ``.cast`` path) no terminal is needed. ``explaining`` shows each turn's
    :class:`~retro_gamer.explain.Explanation` below the game (the ``e`` key toggles it
    live); a recording keeps it in every frame.
    """
    check_play_options(framerate, episodes)
    run = RunDirectory(run_dir)
    run.require_config()
    agent = GreedyAgent.from_checkpoint(run, checkpoint)
    if record is not None:
        return record_games(run, agent, Path(record), episodes, framerate, console,
                            explaining)
    terminal = Terminal()
    if not terminal.is_a_tty:
        raise RunDirectoryError(
            "retro-gamer play needs a real terminal to draw the game in; run it in a terminal "
            "window (not through a pipe or a file), or record the games with "
            "--record FILE.cast."
        )
    try:
        return _play_in_terminal(agent, terminal, episodes, framerate, explaining)
    except BaseException as error:  # sys.exit() in the game is its crash too
        if not raised_by_game(error):
            raise
        if isinstance(error, TerminalTooSmall):
            raise RunDirectoryError(f"{error} Enlarge the terminal window and try again.") from None
        if isinstance(error, (RunDirectoryError, ConfigError)):
            raise
        raise GameCrashed(f"The game raised {type(error).__name__}: {error}") from error


def _play_in_terminal(agent: GreedyAgent, terminal: Terminal, episodes: int,
                      framerate: int, explaining: bool = False) -> PlayResult:
    """retro's ``Game.play`` loop, kept in one fullscreen session across games."""
    from retro.views.terminal import TerminalView

    metadata = agent.metadata
    create_game = find_create_game(metadata.module)
    result = PlayResult()
    with terminal.fullscreen(), terminal.hidden_cursor(), terminal.cbreak():
        for number in range(1, episodes + 1):
            game = make_game(create_game, metadata.module)
            game.framerate = framerate
            view = TerminalView(terminal, color=game.color, show_state=game.show_state)
            source = AgentInput(agent, game, terminal, explaining)
            game.input_source, game.view = source, view
            start_score = float(game.state[metadata.reward])
            game.start()
            _show_message(terminal, view, game, f"game {number}/{episodes}: the agent was "
                          f"trained on the change of '{metadata.reward}' each turn")
            try:
                while game.playing:
                    started = time.perf_counter()
                    game.step()
                    _show_explanation(terminal, view, game, source)
                    explaining = source.explaining  # the next game starts as this one ends
                    time.sleep(max(0.0, 1 / framerate - (time.perf_counter() - started)))
            except KeyboardInterrupt:
                source.quit = True
            result.scores.append(float(game.state[metadata.reward]) - start_score)
            result.turn_counts.append(game.turn_number)
            if source.quit:
                result.quit = True
                break
            if not _pause(terminal, view, game, result, number, episodes):
                result.quit = number < episodes
                break
    return result


def _pause(terminal: Terminal, view, game, result: PlayResult, number: int,
           episodes: int) -> bool:
    """Show the score after a game; False when the user chose to stop."""
    score = f"{result.score:g}"
    if number < episodes:
        message = (f"Game {number}/{episodes} over: score {score}. Next game in "
                   f"{BETWEEN_GAMES_SECONDS:g} s (Enter or Escape stops).")
    else:
        mean = f" (mean {result.mean:g} over {len(result.scores)} games)" if number > 1 else ""
        message = f"Game over: score {score}{mean}. Press Enter or Escape."
    _show_message(terminal, view, game, message)
    try:
        if number < episodes:
            deadline = time.monotonic() + BETWEEN_GAMES_SECONDS
            while (left := deadline - time.monotonic()) > 0:
                key = terminal.inkey(timeout=left)
                if key and _is_quit_key(key):
                    return False
            return True
        while not _is_quit_key(terminal.inkey()):
            pass
    except KeyboardInterrupt:
        return False
    return False


def _show_explanation(terminal: Terminal, view, game, source: AgentInput) -> None:
    """The turn's explanation beside the board (below the panes when the terminal is too
    narrow); blank rows once it is hidden."""
    lines = source.explanation.lines() if source.explanation is not None else []
    x, y = view.get_view_origin_coords(game)
    left, top = x + game.view_size[0] + 3, y
    if left + EXPLANATION_WIDTH > terminal.width:  # a longer row beside the board is cut
        left, top = x, y + game.view_size[1] + view.state_height(game) + 4
    for i in range(max(len(lines), source.rows_shown)):
        if top + i >= terminal.height:
            break
        text = lines[i] if i < len(lines) else ""
        print(terminal.move_xy(left, top + i) + text[:max(0, terminal.width - left)]
              + terminal.clear_eol, end="")
    print(end="", flush=True)
    source.rows_shown = len(lines)


def _show_message(terminal: Terminal, view, game, message: str) -> None:
    """One line below the game's panes, or on the top line when there is no room."""
    x, y = view.get_view_origin_coords(game)
    row = y + game.view_size[1] + view.state_height(game) + 2
    if row >= terminal.height:
        row, x = 0, 0
    x = max(0, min(x, terminal.width - len(message)))
    print(terminal.move_xy(x, row) + terminal.bold(message[:terminal.width]) + terminal.clear_eol,
          end="", flush=True)


def record_games(run: RunDirectory, agent: GreedyAgent, output: Path, episodes: int,
                 framerate: int, console=None, explaining: bool = False) -> PlayResult:
    """Play ``episodes`` greedy games headless and write them as an asciicast v2 file.

    ``explaining`` adds each turn's explanation below the status line of its frame.
    """
    from retro_gamer.env import GameEnvironment
    from retro_gamer.progress import TaskProgress
    from retro_gamer.record import (
        CLEAR,
        HIDE_CURSOR,
        SHOW_CURSOR,
        AsciicastWriter,
        FrameRenderer,
    )

    if output.suffix != ".cast":
        raise ConfigError(f"--record writes an asciicast file: give a name ending in .cast, "
                          f"not {output.name}.")
    _, hyper = run.read_config()
    metadata = agent.metadata
    env = GameEnvironment(find_create_game(metadata.module), metadata)
    env.start()
    renderer = FrameRenderer(env.game)

    def explained() -> list[str]:
        return explain(agent, env.board, env.extras).lines() if explaining else []

    extra_rows = len(explained())  # the same number of rows every turn
    renderer.width = max([renderer.width, *map(len, explained())])
    writer = AsciicastWriter(renderer.width, renderer.height + extra_rows,
                             title=f"retro-gamer: {metadata.module} ({run.path.name})")
    result = PlayResult()
    frame_time = 1.0 / framerate
    at = 0.0
    with TaskProgress("recording", episodes, console) as progress:
        for number in range(1, episodes + 1):
            if number > 1:
                env.start()
            total, turns = 0.0, 0
            writer.output(at, (HIDE_CURSOR + CLEAR if number == 1 else CLEAR) + renderer.frame(
                env.game, _status(number, episodes, turns, total, metadata.reward),
                explained()))
            while turns < hyper.max_turns_per_episode:
                reward, done, _ = env.act(agent.act(env.board, env.extras))
                total += reward
                turns += 1
                at += frame_time
                writer.output(at, renderer.frame(
                    env.game, _status(number, episodes, turns, total, metadata.reward),
                    [""] * extra_rows if done else explained()))
                if done:
                    break
            result.scores.append(total)
            result.turn_counts.append(turns)
            last = number == episodes
            mean = (f" (mean {result.mean:g} over {len(result.scores)} games)"
                    if last and number > 1 else "")
            at += frame_time
            score = trained_on(metadata.reward, total)
            writer.output(at, renderer.frame(
                env.game, f"Game over: {score}{mean}" if last
                else f"Game {number}/{episodes} over: {score}", [""] * extra_rows))
            at += BETWEEN_GAMES_SECONDS
            progress.advance(f"score {total:g}")
    writer.output(at, "\r\n" + SHOW_CURSOR)
    result.recording = writer.save(output)
    return result


def _status(number: int, episodes: int, turns: int, total: float, reward: str) -> str:
    return f"game {number}/{episodes}  turn {turns}  {trained_on(reward, total)}"


def trained_on(reward: str, score: float) -> str:
    """The score, saying which state key it is the change of: the agent's reward.

    The state pane may show several numbers (a game's own ``reward`` beside its
    ``score``); this says which one the agent was trained to raise.
    """
    return f"score {score:g} (trained on '{reward}')"


__all__ = ["AgentInput", "PlayResult", "play_run", "record_games"]
