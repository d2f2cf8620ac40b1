"""Watching a trained agent play in the terminal, through retro's own terminal view."""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
from blessed import Terminal
from retro.input import InputSource, _make_keystroke

from retro_gamer.agent import GreedyAgent
from retro_gamer.encoding import BoardEncoder
from retro_gamer.errors import GameCrashed, RunDirectoryError
from retro_gamer.games import find_create_game, make_game
from retro_gamer.run_dir import RunDirectory

QUIT_KEYS = ("KEY_ENTER", "KEY_ESCAPE")


class AgentInput(InputSource):
    """Feeds the agent's choice to the game each turn; Enter or Escape from the user quits."""

    def __init__(self, agent: GreedyAgent, game, terminal: Terminal):
        self.agent, self.game, self.terminal = agent, game, terminal
        self.encoder = BoardEncoder(agent.character_set, game.board_size)
        self.keys = [*agent.metadata.actions, None]
        self.extras = np.zeros(len(agent.metadata.observe_state), dtype=np.float32)
        self.quit = False

    def collect(self) -> set:
        while True:
            key = self.terminal.inkey(timeout=0)
            if not key:
                break
            if key.name in QUIT_KEYS or key in ("\n", "\r", "\x1b"):
                self.quit = True
                self.game.end()
                return set()
        board = self.encoder.encode(self.game)
        for i, name in enumerate(self.agent.metadata.observe_state):
            self.extras[i] = float(self.game.state[name])
        key = self.keys[self.agent.act(board, self.extras)]
        return set() if key is None else {_make_keystroke(key)}


@dataclass
class PlayResult:
    score: float
    turns: int
    quit: bool


def play_run(run_dir: str | os.PathLike, checkpoint: str = "final", framerate: int = 12
             ) -> PlayResult:
    """Show the agent playing one game in this terminal until it ends or the user quits."""
    run = RunDirectory(run_dir)
    run.require_config()
    agent = GreedyAgent.from_checkpoint(run, checkpoint)
    metadata = agent.metadata
    game = make_game(find_create_game(metadata.module), metadata.module)
    game.framerate = framerate
    terminal = Terminal()
    if not terminal.is_a_tty:
        raise RunDirectoryError(
            "retro-gamer play needs a real terminal to draw the game in; run it in a terminal "
            "window (not through a pipe or a file)."
        )
    source = AgentInput(agent, game, terminal)
    start_score = float(game.state[metadata.reward])
    try:
        game.play(input_source=source)
    except KeyboardInterrupt:
        source.quit = True
    except Exception as error:
        if type(error).__name__ == "TerminalTooSmall":
            raise RunDirectoryError(f"{error} Enlarge the terminal window and try again.") from None
        raise GameCrashed(f"The game raised {type(error).__name__}: {error}") from error
    score = float(game.state[metadata.reward]) - start_score
    return PlayResult(score=score, turns=game.turn_number, quit=source.quit)
