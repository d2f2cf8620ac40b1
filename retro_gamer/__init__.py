"""retro-gamer: train Deep Q-Network agents to play retro terminal games.

The learning core is importable as a library::

    from retro_gamer import GameMetadata, GameEnvironment, DQNTrainer
"""

from retro_gamer.config import GameMetadata, Hyperparameters
from retro_gamer.errors import RetroGamerError

__all__ = ["DQNTrainer", "GameMetadata", "GameEnvironment", "Hyperparameters",
           "RetroGamerError"]
__version__ = "1.0.0.dev0"  # the same as pyproject.toml's (tests/test_install_docs.py)


def __getattr__(name: str):
    # DQNTrainer imports torch, GameEnvironment numpy and retro: loaded on first use so that
    # `import retro_gamer` (and the start-up of commands such as info and plot) stays cheap.
    if name == "DQNTrainer":
        from retro_gamer.trainer import DQNTrainer

        return DQNTrainer
    if name == "GameEnvironment":
        from retro_gamer.env import GameEnvironment

        return GameEnvironment
    raise AttributeError(f"module 'retro_gamer' has no attribute {name!r}")
