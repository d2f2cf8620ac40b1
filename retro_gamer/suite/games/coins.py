"""Coin walk, the rules shared by the suite's ``keys`` and ``field`` games.

The player ``@`` walks an open board, one cell per key press (walls stop it);
a coin ``$`` sits on a random free cell. Stepping onto the coin scores 1 and
moves the coin to a new random cell. The game ends itself after ``turns``
turns, so every episode has the same length.
"""

from __future__ import annotations

import random

from retro.game import Game


class Coin:
    name = "coin"
    character = "$"

    def __init__(self, position: tuple[int, int]):
        self.position = position


class Walker:
    """The player; ``moves`` maps a key (its name or its character) to a step (dx, dy)."""

    name = "player"
    character = "@"

    def __init__(self, position: tuple[int, int], moves: dict[str, tuple[int, int]], turns: int):
        self.position = position
        self.moves = moves
        self.turns = turns

    def handle_keystroke(self, keystroke, game):
        dx, dy = self.moves.get(keystroke.name or str(keystroke), (0, 0))
        x, y = self.position[0] + dx, self.position[1] + dy
        if game.on_board((x, y)):
            self.position = (x, y)

    def play_turn(self, game):
        coin = game.get_agent_by_name("coin")
        if self.position == coin.position:
            game.state["score"] += 1
            coin.position = free_cell(game.board_size, self.position)
        if game.turn_number >= self.turns:
            game.end()


def free_cell(board_size: tuple[int, int], taken: tuple[int, int]) -> tuple[int, int]:
    width, height = board_size
    while True:
        cell = (random.randrange(width), random.randrange(height))
        if cell != taken:
            return cell


def create_coin_game(board_size: tuple[int, int], moves: dict[str, tuple[int, int]],
                     turns: int) -> Game:
    start = (board_size[0] // 2, board_size[1] // 2)
    player = Walker(start, moves, turns)
    coin = Coin(free_cell(board_size, start))
    return Game([player, coin], {"score": 0}, board_size=board_size)
