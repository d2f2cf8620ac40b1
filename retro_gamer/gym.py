"""A Gymnasium adapter: any described retro game as a ``gymnasium.Env``.

Needs the optional extra: ``pip install -e '.[gym]'``. Then the game
works with Stable-Baselines3, CleanRL and anything else that speaks Gymnasium::

    from retro_gamer.gym import RetroGameEnv
    env = RetroGameEnv("retro.examples.snake")
    obs, info = env.reset(seed=0)

``observation`` chooses what the agent sees:

* ``"flat"`` (the default): :class:`~retro_gamer.env.GameEnvironment`'s flat float32
  vector;
* ``"egocentric"``: what retro-gamer's own CNN sees, the board re-centred on the player
  (``center_on = "auto"``) as a float32 one-hot ``(C + 1, h, w)``, channel first, the last
  channel marking cells beyond the board's edge;
* ``"image"``: the same view as a uint8 ``(C + 1, h * k, w * k)`` image (0 or 255, each
  cell ``k`` pixels square, ``k`` chosen so both sides reach 36 pixels), which
  Stable-Baselines3's ``CnnPolicy`` takes as it is.

With ``observe_state`` the last two are a ``Dict`` of ``"view"`` and ``"state"`` (for
SB3's ``MultiInputPolicy``). The state values are the game's own, in its units, in every
observation: retro-gamer's ``state_scaling`` lives inside its own Q-network (from the
checkpoint's statistics), and an outside algorithm standardises them its own way (SB3's
``VecNormalize``). The actions are the description's keys plus the no-op, as
``Discrete(len(actions) + 1)``. Every game of the benchmark suite is registered with
Gymnasium, ``gymnasium.make("retro-gamer/Snake-v0")`` and so on (:data:`GAME_IDS`).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

try:
    import gymnasium
    from gymnasium import spaces
except ImportError as error:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "retro_gamer.gym needs Gymnasium: pip install -e '.[gym]' in retro-gamer's source "
        "folder"
    ) from error

from retro_gamer.config import GameMetadata
from retro_gamer.env import GameEnvironment, discover_player_characters
from retro_gamer.games import find_create_game
from retro_gamer.networks import QNetwork
from retro_gamer.suite import SUITE

OBSERVATIONS = ("flat", "egocentric", "image")
# Stable-Baselines3's NatureCNN (8x8 stride 4, 4x4 stride 2, 3x3) needs 36 pixels a side.
IMAGE_SIDE = 36
# Seeds the random turns that find the player apart from those that find the characters,
# as the trainer does.
PLAYER_SEED = 0xCE27


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
                 render_mode: str | None = None,
                 observation: str = "flat",
                 view_radius: int = 31):
        if game is not None:
            metadata = GameMetadata.from_pyproject(game)
            create_game = find_create_game(game)
        if create_game is None or metadata is None:
            raise TypeError("give a module name, or both create_game and metadata")
        if render_mode not in (None, "ansi"):
            raise ValueError(f"render_mode must be None or 'ansi', got {render_mode!r}")
        self.render_mode = render_mode
        self.max_turns_per_episode = max_turns_per_episode
        if observation not in OBSERVATIONS:
            raise ValueError(f"observation must be one of {OBSERVATIONS}, got {observation!r}")
        if observation != "flat" and not metadata.spatial:
            raise ValueError(f"observation={observation!r} needs a spatial game (spatial = "
                             "true); a game described with spatial = false is 'flat' only")
        self.observation = observation
        self.env = GameEnvironment(create_game, metadata, exploration_turns=exploration_turns,
                                   rng=random.Random(discovery_seed))
        self.action_space = spaces.Discrete(self.env.n_actions)
        self._turns = 0
        if observation == "flat":
            board_size = self.env.observation_size - len(metadata.observe_state)
            low = np.concatenate([np.zeros(board_size, np.float32),
                                  np.full(len(metadata.observe_state), -np.inf, np.float32)])
            high = np.concatenate([np.ones(board_size, np.float32),
                                   np.full(len(metadata.observe_state), np.inf, np.float32)])
            self.observation_space = spaces.Box(low, high, dtype=np.float32)
            return
        self.view = self._view_network(create_game, metadata, exploration_turns,
                                       discovery_seed, view_radius)
        channels = self.view.n_channels + int(bool(self.view.center_codes))
        h, w = self.view.view_size
        if observation == "egocentric":
            self.cell_pixels = 1
            view = spaces.Box(0.0, 1.0, (channels, h, w), np.float32)
        else:
            self.cell_pixels = max(1, math.ceil(IMAGE_SIDE / min(h, w)))
            view = spaces.Box(0, 255, (channels, h * self.cell_pixels, w * self.cell_pixels),
                              np.uint8)
        if metadata.observe_state:
            n = len(metadata.observe_state)
            self.observation_space = spaces.Dict({
                "view": view, "state": spaces.Box(-np.inf, np.inf, (n,), np.float32)})
        else:
            self.observation_space = view

    def _view_network(self, create_game, metadata: GameMetadata, exploration_turns: int,
                      discovery_seed: int, view_radius: int) -> QNetwork:
        """A network whose :meth:`~QNetwork.recentre` and one-hot make the trainer's view.

        The player is found as ``center_on = "auto"`` finds it; a game whose player shows
        no character of its own is seen whole, as the trainer would see it.
        """
        found = discover_player_characters(create_game, metadata.actions,
                                           max(exploration_turns, 200),
                                           random.Random(discovery_seed ^ PLAYER_SEED))
        codes = self.env.encoder.codes
        height, width = self.env.board.shape
        return QNetwork(self.env.encoder.n_channels, (width, height), 0, self.env.n_actions,
                        1, 1, True, center_on="auto" if found else "",
                        center_codes=[codes[c] for c in found if c in codes],
                        view_radius=view_radius).eval()

    def _observe(self):
        if self.observation == "flat":
            return self.env.observation()
        with torch.no_grad():
            encoded = self.view.encode(torch.from_numpy(self.env.board)[None])
        one_hot = (encoded[0] if isinstance(encoded, tuple) else encoded)[0]
        if self.observation == "egocentric":
            view = one_hot.contiguous().numpy().astype(np.float32, copy=False)
        else:
            k = self.cell_pixels
            view = (one_hot.repeat_interleave(k, 1).repeat_interleave(k, 2) * 255).to(
                torch.uint8).contiguous().numpy()
        if isinstance(self.observation_space, spaces.Dict):
            return {"view": view, "state": np.array(self.env.extras, np.float32)}  # a copy
        return view

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        if seed is not None:
            random.seed(seed)
        self._turns = 0
        self.env.start()
        return self._observe(), {}

    def step(self, action):
        if not self.action_space.contains(action):  # -1 would silently be the no-op
            raise ValueError(
                f"Action {action!r} is outside the action space {self.action_space}: give an "
                f"integer from 0 to {self.action_space.n - 1} (the last is the no-op).")
        reward, terminated, _ = self.env.act(int(action))
        self._turns += 1
        truncated = not terminated and self._turns >= self.max_turns_per_episode
        info = {"turn": self._turns}
        return self._observe(), float(reward), terminated, truncated, info

    def render(self) -> str | None:
        if self.render_mode != "ansi":
            return None
        characters = [" ", *self.env.character_set]
        rows = ("".join(characters[c] for c in row) for row in self.env.board)
        return "\n".join(rows) + "\n"


# Every game of the suite, with the episode length the suite scores it with.
GAME_IDS = {f"retro-gamer/{game.name.capitalize()}-v0": game for game in SUITE}
for _id, _game in GAME_IDS.items():
    gymnasium.register(id=_id, entry_point="retro_gamer.gym:RetroGameEnv",
                       kwargs={"game": _game.module,
                               "max_turns_per_episode": _game.max_turns_per_episode})
