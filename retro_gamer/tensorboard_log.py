"""Per-episode scalars as TensorBoard event files (``tensorboard = true``).

Needs the optional extra ``pip install -e '.[tensorboard]'``. Each run
writes into its own ``RUN_DIR/tensorboard/``, so pointing TensorBoard at a
sweep folder (``tensorboard --logdir RUN_DIR/sweeps/<timestamp>``) shows every
job side by side.
"""

from __future__ import annotations

from pathlib import Path

from retro_gamer.errors import ConfigError
from retro_gamer.training_stats import EpisodeStats

SCALARS = ("return", "steps", "epsilon", "loss", "learning_rate")


class TensorBoardLogger:
    """An ``on_episode`` callback writing one point per scalar per episode."""

    def __init__(self, folder: Path):
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            raise ConfigError(
                "tensorboard = true needs the tensorboard package: "
                "pip install -e '.[tensorboard]' in retro-gamer's source folder (or set "
                "tensorboard = false)."
            ) from None
        self.writer = SummaryWriter(log_dir=str(folder))

    def __call__(self, stats: EpisodeStats) -> None:
        values = {"return": stats.total_reward, "steps": stats.steps,
                  "epsilon": stats.epsilon, "loss": stats.avg_loss,
                  "learning_rate": stats.learning_rate}
        for name in SCALARS:
            self.writer.add_scalar(f"episode/{name}", values[name], stats.episode)
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()
