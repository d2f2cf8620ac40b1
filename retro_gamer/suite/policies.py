"""Scripted reference policies of the benchmark suite, each written from its game's rules.

A policy is called once a turn with the live retro ``game`` (it may read every
agent: a reference knows the rules and sees everything) and returns the key to
press, or ``None`` for the no-op. A normalised score of 1 means the agent
plays as well as the reference; 0, as well as random key presses.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

Policy = Callable[[Any], "str | None"]
Cell = tuple[int, int]

ARROWS = {"KEY_RIGHT": (1, 0), "KEY_UP": (0, -1), "KEY_LEFT": (-1, 0), "KEY_DOWN": (0, 1)}


def player_of(game) -> Any:
    """The agent retro sends keystrokes to (the first one, if several)."""
    return next(agent for agent in game.agents if hasattr(agent, "handle_keystroke"))


def step(cell: Cell, move: Cell) -> Cell:
    return cell[0] + move[0], cell[1] + move[1]


def manhattan(a: Cell, b: Cell) -> int:
    return abs(a[0] - b[0]) + abs(a[1] - b[1])


def toward(position: Cell, target: Cell, moves: dict[str, Cell]) -> str | None:
    """The key whose move brings ``position`` closest to ``target`` (None when there)."""
    if position == target:
        return None
    return min(moves, key=lambda key: manhattan(step(position, moves[key]), target))


def agents_showing(game, characters: Iterable[str]) -> list:
    wanted = set(characters)
    return [agent for agent in game.agents
            if getattr(agent, "display", True) and getattr(agent, "character", None) in wanted]


# --------------------------------------------------------------------------- the policies


def coin_walker(game) -> str | None:
    """Coin walk (keys, field): walk straight at the coin."""
    player = player_of(game)
    return toward(player.position, game.get_agent_by_name("coin").position, player.moves)


def wall_sitter(game) -> str | None:
    """Wall: walk to the cheap left wall and push against it."""
    return "KEY_LEFT"


def ball_catcher(game) -> str | None:
    """Catch: move under the falling ball's column and wait there.

    A ball needs as many turns to fall as the board is tall less one, enough to
    cross the board: this catches every ball.
    """
    paddle = game.get_agent_by_name("paddle").position[0]
    ball = game.get_agent_by_name("ball").position[0]
    return None if paddle == ball else "KEY_LEFT" if ball < paddle else "KEY_RIGHT"


def thermostat_controller(game) -> str | None:
    """Thermostat: heat below the band's middle, cool above it."""
    temperature = game.state["temperature"]
    return "KEY_UP" if temperature < 20 else "KEY_DOWN" if temperature > 20 else None


class PathWalker:
    """Mazes (far, labyrinth): follow a shortest path to the goal, found by breadth-first search.

    Walls are the agents showing ``walls``; the path is planned once a game.
    """

    def __init__(self, goal: str, walls: str):
        self.goal, self.walls = goal, walls
        self.game, self.path = None, []

    def __call__(self, game) -> str | None:
        position = player_of(game).position
        if game is not self.game:
            self.game = game
            blocked = {a.position for a in agents_showing(game, self.walls)}
            goals = {a.position for a in agents_showing(game, self.goal)}
            self.path = shortest_path(position, goals, blocked, game.board_size)
        while self.path and self.path[0] == position:
            self.path.pop(0)
        if not self.path:
            return None
        return toward(position, self.path[0], ARROWS)


def shortest_path(start: Cell, goals: set[Cell], blocked: set[Cell], board_size) -> list[Cell]:
    """Cells from ``start`` to the nearest of ``goals`` (both ends included), by breadth-first
    search over arrow moves avoiding ``blocked``; [] when none is reachable."""
    width, height = board_size
    previous: dict[Cell, Cell | None] = {start: None}
    frontier = deque([start])
    while frontier:
        cell = frontier.popleft()
        if cell in goals:
            path = []
            while cell is not None:
                path.append(cell)
                cell = previous[cell]
            return path[::-1]
        for move in ARROWS.values():
            nxt = step(cell, move)
            if (0 <= nxt[0] < width and 0 <= nxt[1] < height and nxt not in blocked
                    and nxt not in previous):
                previous[nxt] = cell
                frontier.append(nxt)
    return []


