"""The one typed home of retro-gamer's configuration.

Two dataclasses describe a training run:

* :class:`GameMetadata` -- what a game author writes in ``[tool.retro-gamer]``
  (plus the module it came from and the board size read from the game);
* :class:`Hyperparameters` -- every hyperparameter of the specification, with
  its default, plus a few documented extensions.

Each field carries a one-line description in its metadata. CLI options,
validation, ``config.toml`` comments, Hydra's schema and the docs' tables are
all derived from these declarations; nothing re-types a default elsewhere.
"""

from __future__ import annotations

import collections
import dataclasses
import functools
import math
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional  # noqa: UP035 -- OmegaConf needs typing generics

from retro_gamer.errors import ConfigError, GameDescriptionError, did_you_mean


def _field(default: Any, help: str, **limits: Any) -> Any:
    """A dataclass field with its description and validation limits in metadata."""
    meta = {"help": help, **limits}
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda: type(default)(default), metadata=meta)
    return field(default=default, metadata=meta)


# --------------------------------------------------------------------------- game


@dataclass
class GameMetadata:
    """A game's description: how the agent acts, what it is rewarded for, what it sees."""

    actions: List[str] = _field(  # noqa: UP006
        [], "Keystroke names the agent may send each turn (arrow names like KEY_UP, or "
        "single characters); a no-op action is always added after them."
    )
    reward: str = _field("", "Key of the game's state dict whose change per turn is the reward.")
    character_set: Optional[List[str]] = _field(  # noqa: UP006, UP007
        None, "Single characters that may appear on the board, one input channel each; "
        "other characters count as empty. Discovered by exploration when omitted."
    )
    spatial: bool = _field(
        True, "Treat the board as a 2D scene (CNN) rather than a flat vector (MLP)."
    )
    observe_state: List[str] = _field(  # noqa: UP006
        [], "Numeric state keys appended to the observation, in this order."
    )
    module: str = _field("", "Python module whose create_game() builds a fresh game.")
    board_size: Optional[List[int]] = _field(  # noqa: UP006, UP007
        None, "Board width and height, read from the game's board_size (never asked for)."
    )
    symmetries: Dict[str, Dict[str, List[Any]]] = _field(  # noqa: UP006
        {}, "Mirrors the game's rules keep: 'left-right' and/or 'up-down', each with the "
        "action pairs and character pairs it swaps (actions, characters) and the observed "
        "state keys whose values change sign (negate_state). Used by symmetric_experience; "
        "none is ever assumed."
    )

    # Fields a game author writes in [tool.retro-gamer]; the others are filled in by us.
    DESCRIPTION_FIELDS = ("actions", "reward", "character_set", "spatial", "observe_state",
                          "symmetries")

    @classmethod
    def from_pyproject(cls, module: str) -> GameMetadata:
        """Read ``[tool.retro-gamer]`` for ``module`` and check it against a real game.

        The ``pyproject.toml`` is the first one found in or above the module's
        source directory; retro's own examples that ship without one use a
        description bundled with retro-gamer.
        """
        from retro_gamer.games import load_metadata  # games imports this module

        return load_metadata(module)

    @classmethod
    def from_mapping(cls, data: dict, source: str) -> GameMetadata:
        """Build and validate metadata from a TOML table; ``source`` names it in errors."""
        if not isinstance(data, dict):
            raise GameDescriptionError(f"{source} must be a table of fields, not {data!r}.")
        known = {f.name for f in dataclasses.fields(cls)}
        for key in data:
            if key not in known:
                hint = did_you_mean(key, cls.DESCRIPTION_FIELDS)
                raise GameDescriptionError(
                    f"{source}: unknown field '{key}'.{hint} Allowed fields: "
                    f"{', '.join(cls.DESCRIPTION_FIELDS)}."
                )
        for required in ("actions", "reward"):
            if required not in data:
                raise GameDescriptionError(
                    f"{source}: the required field '{required}' is missing. "
                    + _EXAMPLES[required]
                )
        values = {k: (list(v) if isinstance(v, list) else v) for k, v in data.items()}
        metadata = cls(**values)
        metadata.validate(source)
        return metadata

    def validate(self, source: str) -> None:
        """Raise :class:`GameDescriptionError` naming ``source`` if any field is malformed."""
        _check_key_list(self.actions, "actions", source)
        if not isinstance(self.reward, str) or not self.reward:
            raise GameDescriptionError(
                f"{source}: 'reward' must be the name of a state key, got {self.reward!r}. "
                + _EXAMPLES["reward"]
            )
        if self.character_set is not None:
            _check_character_set(self.character_set, source)
        if not isinstance(self.spatial, bool):
            raise GameDescriptionError(
                f"{source}: 'spatial' must be true or false, got {self.spatial!r}."
            )
        _check_string_list(self.observe_state, "observe_state", source, allow_empty=True)
        if self.reward in self.observe_state:
            raise GameDescriptionError(
                f"{source}: 'observe_state' contains the reward key '{self.reward}'. "
                "The reward must not be part of the observation; remove it from observe_state."
            )
        if not isinstance(self.module, str):
            raise GameDescriptionError(f"{source}: 'module' must be a module name string.")
        if self.symmetries:
            check_symmetries(self.symmetries, self.actions, self.character_set,
                             self.observe_state, source)
        if self.board_size is not None:
            ok = (
                isinstance(self.board_size, list)
                and len(self.board_size) == 2
                and all(_is_int(v) and v > 0 for v in self.board_size)
            )
            if not ok:
                raise GameDescriptionError(
                    f"{source}: 'board_size' must be [width, height] with positive integers, "
                    f"got {self.board_size!r}. It is read from the game; delete it to re-read."
                )

    @property
    def n_actions(self) -> int:
        """Outputs of the Q-network: the described actions plus the trailing no-op."""
        return len(self.actions) + 1

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


