"""Small retro games for the trainer, run-directory and CLI tests.

Each game exists twice, from the same text: as Python *source* (``*_SOURCE``,
with a matching ``*_PYPROJECT``) to write into a game project that retro-gamer
must find on its own (a subprocess, ``retro-gamer create --game MODULE``), and
as the module ``gamekit_games`` built from that source at import time, for
in-process tests that only need ``create_game`` functions.

* **corridor**: a 7x1 board; the player ``@`` starts at the left end, the goal
  ``G`` sits at the right end. ``KEY_RIGHT`` / ``KEY_LEFT`` move one cell
  (walls stop the player). Reaching the goal adds 10 to ``score`` and ends the
  game. The optimal return is 10 in 6 turns; a random walk rarely gets there
  within the tests' turn limit.
* **endless**: the corridor, except that reaching the goal sends the player back
  to the start instead of ending the game (for "quit with Escape" tests).
* **spawner**: the corridor, except that an ``X`` appears at the middle of the
  board after turn 3 -- a character the description does not list.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import sys
import textwrap
from pathlib import Path

from retro_gamer import GameMetadata

CORRIDOR_WIDTH = 7

GAMES_SOURCE = textwrap.dedent(f'''\
    """Corridor and spawner: tiny deterministic retro games for retro-gamer's tests."""
    from retro.game import Game

    WIDTH = {CORRIDOR_WIDTH}


    class Goal:
        name = "goal"
        character = "G"

        def __init__(self):
            self.position = (WIDTH - 1, 0)


    class Walker:
        name = "walker"
        character = "@"

        def __init__(self):
            self.position = (0, 0)
            self.move = 0

        def handle_keystroke(self, keystroke, game):
            self.move = {{"KEY_LEFT": -1, "KEY_RIGHT": 1}}.get(keystroke.name, 0)

        def play_turn(self, game):
            move, self.move = self.move, 0
            x = min(max(self.position[0] + move, 0), WIDTH - 1)
            self.position = (x, 0)
            if self.position == game.get_agent_by_name("goal").position:
                game.state["score"] += 10
                game.end()


    class Spawned:
        name = "spawned"
        character = "X"

        def __init__(self):
            self.position = (WIDTH // 2, 0)
            self.z = -1  # drawn under the walker when they share the cell


    class Spawner:
        """Invisible: adds an X to the board after turn 3."""

        name = "spawner"
        display = False
        position = (0, 0)

        def play_turn(self, game):
            if game.turn_number == 3:
                game.add_agent(Spawned())


    def create_game():
        return Game([Walker(), Goal()], {{"score": 0}}, board_size=(WIDTH, 1))


    def create_spawner_game():
        return Game([Walker(), Goal(), Spawner()], {{"score": 0}}, board_size=(WIDTH, 1))
    ''')

CORRIDOR_SOURCE = GAMES_SOURCE

SPAWNER_SOURCE = GAMES_SOURCE + "\n\ncreate_game = create_spawner_game  # noqa: F811\n"

# The corridor without an end: reaching the goal scores 10 and sends the player back to
# the start, so only the user (Escape) ends a game of it.
ENDLESS_SOURCE = GAMES_SOURCE.replace("game.end()", "self.position = (0, 0)")
assert ENDLESS_SOURCE != GAMES_SOURCE

CORRIDOR_DESCRIPTION = """\
[tool.retro-gamer]
actions = ["KEY_LEFT", "KEY_RIGHT"]
reward = "score"
character_set = ["@", "G"]
spatial = false
observe_state = []
"""

CORRIDOR_PYPROJECT = '[project]\nname = "corridor"\nversion = "0.1.0"\n\n' + CORRIDOR_DESCRIPTION


def _load_games():
    """Build the importable module ``gamekit_games`` from :data:`GAMES_SOURCE`."""
    name = "gamekit_games"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_loader(name, loader=None)
    module = importlib.util.module_from_spec(spec)
    exec(compile(GAMES_SOURCE, f"<{name}>", "exec"), module.__dict__)
    sys.modules[name] = module
    return module


games = _load_games()
create_corridor = games.create_game
create_spawner = games.create_spawner_game


def corridor_metadata(**changes) -> GameMetadata:
    """The corridor's description as ``retro-gamer`` would read it (module ``gamekit_games``)."""
    metadata = GameMetadata(
        actions=["KEY_LEFT", "KEY_RIGHT"],
        reward="score",
        character_set=["@", "G"],
        spatial=False,
        observe_state=[],
        module="gamekit_games",
        board_size=[CORRIDOR_WIDTH, 1],
    )
    return dataclasses.replace(metadata, **changes)


def write_project(root: Path, module: str, source: str = CORRIDOR_SOURCE,
                  pyproject: str = CORRIDOR_PYPROJECT) -> Path:
    """Write ``root/<module>.py`` and ``root/pyproject.toml``; return ``root``.

    For subprocess tests: run the command with ``cwd=root`` (retro-gamer imports
    modules from the current folder) or put ``root`` on ``PYTHONPATH``.
    """
    root.mkdir(parents=True, exist_ok=True)
    (root / f"{module}.py").write_text(source, encoding="utf-8")
    (root / "pyproject.toml").write_text(pyproject, encoding="utf-8")
    return root


def saved_before(run: Path, name: str) -> None:
    """Make ``run`` look as a version before the network field ``name`` existed left it:
    its checkpoints' network signatures and its config.toml say nothing of the field."""
    import torch

    from retro_gamer.run_dir import RunDirectory

    for path in (run / "checkpoints").glob("*.pt"):
        state = torch.load(path, weights_only=False)
        state.pop("checksum", None)
        del state["network"][name]
        RunDirectory(run).save_checkpoint(path, state)
    text = (run / "config.toml").read_text(encoding="utf-8")
    kept = [line for line in text.splitlines() if not line.startswith(name)]
    (run / "config.toml").write_text("\n".join(kept) + "\n", encoding="utf-8")
