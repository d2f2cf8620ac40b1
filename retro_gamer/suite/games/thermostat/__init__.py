"""Thermostat: keep a drifting temperature in a comfortable band (no board to speak of).

The suite's game of the *non-spatial board with observe_state* kind: the
board is one cell, and all the agent needs is the state key ``temperature``.
The temperature starts between 5 and 35 degrees. Each turn KEY_UP heats by 1
degree, KEY_DOWN cools by 1, and then the weather moves it by -1, 0, 0 or +1
at random. A turn that ends between 18 and 22 degrees (inclusive) scores 1.
The game ends after 60 turns.
"""

import random

from retro.game import Game

LOW, HIGH = 18, 22
TURNS = 60


class Thermostat:
    name = "thermostat"
    character = "#"
    position = (0, 0)

    def __init__(self):
        self.heating = 0

    def handle_keystroke(self, keystroke, game):
        self.heating = {"KEY_UP": 1, "KEY_DOWN": -1}.get(keystroke.name, 0)

    def play_turn(self, game):
        game.state["temperature"] += self.heating + random.choice((-1, 0, 0, 1))
        self.heating = 0
        if LOW <= game.state["temperature"] <= HIGH:
            game.state["score"] += 1
        if game.turn_number >= TURNS:
            game.end()


def create_game():
    state = {"score": 0, "temperature": random.randint(5, 35)}
    return Game([Thermostat()], state, board_size=(1, 1))