_EXAMPLES = {
    "actions": 'For example: actions = ["KEY_RIGHT", "KEY_UP", "KEY_LEFT", "KEY_DOWN"]',
    "reward": 'For example: reward = "score"',
}


@functools.cache
def key_names() -> frozenset[str]:
    """The key names retro sends (``KEY_LEFT`` ...), from blessed's table, read when first
    needed: importing blessed's terminal code costs about 0.1 s that ``info`` need not pay."""
    from blessed.keyboard import get_keyboard_codes

    return frozenset(name for name in get_keyboard_codes().values() if name.startswith("KEY_"))


_KEY_LIKE = re.compile(r"KEY_[A-Z0-9_]+")


def _meant_character(key: str) -> str | None:
    """The single character a made-up key name such as ``KEY_SPACE`` or ``KEY_A`` names.

    Keys that type a character have no ``KEY_`` name in retro; the game receives the
    character itself, so that is what the user meant.
    """
    match = _KEY_LIKE.fullmatch(key)
    if not match:
        return None
    name = key[len("KEY_"):].replace("_", " ")
    if len(name) == 1 and name.isalnum():
        return name.lower()
    for candidate in (name, f"{name} SIGN", f"{name} MARK"):
        try:
            char = unicodedata.lookup(candidate)
        except KeyError:
            continue
        if char.isprintable():
            return char
    return None


def _check_string_list(value: Any, name: str, source: str, allow_empty: bool) -> None:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise GameDescriptionError(
            f"{source}: '{name}' must be a list of non-empty strings, got {value!r}."
        )
    if not value and not allow_empty:
        raise GameDescriptionError(f"{source}: '{name}' must not be empty.")
    # Counted once (a list's count() per entry would take minutes on a long list).
    duplicates = sorted(v for v, n in collections.Counter(value).items() if n > 1)
    if duplicates:
        raise GameDescriptionError(
            f"{source}: '{name}' lists {duplicates[0]!r} more than once; list each entry once."
        )


def _check_key_list(actions: Any, name: str, source: str) -> None:
    _check_string_list(actions, name, source, allow_empty=False)
    for key in actions:
        if len(key) == 1:
            continue
        if key not in key_names():
            meant = _meant_character(key)
            hint = (f" A key that types a character is named by the character itself: "
                    f"write {meant!r}." if meant else
                    did_you_mean(key, key_names()) if _KEY_LIKE.fullmatch(key) else "")
            raise GameDescriptionError(
                f"{source}: '{name}' has {key!r}, which is neither a key name such as "
                f"'KEY_LEFT' nor a single character.{hint}"
            )


