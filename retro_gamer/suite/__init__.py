"""The benchmark suite: retro's examples plus small games, each kind of game users write.

``python scripts/benchmark.py --suite`` trains the default configuration on
every game for a fixed wall-clock budget, plays greedy games, and scores a
random policy and a scripted reference policy (:mod:`retro_gamer.suite.policies`)
in the same run. The agent's normalised score, ``(agent - random) /
(reference - random)``, is how Atari agents are reported against human and
random play (Mnih et al., "Human-level control through deep reinforcement
learning", Nature 2015): 0 is random play, 1 the reference.

A description cannot set a run's episode length, so each game here carries
the ``max_turns_per_episode`` the suite trains and scores it with.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from retro_gamer.suite import policies
from retro_gamer.suite.policies import Policy


@dataclass(frozen=True)
class SuiteGame:
    """One game of the suite: where it lives, what it stands for, how it is scored."""

    name: str
    module: str
    kind: str
    max_turns_per_episode: int
    reference: Callable[[], Policy]  # builds a fresh reference policy
    in_default_run: bool = True  # False: only when named with --games
    note: str = ""


def _fixed(policy: Policy) -> Callable[[], Policy]:
    return lambda: policy


GAMES_PACKAGE = "retro_gamer.suite.games"

SUITE: tuple[SuiteGame, ...] = (
    SuiteGame("snake", "retro.examples.snake", "retro example", 2000,
              _fixed(policies.apple_chaser)),
    SuiteGame("beast", "retro.examples.beast", "retro example", 500,
              _fixed(policies.beast_hunter)),
    SuiteGame("nav", "retro.examples.nav", "retro example", 1000,
              _fixed(policies.asteroid_dodger)),
    SuiteGame("labyrinth", "retro.examples.labyrinth", "retro example", 20000,
              lambda: policies.PathWalker("$", "█"), in_default_run=False,
              note="retro-games plays it at about 4 turns/s and builds each game in about "
                   "20 s; the shortest path is about 11,800 turns"),
    SuiteGame("keys", f"{GAMES_PACKAGE}.keys", "character keys", 100,
              _fixed(policies.coin_walker)),
    SuiteGame("thermostat", f"{GAMES_PACKAGE}.thermostat", "observe_state, not spatial", 60,
              _fixed(policies.thermostat_controller)),
    SuiteGame("wall", f"{GAMES_PACKAGE}.wall", "per-turn cost", 40,
              _fixed(policies.wall_sitter)),
    SuiteGame("far", f"{GAMES_PACKAGE}.far", "sparse reward", 150,
              lambda: policies.PathWalker("$", "#")),
    SuiteGame("field", f"{GAMES_PACKAGE}.field", "large board (64x24)", 200,
              _fixed(policies.coin_walker)),
    SuiteGame("catch", f"{GAMES_PACKAGE}.catch", "gravity: left-right mirror only", 70,
              _fixed(policies.ball_catcher)),
)
BY_NAME = {game.name: game for game in SUITE}


def select(names: str | None) -> list[SuiteGame]:
    """The games named in a comma-separated list (None: the default run's games)."""
    if not names:
        return [game for game in SUITE if game.in_default_run]
    chosen = []
    for name in (n.strip() for n in names.split(",")):
        if name not in BY_NAME:
            raise ValueError(f"unknown suite game {name!r}; choose from {', '.join(BY_NAME)}")
        chosen.append(BY_NAME[name])
    return chosen
