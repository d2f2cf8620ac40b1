"""A count-based novelty bonus: boards not seen yet this episode are worth more than repeats.

With epsilon-greedy exploration alone, a game whose only reward is rare (one coin on
a large board) may never pay out: the random turns wander back and forth near the
start, and the greedy ones settle into a loop. A novelty bonus rewards the agent for
going where it has not been, so that it covers the board and meets the reward
(count-based exploration: Bellemare et al., 2016, "Unifying Count-Based Exploration
and Intrinsic Motivation"; Tang et al., 2017, "#Exploration"), with the bonus
``scale / sqrt(n)`` for a board seen for the ``n``-th time.

Two choices differ from those papers, each for a reason measured on small games:

* The counts are *episodic*, as in the episodic memory of Never Give Up (Badia et
  al., 2020): they start afresh with each episode. A game whose board is drawn anew
  each episode (a coin at a random cell) would otherwise make almost every board new
  for ever, a constant bonus that drives nothing; within one episode a revisited
  board is exactly a step back the way the player came.
* The bonus is shifted down by ``scale``: ``scale * (1 / sqrt(n) - 1)``, 0 for a board
  new this episode and falling towards ``-scale`` as it repeats. Unshifted, standing
  still still earns a positive (if shrinking) reward, and a greedy agent whose first
  choice was to stand learns to value standing and never tries the move it has not
  made; shifted, a repeat costs and the untried move (valued near 0 by a fresh network)
  wins, as with optimistic initial values (Sutton & Barto, 2018, section 2.6). On a
  7-cell corridor with no random turns (tests/test_exploration.py) the shifted bonus
  reached the goal in every seed, the unshifted one in the same two of four seeds as no
  bonus at all. A game whose boards never repeat (Snake: the body moves) gets 0 every
  turn: nothing changes.

Boards are counted exactly (the compact board's bytes), which suits retro-games' small
discrete boards. The bonus is added to the reward the agent learns from, after reward
scaling (so ``scale`` is in units of the game's largest reward), never to the score that
is logged or evaluated. It needs no checkpoint state: an episode's counts end with it.
"""

from __future__ import annotations

import math

import numpy as np


class EpisodicNoveltyBonus:
    """``scale * (1 / sqrt(n) - 1)`` for the ``n``-th sight of a board within the episode.

    :meth:`reset` at each episode's start; :meth:`bonus` once per turn with the board
    the turn led to (any ``numpy`` array; counted by its exact bytes, shape included).
    """

    def __init__(self, scale: float):
        if not scale > 0:
            raise ValueError(f"the novelty bonus's scale must be positive, not {scale}")
        self.scale = float(scale)
        self._counts: dict[bytes, int] = {}

    def reset(self) -> None:
        """Forget the boards seen: a new episode starts."""
        self._counts.clear()

    def bonus(self, board: np.ndarray) -> float:
        """Count ``board`` as seen once more; return ``scale * (1 / sqrt(times seen) - 1)``
        (0 the first time, negative after)."""
        key = board.tobytes() + repr(board.shape).encode()
        n = self._counts.get(key, 0) + 1
        self._counts[key] = n
        return self.scale * (1.0 / math.sqrt(n) - 1.0)


__all__ = ["EpisodicNoveltyBonus"]