def _check_character_set(chars: Any, source: str) -> None:
    if not isinstance(chars, list) or not all(isinstance(c, str) for c in chars):
        raise GameDescriptionError(
            f"{source}: 'character_set' must be a list of single characters, got {chars!r}."
        )
    if not chars:
        raise GameDescriptionError(
            f"{source}: 'character_set' is empty, which leaves the agent nothing to see. List "
            'the characters the board shows, e.g. ["@", "*"], or leave the field out to have '
            "them discovered."
        )
    for c in chars:
        if len(c) != 1:
            raise GameDescriptionError(
                f"{source}: 'character_set' entry {c!r} is not a single character. "
                'Write each character as its own string, e.g. ["@", "*"].'
            )
        if c == " ":
            raise GameDescriptionError(
                f"{source}: 'character_set' contains a space; a space is an empty cell "
                "and needs no channel. Remove it."
            )
    if len(set(chars)) != len(chars):
        dup = next(c for c, n in collections.Counter(chars).items() if n > 1)
        raise GameDescriptionError(
            f"{source}: 'character_set' lists {dup!r} more than once; list each character once."
        )
    if len(chars) > 254:
        raise GameDescriptionError(
            f"{source}: 'character_set' has {len(chars)} characters; at most 254 are supported."
        )


# ------------------------------------------------------------------ symmetries

# The mirrors a game may declare (retro_gamer.symmetry applies them) and a mirror's keys.
MIRRORS = ("left-right", "up-down")
MIRROR_KEYS = ("actions", "characters", "negate_state")
_SYMMETRY_EXAMPLE = ('For example:\n  [tool.retro-gamer.symmetries.left-right]\n'
                     '  actions = [["KEY_LEFT", "KEY_RIGHT"]]\n  characters = [["<", ">"]]')


def _pairs(value: Any, what: str, where: str) -> list[tuple[str, str]]:
    """``value`` as a list of two-string pairs, or a :class:`GameDescriptionError`."""
    if not isinstance(value, list) or not all(
            isinstance(p, list) and len(p) == 2 and all(isinstance(s, str) for s in p)
            for p in value):
        raise GameDescriptionError(
            f"{where}: '{what}' must be a list of pairs swapped by the mirror, e.g. "
            f"{what} = [[\"KEY_LEFT\", \"KEY_RIGHT\"]]; got {value!r}.")
    seen: set[str] = set()
    for a, b in value:
        if a == b:
            raise GameDescriptionError(
                f"{where}: the pair [{a!r}, {b!r}] in '{what}' swaps {a!r} with itself; a "
                "name the mirror leaves alone needs no pair. Remove it.")
        for name in (a, b):
            if name in seen:
                raise GameDescriptionError(
                    f"{where}: {name!r} is in more than one pair of '{what}'; a mirror swaps "
                    "each name with exactly one other.")
            seen.add(name)
    return [(a, b) for a, b in value]


def check_symmetries(symmetries: Any, actions: list[str], character_set: list[str] | None,
                     observe_state: list[str], source: str) -> None:
    """Raise :class:`GameDescriptionError` naming ``source`` for a malformed declaration.

    ``symmetries`` maps a mirror (``left-right`` or ``up-down``) to a table with the
    optional keys ``actions`` and ``characters`` (lists of pairs the mirror swaps) and
    ``negate_state`` (observed state keys whose values change sign).
    """
    where = f"{source}: symmetries"
    if not isinstance(symmetries, dict):
        raise GameDescriptionError(
            f"{where} must be a table of mirrors, got {symmetries!r}. {_SYMMETRY_EXAMPLE}")
    for mirror, table in symmetries.items():
        if mirror not in MIRRORS:
            raise GameDescriptionError(
                f"{where}: unknown mirror '{mirror}'.{did_you_mean(mirror, MIRRORS)} The "
                f"mirrors are {' and '.join(MIRRORS)}. {_SYMMETRY_EXAMPLE}")
        _check_mirror(table, f"{where}.{mirror}", actions, character_set, observe_state)


def _check_swapped_characters(pairs: Any, here: str, character_set: list[str] | None) -> None:
    for a, b in _pairs(pairs, "characters", here):
        for char in (a, b):
            if len(char) != 1 or char == " ":
                raise GameDescriptionError(
                    f"{here}: {char!r} in 'characters' is not one board character.")
            if character_set is not None and char not in character_set:
                raise GameDescriptionError(
                    f"{here}: the character {char!r} is not in the character_set "
                    f"{character_set}. Add it there, or remove its pair.")


