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
# Characters of agents that never move or change, whatever is pressed: walk()'s copies of a
# game share these agents instead of copying them. Labyrinth's 40,600 wall blocks are only ever
# read (retro.examples.labyrinth.player: a solid agent blocks the move); sharing them makes
# a copy of its game about 20 times cheaper (1.0 s -> 0.05 s).
UNCHANGING = {"retro.examples.labyrinth": frozenset("█")}


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


def unchanging_agents(game, unchanging: frozenset[str]) -> list:
    return [agent for agent in game.agents if getattr(agent, "character", None) in unchanging]


def after(game, key, seed: int, unchanging: frozenset[str] = frozenset()):
    """A copy of ``game`` one turn on, ``key`` pressed. The agents drawn as ``unchanging``
    are shared with ``game``, not copied, and checked to be left as they were."""
    shared = unchanging_agents(game, unchanging)
    before = [dict(vars(agent)) for agent in shared]
    trial = copy.deepcopy(game, {id(agent): agent for agent in shared})
    trial.input_source = ProgrammaticInput()
    trial.input_source.press(key)
    random.seed(seed)  # the same draws for every key compared
    trial.step()
    assert [vars(agent) for agent in shared] == before, "an UNCHANGING agent changed"
    return trial


def outcome(game):
    """What the board and state look like: what a key press can change."""
    return sorted(visible_characters(game)), dict(game.state), game.playing


def explore(create_game, actions: list[str], turns: int) -> tuple[set[str], set[str]]:
    """Seeded random play: the actions that, in some state, change what the no-op does,
    and the characters drawn."""
    handled: set[str] = set()
    drawn: set[str] = set()
    for turn, game in enumerate(random_play(create_game, actions, turns, random.Random(0))):
        drawn.update(c for _, _, c in visible_characters(game))
        if not game.playing:
            continue
        if unhandled := set(actions) - handled:
            no_op = outcome(after(game, None, turn))
            handled.update(a for a in unhandled if outcome(after(game, a, turn)) != no_op)
    return handled, drawn - {" "}


def walk(game, actions: list[str], turns: int,
         unchanging: frozenset[str]) -> tuple[set[str], set[str]]:
    """:func:`explore` for a game too slow to play at random (a turn of Labyrinth takes
    0.3 s): from each state every action and the no-op are pressed on copies, and the walk
    goes on from one of the copies that an action changed (seeded), not back to the board
    it came from unless it must, so that it keeps moving on. Stops once every action had
    an effect (for a game that draws all its characters from the start) or after
    ``turns`` turns."""
    rng = random.Random(0)
    handled: set[str] = set()
    drawn: set[str] = set()
    came_from = None
    for turn in range(turns):
        board = sorted(visible_characters(game))
        drawn.update(c for _, _, c in board)
        if handled == set(actions) or not game.playing:
            break
        trials = {key: after(game, key, turn, unchanging) for key in [None, *actions]}
        seen = {key: outcome(trial) for key, trial in trials.items()}
        changed = [a for a in actions if seen[a] != seen[None]]
        handled.update(changed)
        onward = [a for a in changed if seen[a][0] != came_from] or changed or [None]
        game, came_from = trials[rng.choice(onward)], board
    return handled, drawn - {" "}


@pytest.mark.parametrize("module", [
    pytest.param(m, marks=pytest.mark.slow) if m in SLOW else m
    for m in {**PLAYABLE, **SUITE_GAMES}])
def test_description_matches_the_real_game(module):
    metadata = GameMetadata.from_pyproject(module)  # reads it; checks the reward key exists
    create_game = find_create_game(module)
    if module in SLOW:
        random.seed(0)  # the same maze every time
        game = create_game()
        game.view = None  # as random_play() has it: nothing drawn on a terminal
        game.start()
        handled, drawn = walk(game, metadata.actions, 20, UNCHANGING[module])
    else:
        handled, drawn = explore(create_game, metadata.actions, 400)
    assert handled == set(metadata.actions), f"no effect seen: {set(metadata.actions) - handled}"
    assert drawn - set(metadata.character_set) == {**PLAYABLE, **SUITE_GAMES}[module]
    assert drawn & set(metadata.character_set)

    if module in SLOW:  # walk() stepped it already; an environment costs minutes more
        return
    env = GameEnvironment(create_game, metadata)  # read and stepped
    first = env.reset()
    assert first.shape == (env.observation_size,) and first.any()
    for action in [*metadata.actions, None]:
        if env.done:
            env.reset()
        observation, reward, _ = env.step(action)
        assert observation.shape == first.shape and isinstance(reward, float)
