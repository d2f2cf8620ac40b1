"""Turning a retro board into numbers.

A board is kept in its *compact* form: one ``uint8`` per cell holding the
character's index in the character set, counting from 1 (0 is an empty cell or
an ignored character). That is what the replay buffer stores, 1 byte a cell
instead of ``4 * C`` bytes of float one-hot; the one-hot expansion happens at
the last moment, vectorised (numpy here, torch inside the network).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from retro.game import agent_occupied_positions

from retro_gamer.retro_adapter import agent_character


def agent_cells(agent):
    """Yield ``(position, character)`` for every cell a displayed ``agent`` covers (none when
    its ``display`` is false), as retro's views draw it."""
    if not getattr(agent, "display", True):
        return
    for position in agent_occupied_positions(agent):
        yield position, agent_character(agent, position)


def drawn_cells(game) -> dict:
    """``{(x, y): (agent, character)}``: what retro's views draw at each occupied cell.

    The rule, in one place: agents whose ``display`` is false are not drawn; where
    agents overlap, the highest ``z`` wins and the first added wins ties. Every
    reader of the board (the encoder, the recorder, the character discovery) goes
    through here so that the network sees what a player sees.

    Positions are read from the agents themselves, not from
    ``game.get_agents_by_position()``: retro caches that and only clears the cache
    after an agent's ``play_turn``, so before the first turn it can be stale (Snake's
    ``create_game`` moves the apple after filling it, and the first observation
    showed the apple at (0, 0)). After a turn both give the same cells.
    """
    cells: dict[tuple[int, int], tuple[float, object, str]] = {}
    for agent in game.agents:
        if not getattr(agent, "display", True):
            continue
        z = getattr(agent, "z", 0) or 0
        character = agent.character
        if isinstance(character, str) and getattr(agent, "size", None) is None:
            # One cell, one character: no position list (about 2x faster per turn).
            position = tuple(agent.position)
            seen = cells.get(position)
            if seen is None or z > seen[0]:
                cells[position] = (z, agent, character)
            continue
        for position, character in agent_cells(agent):
            seen = cells.get(position)
            if seen is None or z > seen[0]:
                cells[position] = (z, agent, character)
    return {position: (agent, character) for position, (_, agent, character) in cells.items()}


def visible_characters(game):
    """Yield ``(x, y, character)`` for every occupied cell (see :func:`drawn_cells`)."""
    for (x, y), (_, character) in drawn_cells(game).items():
        yield x, y, character


class BoardEncoder:
    """Encodes a game's board as character indices, remembering characters it did not know."""

    def __init__(self, character_set: Sequence[str], board_size: Sequence[int]):
        self.width, self.height = (int(v) for v in board_size)
        self.characters: list[str] = []
        self.codes: dict[str, int] = {}
        self.unknown: set[str] = set()
        for character in character_set:
            self.add_character(character)

    @property
    def n_channels(self) -> int:
        return len(self.characters)

    def add_character(self, character: str) -> int:
        """Append a character (one more channel); existing indices keep their meaning."""
        if character not in self.codes:
            if len(self.characters) >= 254:
                raise ValueError("at most 254 distinct characters fit a uint8 board")
            self.characters.append(character)
            self.codes[character] = len(self.characters)
        self.unknown.discard(character)
        return self.codes[character]

    def encode(self, game, out: np.ndarray | None = None) -> np.ndarray:
        """Return the ``(height, width)`` uint8 board of the game's current state."""
        board = np.zeros((self.height, self.width), dtype=np.uint8) if out is None else out
        if out is not None:
            board.fill(0)
        codes = self.codes
        for (x, y), (_, character) in drawn_cells(game).items():
            code = codes.get(character)
            if code is not None:
                board[y, x] = code
            elif character != " ":
                self.unknown.add(character)
        return board


def _channel_codes(n_channels: int) -> np.ndarray:
    codes = _CHANNEL_CODES.get(n_channels)
    if codes is None:
        codes = _CHANNEL_CODES[n_channels] = np.arange(1, n_channels + 1, dtype=np.uint8)
    return codes


_CHANNEL_CODES: dict[int, np.ndarray] = {}


def observation_vector(
    board: np.ndarray, extras: np.ndarray, n_channels: int, spatial: bool
) -> np.ndarray:
    """The specification's flat float32 observation: one-hot board, then observe_state values."""
    height, width = board.shape
    n = n_channels * height * width
    out = np.empty(n + len(extras), dtype=np.float32)
    channels = _channel_codes(n_channels)
    # Written straight into the float output: no concatenation copy.
    if spatial:
        np.copyto(out[:n].reshape(n_channels, height, width),
                  board[None] == channels[:, None, None])
    else:
        np.copyto(out[:n].reshape(height, width, n_channels), board[..., None] == channels)
    out[n:] = extras
    return out
