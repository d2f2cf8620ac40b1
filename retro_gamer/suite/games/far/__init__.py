"""Far: a goal far from the start behind a wall; the only reward is reaching it.

The suite's game of the *sparse reward* kind. The player ``@`` starts at the
left of a 20x7 room, the goal ``$`` waits at the right, and a wall ``#`` at
x = 10 leaves a gap only in the bottom two rows. Arrow keys move one cell
(walls and edges stop the player). Reaching the goal scores 10 and ends the
game; after 150 turns it ends with nothing. The shortest path takes 21 turns;
a random walk almost never gets there.
"""

from retro.game import Game

WIDTH, HEIGHT = 20, 7
START, GOAL = (1, 3), (18, 3)
WALL_X, GAP_FROM_Y = 10, 5
TURNS = 150
MOVES = {"KEY_RIGHT": (1, 0), "KEY_UP": (0, -1), "KEY_LEFT": (-1, 0), "KEY_DOWN": (0, 1)}


class Wall:
    character = "#"

    def __init__(self, position):
        self.position = position


class Goal:
    name = "goal"
    character = "$"
    position = GOAL


class Player:
    name = "player"
    character = "@"

    def __init__(self):
        self.position = START

    def handle_keystroke(self, keystroke, game):
        dx, dy = MOVES.get(keystroke.name, (0, 0))
        target = (self.position[0] + dx, self.position[1] + dy)
        if game.on_board(target) and not is_wall(target):
            self.position = target

    def play_turn(self, game):
        if self.position == GOAL:
            game.state["score"] += 10
            game.end()
        elif game.turn_number >= TURNS:
            game.end()


def is_wall(position) -> bool:
    x, y = position
    return x == WALL_X and y < GAP_FROM_Y


def create_game():
    walls = [Wall((WALL_X, y)) for y in range(GAP_FROM_Y)]
    return Game([Player(), Goal(), *walls], {"score": 0}, board_size=(WIDTH, HEIGHT))
