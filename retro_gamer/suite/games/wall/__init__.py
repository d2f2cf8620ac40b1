"""Wall: every turn costs points, least at the left wall (issue 13's per-turn-cost game).

The player ``@`` starts at x = 3 on a 7x1 board and moves one cell per arrow
key. After the move, the turn costs 1 point of ``score`` at x = 0 and 5 points
anywhere else, so the best play walks left and stays: -48 over 40 turns. The
game never ends by itself (a run's max_turns_per_episode cuts it), and every
reward is negative: clipping rewards to [-1, 1] makes every turn look alike.
"""

from retro.game import Game

WIDTH = 7
START = 3


class Player:
    name = "player"
    character = "@"

    def __init__(self):
        self.position = (START, 0)

    def handle_keystroke(self, keystroke, game):
        step = {"KEY_LEFT": -1, "KEY_RIGHT": 1}.get(keystroke.name, 0)
        x = min(max(self.position[0] + step, 0), WIDTH - 1)
        self.position = (x, 0)

    def play_turn(self, game):
        game.state["score"] -= 1 if self.position[0] == 0 else 5


def create_game():
    return Game([Player()], {"score": 0}, board_size=(WIDTH, 1))
