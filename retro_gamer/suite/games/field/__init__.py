"""Field: coin walk on a 64x24 board (larger than 60x20), moved with the arrow keys.

The suite's game of the *large board* kind: the coin is usually far outside a
small window around the player. 200 turns; each coin scores 1 (rules in
:mod:`retro_gamer.suite.games.coins`).
"""

from retro_gamer.suite.games.coins import create_coin_game

BOARD_SIZE = (64, 24)
TURNS = 200
MOVES = {"KEY_RIGHT": (1, 0), "KEY_UP": (0, -1), "KEY_LEFT": (-1, 0), "KEY_DOWN": (0, 1)}


def create_game():
    return create_coin_game(BOARD_SIZE, MOVES, TURNS)
