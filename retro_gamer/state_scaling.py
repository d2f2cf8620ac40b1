"""What the network sees of a game's observed state values: standardised, not raw.

A game's ``observe_state`` values arrive in the game's own units: the suite's thermostat
reports 5-35 degrees, a game of the same kind might report 1,000 kelvin or a score in
the thousands. Every other input of the Q-network is 0 or 1 (the one-hot board, the
whole-board summary), and a network learns slowly, or not at all, from an input that is
large or far from zero: the first layer's pre-activations are dominated by the offset,
and a threshold such as "colder than 1,000" needs a bias a thousand times a weight,
which Adam's steps of about ``learning_rate`` each take thousands of steps to reach.
Inputs should have mean zero and comparable variances (LeCun, Bottou, Orr & Mueller,
1998, "Efficient BackProp", section 4.3).

:class:`StateScaler` keeps the mean and variance of each observed value over every turn
training has played, and the network standardises its inputs with them,
``clip((x - mean) / sqrt(variance + EPSILON), -CLIP, CLIP)``
(:meth:`~retro_gamer.networks.QNetwork.q_values`). This is how Stable-Baselines3's
``VecNormalize`` (and OpenAI Baselines' before it) normalises observations, with their
epsilon (1e-8) and clip (10).

The statistics are Welford's (1962, "Note on a method for calculating corrected sums of
squares and products", Technometrics 4(3); Knuth, TAOCP vol. 2, 4.2.2): an exact,
numerically stable running mean and sum of squared deviations, one turn at a time, in
64-bit floats. They are cumulative rather than a fixed-decay (exponential) average on
purpose:

* they settle: after ``n`` turns one more moves the mean by ``1/n`` of its deviation, so
  the input scale the network has learned on stops drifting, and transitions replayed
  from long ago are standardised almost as when they were first learned from;
* a decaying average follows the recent policy's states: an agent that learns to hold
  the temperature in a narrow band would shrink the variance, and the same temperatures
  would reach the network ever larger as it improved.

The replay buffer keeps the game's raw values; the network standardises whatever it is
given (its ``state_mean`` and ``state_std`` buffers), so training, greedy play,
evaluation and ``play --explain`` all see exactly the same inputs, and a mirror of
symmetric experience negates the raw value before it is standardised. The statistics
are saved in every checkpoint (:meth:`state_dict`) so that a resumed run continues
bit-exactly.
"""

from __future__ import annotations

import math

import numpy as np

EPSILON = 1e-8  # added to the variance: a value that never changed standardises to 0
CLIP = 10.0  # standardised values are clipped to [-CLIP, CLIP]: one outlier stays bounded


class StateScaler:
    """Running mean and variance (Welford, 1962) of ``n`` observed state values.

    :meth:`observe` takes one turn's values (shape ``(n,)``, the game's units);
    :meth:`statistics` gives the ``(mean, std)`` the network standardises with
    (float32, shape ``(n,)``): before any value is seen, 0 and 1 (values pass unchanged).
    """

    def __init__(self, n: int):
        self.count = 0
        self.mean = np.zeros(n, dtype=np.float64)
        self.squares = np.zeros(n, dtype=np.float64)  # sum of squared deviations (Welford's M2)

    def observe(self, values: np.ndarray) -> None:
        """Add one turn's values to the statistics (Welford's update)."""
        values = np.asarray(values, dtype=np.float64)
        self.count += 1
        delta = values - self.mean
        self.mean += delta / self.count
        self.squares += delta * (values - self.mean)

    @property
    def variance(self) -> np.ndarray:
        """The population variance of the values seen (zeros before any)."""
        return self.squares / self.count if self.count else np.zeros_like(self.squares)

    def statistics(self) -> tuple[np.ndarray, np.ndarray]:
        """``(mean, std)`` as float32 arrays: ``x`` reaches the network as
        ``clip((x - mean) / std, -CLIP, CLIP)``."""
        if not self.count:
            return (np.zeros_like(self.mean, dtype=np.float32),
                    np.ones_like(self.mean, dtype=np.float32))
        return (self.mean.astype(np.float32),
                np.sqrt(self.variance + EPSILON).astype(np.float32))

    def state_dict(self) -> dict:
        """Everything :meth:`load_state_dict` needs to continue exactly (plain Python
        numbers: 64-bit floats survive a checkpoint bit for bit)."""
        return {"count": self.count, "mean": self.mean.tolist(),
                "squares": self.squares.tolist()}

    def load_state_dict(self, state: dict) -> None:
        """Restore :meth:`state_dict`'s values; ``ValueError`` (or ``KeyError``,
        ``TypeError``) when they do not fit these ``n`` values."""
        count = int(state["count"])
        mean = np.array(state["mean"], dtype=np.float64)
        squares = np.array(state["squares"], dtype=np.float64)
        if count < 0 or mean.shape != self.mean.shape or squares.shape != self.mean.shape \
                or not all(math.isfinite(v) for v in [*mean, *squares]) \
                or (squares < 0).any():
            raise ValueError(f"observed-state statistics for {len(mean)} values, with count "
                             f"{count}; this run observes {len(self.mean)}")
        self.count, self.mean, self.squares = count, mean, squares


def standardise(extras, mean, std):
    """``clip((extras - mean) / std, -CLIP, CLIP)`` for torch tensors: ``extras`` of
    shape ``(B, n)``, ``mean`` and ``std`` of shape ``(n,)``."""
    return ((extras - mean) / std).clamp(-CLIP, CLIP)


__all__ = ["CLIP", "EPSILON", "StateScaler", "standardise"]
