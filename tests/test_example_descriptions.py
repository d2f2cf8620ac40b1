"""Every retro example an agent can play has a description, checked against the real game.

A description (shipped by retro-games, bundled with retro-gamer where the
example ships none, or next to one of the suite's own games) must name keys the
game's agents really handle, a reward key the game's state holds, and the
characters the game really draws.
"""

from __future__ import annotations

import copy
import pkgutil
import random
from pathlib import Path

import pytest
import retro.examples
from retro.input import ProgrammaticInput

from retro_gamer import GameEnvironment, GameMetadata
from retro_gamer.encoding import visible_characters
from retro_gamer.env import random_play
from retro_gamer.games import find_create_game
from retro_gamer.suite import GAMES_PACKAGE, SUITE

# Examples that a key-driven agent can play, and characters each draws that its own
# description leaves out (on purpose, or harmlessly).
PLAYABLE = {
    "retro.examples.snake": set(),
    "retro.examples.beast": set(),
    # retro-games' own description omits the ship's explosion "*", drawn only on the
    # game's last frame, after which the agent never acts again.
    "retro.examples.nav": {"*"},
    "retro.examples.labyrinth": set(),
}
# Examples no description can make playable, and why (docs/reference.rst says so too).
UNPLAYABLE = {
    "retro.examples.debug": "runs the game when imported; no create_game(); empty state",
    "retro.examples.simple": "runs the game when imported; no create_game(); empty state",
    "retro.examples.virus": "a package without __init__; no create_game(); no key handling",
}
SUITE_GAMES = {g.module: set() for g in SUITE if g.module.startswith(GAMES_PACKAGE)}
SLOW = {"retro.examples.labyrinth"}  # create_game() alone takes 20 s (40,600 agents)


def example_modules() -> dict[str, Path]:
    """Each module or package under retro.examples and its source, found without importing."""
    found = {}
    for info in pkgutil.iter_modules(retro.examples.__path__):
        folder = Path(info.module_finder.path) / info.name
        source = folder / "__init__.py" if info.ispkg else folder.with_suffix(".py")
        found[f"retro.examples.{info.name}"] = source
    for folder in Path(retro.examples.__path__[0]).iterdir():  # namespace folders too
        if folder.is_dir() and not folder.name.startswith("_"):
            found.setdefault(f"retro.examples.{folder.name}", folder / "__init__.py")
    return found


def test_every_example_is_either_described_or_explained():
    modules = example_modules()
    assert set(modules) == set(PLAYABLE) | set(UNPLAYABLE)
    for module, source in modules.items():
        has_factory = source.is_file() and "def create_game" in source.read_text("utf-8")
        assert has_factory == (module in PLAYABLE), module


def outcome(game, key, seed: int):
    """What the board and state look like after pressing ``key`` in a copy of ``game``."""
    trial = copy.deepcopy(game)
    trial.input_source = ProgrammaticInput()
    trial.input_source.press(key)
    random.seed(seed)  # the same draws for every key compared
    trial.step()
    return sorted(visible_characters(trial)), dict(trial.state), trial.playing


def explore(create_game, actions: list[str], turns: int,
            until_handled: bool = False) -> tuple[set[str], set[str]]:
    """Seeded random play: the actions that, in some state, change what the no-op does,
    and the characters drawn (``until_handled``: stop once every action had an effect,
    for a game that draws all its characters from the start)."""
    handled: set[str] = set()
    drawn: set[str] = set()
    for turn, game in enumerate(random_play(create_game, actions, turns, random.Random(0))):
        drawn.update(c for _, _, c in visible_characters(game))
        if not game.playing:
            continue
        unhandled = set(actions) - handled
        if until_handled and not unhandled:
            break
        if unhandled:
            no_op = outcome(game, None, turn)
            handled.update(a for a in unhandled if outcome(game, a, turn) != no_op)
    return handled, drawn - {" "}


def copies_of_one_game(module: str):
    """A create_game() that returns copies of one game: Labyrinth takes 20 s to build."""
    random.seed(0)  # the same maze every time
    game = find_create_game(module)()
    return lambda: copy.deepcopy(game)


@pytest.mark.parametrize("module", [
    pytest.param(m, marks=pytest.mark.slow) if m in SLOW else m
    for m in {**PLAYABLE, **SUITE_GAMES}])
def test_description_matches_the_real_game(module):
    metadata = GameMetadata.from_pyproject(module)  # reads it; checks the reward key exists
    create_game = copies_of_one_game(module) if module in SLOW else find_create_game(module)
    handled, drawn = explore(create_game, metadata.actions, 60 if module in SLOW else 400,
                             until_handled=module in SLOW)
    assert handled == set(metadata.actions), f"no effect seen: {set(metadata.actions) - handled}"
    assert drawn - set(metadata.character_set) == {**PLAYABLE, **SUITE_GAMES}[module]
    assert drawn & set(metadata.character_set)

    if module in SLOW:  # explore() stepped it already; an environment costs minutes more
        return
    env = GameEnvironment(create_game, metadata)  # read and stepped
    first = env.reset()
    assert first.shape == (env.observation_size,) and first.any()
    for action in [*metadata.actions, None]:
        if env.done:
            env.reset()
        observation, reward, _ = env.step(action)
        assert observation.shape == first.shape and isinstance(reward, float)
