"""Shared fixtures: small game projects written to disk, importable like a user's own game.

``game_project`` is the fixture to reach for whenever a test needs a game that
retro-gamer must *find*: a folder holding a ``pyproject.toml`` and a game module,
put on ``sys.path`` for the test and forgotten again afterwards.

``CHAR_GAME_SOURCE`` / ``CHAR_GAME_PYPROJECT`` describe "coin walk", a tiny
non-spatial character-key game (a 5x1 board, keys "a" and "d"); they are the
fixture's defaults, so ``game_project()`` alone gives a complete, valid project.
Import them with ``from conftest import CHAR_GAME_SOURCE`` to write variants.
"""

from __future__ import annotations

import contextlib
import importlib
import itertools
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

CHAR_GAME_SOURCE = '''\
"""Coin walk: "a"/"d" move the player "@" along a 5x1 board.

The player starts in the middle (x=2), the coin at the right end (x=4).
Stepping onto the coin scores 10 points, raises the level by 1 and sends the
coin to the mirrored cell (x=4 -> x=0 and back). Walking into either wall costs
a life; the game ends when the lives (3) run out. The state also holds a
non-numeric key, "name", which must never be used as reward or observation.
"""
from retro.game import Game

WIDTH = 5
COIN = "$"


class Coin:
    name = "coin"
    character = COIN

    def __init__(self):
        self.position = (WIDTH - 1, 0)


class Player:
    name = "player"
    character = "@"

    def __init__(self):
        self.position = (2, 0)
        self.move = 0

    def handle_keystroke(self, keystroke, game):
        self.move = {"a": -1, "d": 1}.get(str(keystroke), 0)

    def play_turn(self, game):
        move, self.move = self.move, 0
        if not move:
            return
        x, y = self.position
        target = (x + move, y)
        if not game.on_board(target):
            game.state["lives"] -= 1
            if game.state["lives"] <= 0:
                game.end()
            return
        self.position = target
        coin = game.get_agent_by_name("coin")
        if coin.position == target:
            game.state["score"] += 10
            game.state["level"] += 1
            coin.position = (WIDTH - 1 - target[0], 0)


def create_game():
    return Game(
        [Player(), Coin()],
        {"score": 0, "lives": 3, "level": 1, "name": "bob"},
        board_size=(WIDTH, 1),
    )
'''

CHAR_GAME_DESCRIPTION = """\
[tool.retro-gamer]
actions = ["a", "d"]
reward = "score"
character_set = ["@", "$"]
spatial = false
observe_state = ["lives", "level"]
"""

CHAR_GAME_PYPROJECT = (
    '[project]\nname = "coin-walk"\nversion = "0.1.0"\n\n' + CHAR_GAME_DESCRIPTION
)


@dataclass(frozen=True)
class GameProject:
    """A game project written by the ``game_project`` fixture.

    ``module`` is the importable module (or package) name, ``root`` the project
    folder on ``sys.path``, ``pyproject`` its ``pyproject.toml`` (``None`` when
    none was written).
    """

    module: str
    root: Path
    pyproject: Path | None

    @property
    def create_game(self) -> Callable:
        """The module's ``create_game`` function (imports the module)."""
        return importlib.import_module(self.module).create_game


_module_ids = itertools.count()


@pytest.fixture
def game_project(tmp_path, monkeypatch):
    """Factory writing a game project into ``tmp_path`` and making it importable.

    Call it as ``game_project(pyproject=TEXT, source=TEXT, package=False)``; every
    argument is optional and defaults to the "coin walk" game above. It returns a
    :class:`GameProject`. Each call writes a fresh folder ``tmp_path/project_N``
    holding:

    * ``pyproject.toml`` with ``pyproject`` as its text (not written when
      ``pyproject`` is ``None``, for "no pyproject.toml" tests);
    * the game, under a module name unique to the whole test session (so
      ``sys.modules`` never hands back another test's game): ``<module>.py``, or
      with ``package=True`` a package ``<module>/__init__.py`` -- the
      ``pyproject.toml`` then lies one folder *above* the module's own folder.

    The folder is prepended to ``sys.path`` for the test only, and the imported
    module is removed from ``sys.modules`` at teardown.
    """
    made: list[str] = []

    def make(
        pyproject: str | None = CHAR_GAME_PYPROJECT,
        source: str = CHAR_GAME_SOURCE,
        *,
        package: bool = False,
    ) -> GameProject:
        number = next(_module_ids)
        module = f"rg_test_game_{number}"
        root = tmp_path / f"project_{number}"
        root.mkdir()
        if package:
            (root / module).mkdir()
            (root / module / "__init__.py").write_text(source, encoding="utf-8")
        else:
            (root / f"{module}.py").write_text(source, encoding="utf-8")
        pyproject_path = None
        if pyproject is not None:
            pyproject_path = root / "pyproject.toml"
            pyproject_path.write_text(pyproject, encoding="utf-8")
        made.append(module)
        monkeypatch.syspath_prepend(str(root))
        importlib.invalidate_caches()
        return GameProject(module=module, root=root, pyproject=pyproject_path)

    yield make

    for module in made:
        for name in [n for n in sys.modules if n == module or n.startswith(module + ".")]:
            del sys.modules[name]


@contextlib.contextmanager
def one_torch_thread():
    """Train tiny test networks on one torch thread (fastest, and steady on a busy machine),
    restoring the process's thread count afterwards."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def train_snake(run: Path, options: dict) -> Path:
    """Create a Snake run in ``run`` with ``options`` and train it through the Python API,
    on one torch thread: the small trained runs that info, play, eval and plot tests read."""
    from retro_gamer.runs import create_run, train_run

    create_run("retro.examples.snake", run, options)
    with one_torch_thread():
        train_run(run)
    return run


@pytest.fixture(scope="module")
def trained_snake(tmp_path_factory) -> Path:
    """A Snake run trained for two episodes (one checkpoint each, then final.pt), through
    the Python API."""
    return train_snake(tmp_path_factory.mktemp("trained") / "snake", {
        "training_episodes": 2, "checkpoint_every": 1, "n_layers": 1, "layer_size": 16,
        "batch_size": 8, "memory_capacity": 200, "max_turns_per_episode": 40, "seed": 0,
        "device": "cpu"})
