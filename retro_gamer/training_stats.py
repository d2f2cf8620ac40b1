"""What training reports while it runs: plain records, no torch.

:class:`EpisodeStats` and :class:`TurnStats` are what the trainer hands to its
``on_episode`` and ``on_turn`` callbacks. They live apart from the trainer so
that the progress display, the TensorBoard writer and ``retro-gamer info`` can
name them without importing torch (about a second and a half at start-up).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from retro_gamer.errors import TrainingDiverged


@dataclass
class EpisodeStats:
    """What one finished episode reports to the ``on_episode`` callback."""

    episode: int
    total_episodes: int
    total_reward: float
    steps: int
    epsilon: float
    avg_loss: float
    learning_rate: float
    env_steps: int
    train_steps: int
    elapsed: float  # seconds since this process started training
    evaluation: float | None = None  # greedy mean of the evaluation after it (eval_every)


@dataclass
class TurnStats:
    """Where the episode in progress stands, reported every ``TURN_REPORT_EVERY`` turns."""

    episode: int  # the episode being played
    total_episodes: int
    turn: int  # turns played in this episode so far
    env_steps: int
    train_steps: int
    elapsed: float  # seconds since this process started training


__all__ = ["EpisodeStats", "TurnStats"]


def mean_loss(loss_sum, n_losses: int, episode: int, run_path) -> float:
    """An episode's mean loss from ``loss_sum`` (a 0-d tensor: one device read per episode)
    over ``n_losses`` training steps; 0.0 when there were none.

    Raises :class:`~retro_gamer.errors.TrainingDiverged` when it is NaN or infinite: the
    network's weights are then lost, and training must stop before a checkpoint, an
    evaluation or a result records them.
    """
    loss = float(loss_sum.item()) / n_losses if n_losses else 0.0
    if not math.isfinite(loss):
        raise TrainingDiverged(episode, loss, run_path)
    return loss
