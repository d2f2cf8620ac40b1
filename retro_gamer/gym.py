"""A Gymnasium adapter: any described retro game as a ``gymnasium.Env``.

Needs the optional extra: ``pip install -e '.[gym]'``. Then the game
works with Stable-Baselines3, CleanRL and anything else that speaks Gymnasium::

    from retro_gamer.gym import RetroGameEnv
    env = RetroGameEnv("retro.examples.snake")
    obs, info = env.reset(seed=0)

The observation is exactly :class:`~retro_gamer.env.GameEnvironment`'s (a flat
float32 vector); the actions are the description's keys plus the no-op, as
``Discrete(len(actions) + 1)``.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import numpy as np

try:
    import gymnasium
    from gymnasium import spaces
except ImportError as error:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "retro_gamer.gym needs Gymnasium: pip install -e '.[gym]' in retro-gamer's source "
        "folder"
    ) from error

from retro_gamer.config import GameMetadata
from retro_gamer.env import GameEnvironment
from retro_gamer.games import find_create_game


class RetroGameEnv(gymnasium.Env):
    """A retro game behind Gymnasium's ``reset``/``step`` API.

    ``terminated`` is true when the game itself ends; ``truncated`` when
    ``max_turns_per_episode`` turns pass first, as Gymnasium's time limits do.
    ``reset(seed=...)`` seeds Python's ``random`` module, which retro games draw
    from, so a seed fixes the whole episode. ``discovery_seed`` seeds the random
    turns that discover the characters when the description lists none: adapters
    built with the same one (as vectorised environments are) share one
    observation space.
    """

    metadata = {"render_modes": ["ansi"], "render_fps": 12}

    def __init__(self, game: str | None = None, *,
                 create_game: Callable[[], Any] | None = None,
                 metadata: GameMetadata | None = None,
                 max_turns_per_episode: int = 2000,
                 exploration_turns: int = 200,
                 discovery_seed: int = 0,
                 render_mode: str | None = None):
        if game is not None:
            metadata = GameMetadata.from_pyproject(game)
            create_game = find_create_game(game)
        if create_game is None or metadata is None:
            raise TypeError("give a module name, or both create_game and metadata")
        if render_mode not in (None, "ansi"):
            raise ValueError(f"render_mode must be None or 'ansi', got {render_mode!r}")
        self.render_mode = render_mode
        self.max_turns_per_episode = max_turns_per_episode
        self.env = GameEnvironment(create_game, metadata, exploration_turns=exploration_turns,
                                   rng=random.Random(discovery_seed))
        board_size = self.env.observation_size - len(metadata.observe_state)
        low = np.concatenate([np.zeros(board_size, np.float32),
                              np.full(len(metadata.observe_state), -np.inf, np.float32)])
        high = np.concatenate([np.ones(board_size, np.float32),
                               np.full(len(metadata.observe_state), np.inf, np.float32)])
        self.observation_space = spaces.Box(low, high, dtype=np.float32)
        self.action_space = spaces.Discrete(self.env.n_actions)
        self._turns = 0

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        if seed is not None:
            random.seed(seed)
        self._turns = 0
        self.env.start()
        return self.env.observation(), {}

    def step(self, action):
        reward, terminated, _ = self.env.act(int(action))
        self._turns += 1
        truncated = not terminated and self._turns >= self.max_turns_per_episode
        info = {"turn": self._turns}
        return self.env.observation(), float(reward), terminated, truncated, info

    def render(self) -> str | None:
        if self.render_mode != "ansi":
            return None
        characters = [" ", *self.env.character_set]
        rows = ("".join(characters[c] for c in row) for row in self.env.board)
        return "\n".join(rows) + "\n"


gymnasium.register(id="retro-gamer/Snake-v0", entry_point="retro_gamer.gym:RetroGameEnv",
                   kwargs={"game": "retro.examples.snake"})
