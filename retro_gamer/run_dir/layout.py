"""Where each file of a run directory lives: the names, and the paths built from them.

No other code joins a name onto a run folder; it asks :class:`Layout`. Reading
and writing the files is the business of the sibling modules.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from retro_gamer.errors import shell_path  # noqa: F401 -- still importable from here

CONFIG_NAME = "config.toml"
LOCK_NAME = ".retro-gamer.lock"
LOG_NAME = "training.log"
METRICS_NAME = "metrics.csv"  # training.log's episode lines as a table
EVALUATIONS_NAME = "evaluations.csv"  # and its evaluations during training
CHECKPOINT_DIR = "checkpoints"
REPLAY_DIR = "replay"
TENSORBOARD_DIR = "tensorboard"
RESULT_NAME = "result.json"
SWEEPS_DIR = "sweeps"
SWEEP_SUMMARY_NAME = "sweep.json"
EVAL_DIR = "eval"
PLOT_NAME = "curve.png"
COMPARISON_PLOT_NAME = "comparison.png"
CHECKPOINT_NAME = re.compile(r"^(ep_(\d+)|final)\.pt$")
BEST_NAME = "best"  # checkpoints/best.pt; not in CHECKPOINT_NAME, so never 'latest'
REPLAY_SUFFIX = ".replay.pt"


def replay_name(checkpoint: Path) -> str:
    """``ep_0100.replay.pt`` for ``ep_0100.pt``: a replay file is named after its checkpoint."""
    return checkpoint.stem + REPLAY_SUFFIX


def replay_owner(replay: Path) -> str:
    """The checkpoint's file name a replay file belongs to (``ep_0100.pt``)."""
    return replay.name[: -len(REPLAY_SUFFIX)] + ".pt"


@dataclass(frozen=True)
class Layout:
    """The paths of one run directory (nothing is touched on disk)."""

    path: Path

    @property
    def config_path(self) -> Path:
        return self.path / CONFIG_NAME

    @property
    def lock_path(self) -> Path:
        return self.path / LOCK_NAME

    @property
    def log_path(self) -> Path:
        return self.path / LOG_NAME

    @property
    def metrics_path(self) -> Path:
        return self.path / METRICS_NAME

    @property
    def evaluations_csv_path(self) -> Path:
        return self.path / EVALUATIONS_NAME

    @property
    def checkpoint_dir(self) -> Path:
        return self.path / CHECKPOINT_DIR

    @property
    def replay_dir(self) -> Path:
        """``replay/``: the replay buffer saved with the newest checkpoint (exact resume)."""
        return self.path / REPLAY_DIR

    @property
    def tensorboard_dir(self) -> Path:
        return self.path / TENSORBOARD_DIR

    @property
    def eval_dir(self) -> Path:
        return self.path / EVAL_DIR

    @property
    def sweeps_dir(self) -> Path:
        return self.path / SWEEPS_DIR

    @property
    def result_path(self) -> Path:
        return self.path / RESULT_NAME

    @property
    def plot_path(self) -> Path:
        return self.path / PLOT_NAME

    @property
    def written_folders(self) -> tuple[Path, ...]:
        """Sub-folders retro-gamer creates and deletes files in (so never through a link)."""
        return (self.checkpoint_dir, self.replay_dir, self.eval_dir, self.tensorboard_dir,
                self.sweeps_dir)

    def checkpoint_file(self, episode: int | None) -> Path:
        """``checkpoints/ep_NNNN.pt``, or ``final.pt`` for ``None``."""
        name = "final.pt" if episode is None else f"ep_{episode:04d}.pt"
        return self.checkpoint_dir / name

    @property
    def best_checkpoint(self) -> Path:
        return self.checkpoint_dir / f"{BEST_NAME}.pt"

    def replay_file(self, checkpoint: Path) -> Path:
        """Where the replay buffer saved with ``checkpoint`` goes: ``replay/NAME.replay.pt``."""
        return self.replay_dir / replay_name(checkpoint)

    def eval_path(self, checkpoint: str) -> Path:
        """``eval/<checkpoint>.json``: the record of ``retro-gamer eval`` on that checkpoint."""
        name = Path(checkpoint).name
        name = name[:-3] if name.endswith(".pt") else name
        return self.eval_dir / f"{name or 'checkpoint'}.json"


def replay_candidates(checkpoint: Path) -> list[Path]:
    """Where the replay buffer of ``checkpoint`` may be, in the order it is looked for.

    A checkpoint in a run's ``checkpoints/`` has its buffer in the run's ``replay/``;
    runs made before that folder existed kept it beside the checkpoint
    (``checkpoints/ep_NNNN.replay.pt``), and so does a checkpoint copied elsewhere.
    """
    beside = checkpoint.with_name(replay_name(checkpoint))
    if checkpoint.parent.name == CHECKPOINT_DIR:
        return [Layout(checkpoint.parent.parent).replay_file(checkpoint), beside]
    return [beside]