def _check_mirror(table: Any, here: str, actions: list[str], character_set: list[str] | None,
                  observe_state: list[str]) -> None:
    """One mirror's table of :func:`check_symmetries`."""
    if not isinstance(table, dict):
        raise GameDescriptionError(
            f"{here} must be a table (actions, characters, negate_state), got {table!r}. "
            f"{_SYMMETRY_EXAMPLE}")
    for key in table:
        if key not in MIRROR_KEYS:
            raise GameDescriptionError(
                f"{here}: unknown key '{key}'.{did_you_mean(key, MIRROR_KEYS)} Allowed: "
                f"{', '.join(MIRROR_KEYS)}.")
    for a, b in _pairs(table.get("actions", []), "actions", here):
        for name in (a, b):
            if name not in actions:
                raise GameDescriptionError(
                    f"{here}: the action {name!r} is not one of the game's actions "
                    f"{actions}.{did_you_mean(name, actions)}")
    _check_swapped_characters(table.get("characters", []), here, character_set)
    negate = table.get("negate_state", [])
    if not isinstance(negate, list) or not all(isinstance(k, str) for k in negate):
        raise GameDescriptionError(
            f"{here}: 'negate_state' must be a list of observe_state keys, got {negate!r}.")
    for key in negate:
        if key not in observe_state:
            raise GameDescriptionError(
                f"{here}: 'negate_state' names {key!r}, which is not in observe_state "
                f"{observe_state}.{did_you_mean(key, observe_state)}")


# ---------------------------------------------------------------- hyperparameters


