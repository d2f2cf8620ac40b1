"""Catch: balls fall, the paddle at the bottom catches them (the suite's gravity game).

The suite's game of the *one-sided rule* kind, after bsuite's Catch (Osband et
al., "Behaviour Suite for Reinforcement Learning", ICLR 2020). On a 7x8 board
a ball ``o`` appears in a random column of the top row and falls one row a
turn; the paddle ``=`` moves one cell a turn along the bottom row with the
left and right arrows (the edges stop it). A ball that reaches the bottom row
scores 1 if the paddle is there and costs 1 if not, and the next ball appears
at the top. The game ends after 70 turns: 10 balls.

Gravity points down, so the game plays the same seen in a left-right mirror
(with the arrows swapped) but not upside down: no game has its paddle on top.
Its description declares the one mirror and not the other.
"""

import random

from retro.game import Game

WIDTH, HEIGHT = 7, 8
TURNS = 70  # a ball falls HEIGHT - 1 rows: 10 balls a game


class Paddle:
    name = "paddle"
    character = "="

    def __init__(self):
        # The middle column, its own mirror image: the game's start is left-right symmetric.
        self.position = (WIDTH // 2, HEIGHT - 1)

    def handle_keystroke(self, keystroke, game):
        step = {"KEY_LEFT": -1, "KEY_RIGHT": 1}.get(keystroke.name, 0)
        x = min(max(self.position[0] + step, 0), WIDTH - 1)
        self.position = (x, HEIGHT - 1)


class Ball:
    """Falls a row each turn (after the paddle's move), scores at the bottom, reappears."""

    name = "ball"
    character = "o"

    def __init__(self):
        self.position = (random.randrange(WIDTH), 0)

    def play_turn(self, game):
        x, y = self.position[0], self.position[1] + 1
        if y == HEIGHT - 1:
            caught = game.get_agent_by_name("paddle").position[0] == x
            game.state["score"] += 1 if caught else -1
            # It never rests on the bottom row: the board never shows ball and paddle in
            # one cell, and every state's ball is falling.
            self.position = (random.randrange(WIDTH), 0)
        else:
            self.position = (x, y)
        if game.turn_number >= TURNS:
            game.end()


def create_game():
    return Game([Paddle(), Ball()], {"score": 0}, board_size=(WIDTH, HEIGHT))