def apple_chaser(game) -> str:
    """Snake: the greedy apple-chaser, the yardstick of every Snake figure (issue 12).

    Among the arrows whose cell is neither off the board nor in the snake's body
    (the moves that do not lose at once), the first in :data:`ARROWS`' order that
    brings the head nearer the apple by Manhattan distance; else the first such
    safe arrow; else the first arrow. It does not plan ahead.
    """
    from retro_gamer.encoding import drawn_cells

    head = game.get_agent_by_name("Snake head").position
    apple = game.get_agent_by_name("Apple").position
    # Read from the agents, not game.is_empty: the game's position cache may predate the
    # latest moves (it is refreshed only as turns are played).
    body = set(drawn_cells(game)) - {apple}
    safe = [key for key, move in ARROWS.items()
            if game.on_board(step(head, move)) and step(head, move) not in body]
    closer = [key for key in safe
              if manhattan(step(head, ARROWS[key]), apple) < manhattan(head, apple)]
    return (closer or safe or list(ARROWS))[0]


def asteroid_dodger(game) -> str | None:
    """Nav: move to (or stay in) the free column whose nearest falling asteroid is highest."""
    ship = game.get_agent_by_name("ship")
    x, bottom = ship.position
    width = game.board_size[0]
    rocks = [a.position for a in agents_showing(game, "O")]
    occupied = set(rocks)

    def headroom(column: int) -> int:
        above = [bottom - y for (rx, y) in rocks if rx == column and y <= bottom]
        return min(above, default=bottom + 1)

    options = {None: x, "KEY_LEFT": x - 1, "KEY_RIGHT": x + 1}
    options = {k: c for k, c in options.items()
               if 0 <= c < width and (k is None or (c, bottom) not in occupied)}
    return max(options, key=lambda k: (headroom(options[k]), k is None,
                                       -abs(options[k] - width // 2)))


def beast_hunter(game) -> str | None:
    """Beast: crush beasts, keeping clear of them (a beast kills a neighbouring player).

    A push that drives a row of blocks into a beast pinned by a block or the
    board's edge kills it (+1): take one that lands clear of the other beasts;
    otherwise walk, around blocks and two cells clear of beasts, to the nearest
    cell from which one push would; with none in reach, back away from beasts.
    """
    here = player_of(game).position
    board = {a.position: a for a in game.agents if getattr(a, "display", True)}
    beasts = [p for p, a in board.items() if getattr(a, "deadly", False)]
    for key, move in ARROWS.items():
        victim = crushed_beast(here, move, board, game)
        if victim and clearance(step(here, move), [b for b in beasts if b != victim]) > 1:
            return key
    targets = set()
    for beast in beasts:
        for move in ARROWS.values():
            back = (-move[0], -move[1])
            block, stand = step(beast, back), step(step(beast, back), back)
            pinned = step(beast, move) in board or not game.on_board(step(beast, move))
            if (pinned and block in board and block not in beasts and stand not in board
                    and game.on_board(stand) and clearance(stand, beasts) > 1):
                targets.add(stand)
    near = {step(b, (dx, dy)) for b in beasts for dx in range(-2, 3) for dy in range(-2, 3)}
    path = shortest_path(here, targets, (set(board) | near) - targets - {here},
                         game.board_size)
    if len(path) > 1:
        return toward(here, path[1], ARROWS)
    moves = {key: step(here, move) for key, move in ARROWS.items()
             if can_enter(here, move, board, game)}
    best = max(moves, key=lambda k: clearance(moves[k], beasts), default=None)
    if best is not None and clearance(moves[best], beasts) > clearance(here, beasts):
        return best
    return None


def clearance(cell: Cell, beasts: list[Cell]) -> int:
    """King-move distance from ``cell`` to the nearest beast (1: next to one)."""
    return min((max(abs(cell[0] - b[0]), abs(cell[1] - b[1])) for b in beasts), default=99)


def crushed_beast(position: Cell, move: Cell, board: dict, game) -> Cell | None:
    """The beast that pushing ``move`` from ``position`` crushes with a row of blocks, if any."""
    cell = step(position, move)
    if cell not in board or getattr(board[cell], "deadly", False):
        return None
    while cell in board and not getattr(board[cell], "deadly", False):
        cell = step(cell, move)  # the row of blocks being pushed
    if cell not in board:
        return None
    beyond = step(cell, move)
    return cell if beyond in board or not game.on_board(beyond) else None


def can_enter(position: Cell, move: Cell, board: dict, game) -> bool:
    """Whether the player moves: to an empty cell, or pushing a row of blocks into one."""
    cell = step(position, move)
    while cell in board and not getattr(board[cell], "deadly", False):
        cell = step(cell, move)
    return cell not in board and game.on_board(cell)