@dataclass
class Hyperparameters:
    """Every knob of a training run, with the specification's defaults.

    ``lo``/``hi`` bound a value (``lo_open`` excludes ``lo``); ``choices`` lists the
    allowed strings. Extensions beyond the specification are marked in their help.
    """

    # Learning and optimization
    learning_rate: float = _field(
        0.001, "Step size of the Adam optimizer.", lo=0.0, lo_open=True, hi=10.0
    )
    lr_decay: float = _field(
        0.995, "Multiplier applied to the learning rate after each episode.",
        lo=0.0, lo_open=True, hi=1.0,
    )
    gamma: float = _field(
        0.99, "Discount factor for future rewards.", lo=0.0, lo_open=True, hi=1.0
    )
    # Exploration
    epsilon: float = _field(
        1.0, "Initial probability of taking a random action.", lo=0.0, hi=1.0
    )
    epsilon_decay: float = _field(
        0.995, "Multiplier applied to epsilon after each episode.",
        lo=0.0, lo_open=True, hi=1.0,
    )
    epsilon_min: float = _field(0.05, "Floor below which epsilon never falls.", lo=0.0, hi=1.0)
    # Memory and sampling
    batch_size: int = _field(
        64, "Experiences sampled from the replay buffer per training step.", lo=1, hi=65536
    )
    memory_capacity: int = _field(
        10000, "Experiences the replay buffer holds; the oldest are dropped first.",
        lo=1, hi=10_000_000,
    )
    prioritize_experiences: bool = _field(
        False, "Sample experiences with large TD errors more often (prioritized replay)."
    )
    # Network architecture
    n_layers: int = _field(
        2, "Hidden layers of the MLP head (after the CNN for spatial games).", lo=0, hi=32
    )
    layer_size: int = _field(128, "Units in each hidden layer.", lo=1, hi=65536)
    # Training duration
    training_episodes: int = _field(
        1000, "Episodes to train in all.", lo=1, hi=100_000_000
    )
    max_turns_per_episode: int = _field(
        2000, "Turns after which an episode is cut off.", lo=1, hi=100_000_000
    )
    target_update_freq: int = _field(
        100, "Training steps between copies of the network into the target network.",
        lo=1, hi=100_000_000,
    )
    # Character discovery
    exploration_turns: int = _field(
        200, "Random turns played to discover the board's characters when the game "
        "description has no character_set.", lo=1, hi=10_000_000,
    )
    unknown_character_strategy: str = _field(
        "ignore", "What to do with a character outside character_set: 'ignore' (empty "
        "cell) or 'extend' (add a channel, keep the learned weights).",
        choices=("ignore", "extend"),
    )
    # Extensions beyond the specification
    seed: Optional[int] = _field(  # noqa: UP007
        None, "Seed for the game's, numpy's and torch's random numbers; chosen and "
        "recorded at the start of training when unset.", lo=0, hi=2**32 - 1,
    )
    train_every: int = _field(
        8, "Environment turns between training steps (replay ratio = gradient_steps / "
        "train_every). 8 with conv_width 8 learned Snake as well as 4 with 16 at about 3x "
        "the env steps per CPU-second (docs/benchmarks.md, the levers); a game with few, "
        "short episodes may want 4.", lo=1, hi=1_000_000
    )
    checkpoint_every: int = _field(
        100, "Episodes between checkpoints (checkpoints/ep_NNNN.pt).", lo=1, hi=100_000_000
    )
    eval_episodes: int = _field(
        10, "Greedy episodes played after training (their mean return is the run's "
        "objective, what sweeps compare) and at each eval_every. 0 skips both.",
        lo=0, hi=1_000_000,
    )
    eval_every: int = _field(
        100, "Episodes between evaluations during training: eval_episodes greedy games "
        "(seeded with the run's seed), one '# eval after episode N' line in training.log, "
        "and checkpoints/best.pt kept as the checkpoint with the best mean so far. "
        "Training itself is unchanged by them. 0: no evaluations, no best.pt.",
        lo=0, hi=100_000_000,
    )
    objective_checkpoint: str = _field(
        "final", "The checkpoint whose greedy mean return is the run's objective (what "
        "sweeps compare): 'final' (final.pt) or 'best' (best.pt, the best evaluation "
        "during training; final.pt when no evaluation ran).", choices=("final", "best"),
    )
    priority_alpha: float = _field(
        0.6, "Prioritized replay: how strongly priorities skew sampling (0 = uniform).",
        lo=0.0, hi=1.0,
    )
    priority_beta: float = _field(
        0.4, "Prioritized replay: initial importance-sampling correction, annealed to 1.",
        lo=0.0, hi=1.0,
    )
    device: str = _field(
        "auto", "Torch device: 'auto' (CUDA when present, else CPU), 'cpu', 'cuda' or "
        "'cuda:N'.", pattern=r"auto|cpu|cuda(:\d+)?|mps",
    )
    tensorboard: bool = _field(
        False, "Also write per-episode scalars as TensorBoard event files in "
        "RUN_DIR/tensorboard (needs: pip install -e '.[tensorboard]')."
    )
    learning_starts: int = _field(
        0, "Turns played before the first training step (the replay buffer fills with "
        "varied experience first); training never starts before one batch fits.",
        lo=0, hi=100_000_000,
    )
    gradient_steps: int = _field(
        1, "Training steps taken every train_every turns (the replay ratio's numerator).",
        lo=1, hi=1000,
    )
    n_step: int = _field(
        3, "Turns summed into each TD target (n-step returns); 1 is plain one-step DQN.",
        lo=1, hi=100,
    )
    double_dqn: bool = _field(
        True, "Double DQN: the network picks the next action, the target network values it."
    )
    dueling: bool = _field(
        False, "Dueling head: Q = V + A - mean(A) from shared hidden layers."
    )
    reward_clip: float = _field(
        0.0, "Clip each turn's reward to [-reward_clip, reward_clip] for learning (0 = no "
        "clipping); training.log keeps the game's own rewards. Clipping makes rewards "
        "beyond the bound look alike (training warns when it sees that happen).",
        lo=0.0, hi=1e9,
    )
    reward_scaling: bool = _field(
        True, "Divide the rewards the agent learns from by the largest magnitude seen so "
        "far (after reward_clip), so targets stay near 1 whatever the game's units while "
        "the ratios between rewards are kept; training.log keeps the game's own rewards."
    )
    state_scaling: bool = _field(
        True, "Standardise the observe_state values the network sees by the running mean "
        "and variance of every value training has seen (Welford, 1962), clipped to +-10, as "
        "Stable-Baselines3's VecNormalize does; the statistics are saved in each checkpoint "
        "and used unchanged by play and eval. A value in the thousands then learns as one "
        "near 0 does. Games without observe_state are unchanged either way."
    )
    grad_clip: float = _field(
        10.0, "Largest gradient norm of a training step (0 = no clipping).", lo=0.0, hi=1e9,
    )
    first_conv_stride: int = _field(
        2, "Stride of the CNN's first convolution: 2 halves the board before any "
        "full-resolution work (about 4x cheaper), 1 keeps full resolution, 3 tiles the "
        "board in 3x3 patches (cheapest; it learned less than 2 on Snake's egocentric "
        "view).", lo=1, hi=3,
    )
    center_on: str = _field(
        "auto", "Where the CNN's view is centred: 'auto' finds the player (the agents that "
        "handle keystrokes) and shows the board re-centred on it, an egocentric view "
        "with off-board cells as walls; characters such as '<>^v' (Snake's head) name "
        "the player explicitly; empty shows the board as it is.", pattern=r"\S*",
    )
    local_view: int = _field(
        3, "With an egocentric view: the radius of a window around the player that the "
        "MLP head also sees cell by cell (3: the 7x7 cells around it), so what is right "
        "next to the player is exact whatever the CNN's strides. 0: no window.",
        lo=0, hi=15,
    )
    view_radius: int = _field(
        31, "With an egocentric view: the farthest the CNN sees from the player, in cells "
        "along each axis, so its cost stops growing with the board (31: boards up to 32 "
        "cells each way, Snake's included, are seen whole; larger ones through a 63x63 "
        "window plus a 16x16-block summary of the whole board). 0: no bound.",
        lo=0, hi=100_000,
    )
    symmetric_experience: bool = _field(
        True, "Train on each sampled transition seen through a random one of the mirrors "
        "the game declares in its description (symmetries), the identity included: extra "
        "experience at no game turn (Symmetric DQN; Mondal et al., 2020). Without declared "
        "symmetries nothing changes. On Snake it lifted the greedy mean after 1000 "
        "episodes from 481.5, 699.5, 178.5 to 1431, 1560, 1251.5 (seeds 0-2, "
        "docs/benchmarks.md)."
    )
    munchausen: bool = _field(
        False, "Munchausen DQN targets (Vieillard et al., 2020): a soft bootstrap over the "
        "target network's softmax policy (temperature 0.03) plus a bonus of 0.9 x 0.03 x "
        "the log-policy of the action taken, clipped at -1. Replaces double_dqn's target."
    )
    novelty_bonus: float = _field(
        0.0, "Count-based exploration (Bellemare et al., 2016; Tang et al., 2017): add "
        "novelty_bonus x (1/sqrt(n) - 1) to each turn's learned reward (after reward "
        "scaling, so in units of the largest reward), n the times this episode the board "
        "the turn led to has been seen: 0 for a new board, towards -novelty_bonus for one "
        "seen again and again. For games whose one reward is rare and far away; a game whose "
        "boards never repeat (Snake) is unchanged. 0: off.", lo=0.0, hi=100.0,
    )
    layer_norm: bool = _field(
        False, "Layer normalization (Ba et al., 2016) after each hidden layer of the head, "
        "before its ReLU (as in PQN, Gallici et al., 2024)."
    )
    conv_width: int = _field(
        8, "Channels of the CNN's first convolution; the second has twice as many. 8 does "
        "about half the multiply-adds of 16 on Snake and learned as well "
        "(docs/benchmarks.md, the levers); runs created before this field existed used 16.",
        lo=1, hi=1024,
    )
    torch_threads: int = _field(
        1, "Threads torch uses in this process (torch.set_num_threads); 0 leaves torch's "
        "own choice (all cores).", lo=0, hi=1024,
    )

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise :class:`ConfigError` for the first value out of type or range."""
        if isinstance(self.center_on, str) and not re.fullmatch(r"\S*", self.center_on):
            raise ConfigError(
                f"center_on must list the player's characters with no spaces, e.g. '<>^v'; "
                f"got {self.center_on!r}.")
        for f in dataclasses.fields(self):
            check_value(f.name, getattr(self, f.name))
        if self.epsilon_min > self.epsilon:
            raise ConfigError(
                f"epsilon_min ({self.epsilon_min}) is larger than epsilon ({self.epsilon}); "
                "epsilon_min must be at most epsilon."
            )
        if self.batch_size > self.memory_capacity:
            raise ConfigError(
                f"batch_size ({self.batch_size}) is larger than memory_capacity "
                f"({self.memory_capacity}); the replay buffer could never fill a batch. "
                "Lower batch_size or raise memory_capacity."
            )

    @classmethod
    def from_mapping(cls, values: dict, source: str = "hyperparameters") -> Hyperparameters:
        """Build from a mapping, refusing unknown names with a 'did you mean' hint."""
        for name in values:
            check_known(name, source)
        try:
            return cls(**values)
        except ConfigError as error:
            raise ConfigError(f"{source}: {error}") from None

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


HYPERPARAMETER_FIELDS = {f.name: f for f in dataclasses.fields(Hyperparameters)}

AUTO = "auto"  # center_on: find the player by itself


def check_center_on(center_on: str, character_set: list[str], spatial: bool) -> None:
    """Refuse explicit ``center_on`` characters the game cannot show, or a non-spatial game.

    ``character_set`` is the game's (described or discovered); ``create`` checks against
    the description when it lists one, training against what it discovered. Raises
    :class:`ConfigError` naming the characters and the fix.
    """
    if center_on in (AUTO, ""):
        return
    missing = [c for c in center_on if c not in character_set]
    if missing:
        raise ConfigError(
            f"center_on lists {''.join(missing)!r}, which is not in the game's character set "
            f"{list(character_set)!r}; name the characters that mark the player, or use "
            f"center_on=auto.")
    if not spatial:
        raise ConfigError("center_on needs a spatial game (spatial = true).")


# Fields whose change alters the network's shape (or, state_scaling, what its inputs
# mean): refused on a run with checkpoints.
SHAPE_FIELDS = ("n_layers", "layer_size", "first_conv_stride", "dueling", "center_on",
                "local_view", "view_radius", "layer_norm", "conv_width", "state_scaling")


def check_known(name: str, source: str = "hyperparameters") -> None:
    if name not in HYPERPARAMETER_FIELDS:
        raise ConfigError(
            f"Unknown hyperparameter '{name}' in {source}."
            f"{did_you_mean(name, HYPERPARAMETER_FIELDS)} "
            "Run 'retro-gamer create --help' to list them all."
        )


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _type_name(value: Any) -> str:
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string"}.get(
        type(value), f"a {type(value).__name__}"
    )


def field_kind(name: str) -> type:
    """The scalar type of a hyperparameter (int, float, bool or str)."""
    annotation = str(HYPERPARAMETER_FIELDS[name].type)
    for kind in (bool, int, float, str):
        if kind.__name__ in annotation:
            return kind
    raise AssertionError(f"unsupported annotation {annotation}")  # pragma: no cover


def describe_range(name: str) -> str:
    """Human wording of a field's allowed values, e.g. 'a number in (0, 1]'."""
    meta = HYPERPARAMETER_FIELDS[name].metadata
    kind = field_kind(name)
    if "choices" in meta:
        return "one of " + ", ".join(repr(c) for c in meta["choices"])
    if kind is bool:
        return "true or false"
    if kind is str:
        return "a string"
    noun = "an integer" if kind is int else "a number"
    if "lo" not in meta:
        return noun
    left = "(" if meta.get("lo_open") else "["
    return f"{noun} in {left}{meta['lo']}, {meta['hi']}]"


