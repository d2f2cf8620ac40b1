"""Keys: coin walk on a 10x10 board, moved with the character keys w, a, s, d.

The suite's game of the *character keys* kind: its actions are letters, not key
names. 100 turns; each coin scores 1 (rules in :mod:`retro_gamer.suite.games.coins`).
"""

from retro_gamer.suite.games.coins import create_coin_game

BOARD_SIZE = (10, 10)
TURNS = 100
MOVES = {"w": (0, -1), "a": (-1, 0), "s": (0, 1), "d": (1, 0)}


def create_game():
    return create_coin_game(BOARD_SIZE, MOVES, TURNS)
