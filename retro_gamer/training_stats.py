"""What training reports while it runs: plain records, no torch.

:class:`EpisodeStats` and :class:`TurnStats` are what the trainer hands to its
``on_episode`` and ``on_turn`` callbacks. They live apart from the trainer so
that the progress display, the TensorBoard writer and ``retro-gamer info`` can
name them without importing torch (about a second and a half at start-up).
"""

from __future__ import annotations

from dataclasses import dataclass


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