def check_value(name: str, value: Any) -> None:
    """Raise :class:`ConfigError` unless ``value`` has ``name``'s type and range."""
    meta = HYPERPARAMETER_FIELDS[name].metadata
    kind = field_kind(name)
    optional = "Optional" in str(HYPERPARAMETER_FIELDS[name].type)
    if value is None and optional:
        return
    type_ok = (
        isinstance(value, bool) if kind is bool
        else _is_int(value) if kind is int
        else (_is_int(value) or isinstance(value, float)) if kind is float
        else isinstance(value, str)
    )
    allowed = describe_range(name)
    if not type_ok:
        raise ConfigError(
            f"{name} must be {allowed}, got {value!r} ({_type_name(value)})."
        )
    if kind is float and not math.isfinite(value):
        raise ConfigError(f"{name} must be {allowed}, got {value!r}.")
    if "choices" in meta and value not in meta["choices"]:
        hint = did_you_mean(value, meta["choices"])
        raise ConfigError(f"{name} must be {allowed}, got {value!r}.{hint}")
    if "pattern" in meta and not re.fullmatch(meta["pattern"], value):
        raise ConfigError(
            f"{name} must be one of 'auto', 'cpu', 'cuda', 'cuda:N', 'mps', got {value!r}.")
    if "lo" in meta:
        lo, hi = meta["lo"], meta["hi"]
        below = value <= lo if meta.get("lo_open") else value < lo
        if below or value > hi:
            raise ConfigError(f"{name} must be {allowed}, got {value!r}.")
