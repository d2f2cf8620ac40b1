"""What the agent learns from a game's rewards: clipped, scaled, or as they are.

Clipping each reward to ``[-1, 1]`` (Mnih et al., 2015) lets one learning rate
serve games whose scores differ by orders of magnitude, but it erases the
difference between rewards that both clip to the same value: a turn that costs 1
and one that costs 5 look alike. Van Hasselt et al. (2016, "Learning values
across many orders of magnitude", PopArt) keep those differences by dividing the
TD targets by an adaptive estimate of their scale instead. :class:`RewardScaler`
is the simplest scale of that kind: the largest reward magnitude seen so far.

* It keeps every ratio between rewards (``-1`` stays a fifth of ``-5``).
* On a game whose rewards have one magnitude (Snake's ``score``: +50 an apple)
  it gives exactly what clipping to 1 gives (+1 an apple).
* It only grows, so it settles after the largest reward has been seen once and
  needs one number of state, saved in every checkpoint (resume stays exact).
* Unlike PopArt it does not rescale the network's outputs when the scale grows;
  the Q-values catch up through the ordinary TD updates. A single rare reward far
  larger than the others shrinks them all; ``reward_clip`` bounds such outliers.

Rewards are stored already divided by the scale. When the scale grows, every
stored reward (the replay buffer's, the n-step queue's) is multiplied by
``old / new`` scale, so the whole buffer is always on one scale; and on a game
with one reward size the stored values are exactly those of clipping to 1.
"""

from __future__ import annotations

import math


class RewardScaler:
    """Clips (``clip > 0``) and scales (``scaling``) rewards for learning.

    :meth:`observe` takes each turn's game reward (a float, any unit) and returns
    the value the agent learns from: the reward, clipped to ``[-clip, clip]`` if
    asked, divided by :attr:`scale`, the largest ``|clipped reward|`` seen so far
    (1.0 before any non-zero reward, or with ``scaling`` off).
    """

    def __init__(self, clip: float = 0.0, scaling: bool = True):
        self.clip = float(clip)
        self.scaling = bool(scaling)
        self.max_magnitude = 0.0
        # Per sign, the smallest and largest game reward that clipping cut to the bound:
        # two different ones mean clipping erased a difference the game makes.
        self._clipped: dict[int, tuple[float, float]] = {}
        self.warned = False

    @property
    def scale(self) -> float:
        if not self.scaling or self.max_magnitude == 0.0:
            return 1.0
        return self.max_magnitude

    def observe(self, reward: float) -> tuple[float, float]:
        """Record one turn's game reward; return ``(learned, rescale)``.

        ``learned`` is the value to store. ``rescale`` is 1.0, or, when this reward
        raised the scale, ``old / new`` scale: the factor by which every reward
        stored before must be multiplied to stay on the same scale.
        """
        clipped = reward
        if self.clip and abs(reward) >= self.clip:
            clipped = math.copysign(self.clip, reward)
            sign = 1 if reward > 0 else -1
            lo, hi = self._clipped.get(sign, (reward, reward))
            self._clipped[sign] = (min(lo, reward), max(hi, reward))
        rescale = 1.0
        if abs(clipped) > self.max_magnitude:
            if self.scaling and self.max_magnitude:
                rescale = self.max_magnitude / abs(clipped)
            self.max_magnitude = abs(clipped)
        return clipped / self.scale, rescale

    def clipping_warning(self) -> str | None:
        """A message, once, when clipping has made two different rewards look the same."""
        if self.warned:
            return None
        for lo, hi in self._clipped.values():
            if lo != hi:
                self.warned = True
                return (f"reward_clip = {self.clip:g} makes the game's rewards {lo:g} and "
                        f"{hi:g} look the same to the agent, so it cannot learn which is "
                        f"better. Train with reward_clip=0 (the default scales rewards "
                        f"instead, keeping their ratios) unless that is what you want.")
        return None

    def state_dict(self) -> dict:
        """Everything :meth:`load_state_dict` needs to continue exactly (plain floats)."""
        return {"max_magnitude": self.max_magnitude, "warned": self.warned,
                "clipped": {str(sign): list(bounds) for sign, bounds in self._clipped.items()}}

    def load_state_dict(self, state: dict) -> None:
        self.max_magnitude = float(state["max_magnitude"])
        self.warned = bool(state["warned"])
        self._clipped = {int(sign): (float(lo), float(hi))
                         for sign, (lo, hi) in state["clipped"].items()}
