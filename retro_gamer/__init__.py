"""retro-gamer: train Deep Q-Network agents to play retro terminal games.

The learning core is importable as a library::

    from retro_gamer import GameMetadata, GameEnvironment, DQNTrainer
"""

from retro_gamer.config import GameMetadata, Hyperparameters
from retro_gamer.env import GameEnvironment
from retro_gamer.errors import RetroGamerError

__all__ = ["GameMetadata", "GameEnvironment", "Hyperparameters", "RetroGamerError"]
__version__ = "0.1.0"
