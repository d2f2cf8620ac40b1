"""Experience replay: a preallocated ring of compact transitions, uniform or prioritized."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch

from retro_gamer.sumtree import SumTree


class Batch(NamedTuple):
    """A sample of transitions, as numpy arrays of ``batch_size`` rows."""

    boards: np.ndarray  # (B, H, W) uint8 character indices
    extras: np.ndarray  # (B, K) float32 observed state values
    actions: np.ndarray  # (B,) int64
    rewards: np.ndarray  # (B,) float32
    next_boards: np.ndarray
    next_extras: np.ndarray
    dones: np.ndarray  # (B,) float32, 1.0 where the game ended (no bootstrap)
    weights: np.ndarray  # (B,) float32 importance-sampling weights (ones when uniform)
    indices: np.ndarray  # (B,) int64 slots, for priority updates


class ReplayBuffer:
    """A ring buffer of ``capacity`` transitions with O(1) push and O(batch) sampling.

    Everything is preallocated numpy storage (as in Stable-Baselines3's
    buffers): boards take one byte per cell, so 10,000 Snake transitions are
    about 10 MB rather than the 250 MB of float one-hot copies.
    """

    FIELDS = ("boards", "extras", "actions", "rewards", "next_boards", "next_extras", "dones")

    def __init__(self, capacity: int, board_shape: tuple[int, int], n_extras: int,
                 rng: np.random.Generator):
        self.capacity = capacity
        self.rng = rng
        self.boards = np.zeros((capacity, *board_shape), dtype=np.uint8)
        self.next_boards = np.zeros_like(self.boards)
        self.extras = np.zeros((capacity, n_extras), dtype=np.float32)
        self.next_extras = np.zeros_like(self.extras)
        self.actions = np.zeros(capacity, dtype=np.int64)
        self.rewards = np.zeros(capacity, dtype=np.float32)
        self.dones = np.zeros(capacity, dtype=np.float32)
        self.position = 0  # next slot to write
        self.size = 0

    def __len__(self) -> int:
        return self.size

    def push(self, board, extras, action: int, reward: float, next_board, next_extras,
             done: bool) -> int:
        """Store one transition, overwriting the oldest when full; return its slot."""
        i = self.position
        self.boards[i] = board
        self.extras[i] = extras
        self.actions[i] = action
        self.rewards[i] = reward
        self.next_boards[i] = next_board
        self.next_extras[i] = next_extras
        self.dones[i] = done
        self.position = (i + 1) % self.capacity
        self.size = min(self.size + 1, self.capacity)
        return i

    def rescale_rewards(self, factor: float) -> None:
        """Multiply every stored reward by ``factor`` (the reward scale changed)."""
        self.rewards[:self.size] *= factor

    def sample(self, batch_size: int, progress: float = 0.0) -> Batch:
        """Draw ``batch_size`` transitions uniformly (with replacement)."""
        indices = self.rng.integers(0, self.size, size=batch_size)
        return self._gather(indices, np.ones(batch_size, dtype=np.float32))

    def update_priorities(self, indices: np.ndarray, td_errors: np.ndarray) -> None:
        """Uniform replay ignores priorities."""

    def _gather(self, indices: np.ndarray, weights: np.ndarray) -> Batch:
        return Batch(*(getattr(self, name)[indices] for name in self.FIELDS), weights, indices)

    def state_dict(self) -> dict:
        """Arrays and counters, enough to restore the buffer exactly (used by checkpoints)."""
        n = self.size
        # Tensors, not numpy arrays: checkpoints are loaded with torch.load(weights_only=True).
        state = {name: torch.from_numpy(getattr(self, name)[:n].copy()) for name in self.FIELDS}
        state.update(position=self.position, size=self.size, capacity=self.capacity)
        return state

    def load_state_dict(self, state: dict) -> int:
        """Restore a saved buffer; return how many transitions were kept.

        A buffer saved with another capacity keeps its newest transitions, as many as
        fit (a larger buffer keeps them all).
        """
        if state["capacity"] == self.capacity:  # the saved slots as they were: exact resume
            order = np.arange(int(state["size"]))
            position = int(state["position"])
        else:
            order = self._chronological(state)[-self.capacity:]
            position = len(order) % self.capacity
        n = len(order)
        for name in self.FIELDS:
            getattr(self, name)[:n] = np.asarray(state[name])[order]
        self.position, self.size = position, n
        return n

    @staticmethod
    def _chronological(state: dict) -> np.ndarray:
        """Slots of a saved buffer from its oldest transition to its newest."""
        size, position = int(state["size"]), int(state["position"])
        if size < int(state["capacity"]):
            return np.arange(size)
        return np.concatenate([np.arange(position, size), np.arange(position)])


class PrioritizedReplayBuffer(ReplayBuffer):
    """Proportional prioritized replay (Schaul et al., 2016).

    A transition is drawn with probability ``p_i^alpha / sum_k p_k^alpha`` where
    ``p_i = |TD error| + eps``; new transitions get the largest priority seen so
    far, so each is replayed at least once soon. Importance-sampling weights
    ``(N * P(i))^-beta``, normalised by the batch's largest, correct the bias;
    ``beta`` is annealed from its initial value to 1 over training (``progress``).
    """

    EPSILON = 1e-3

    def __init__(self, capacity: int, board_shape: tuple[int, int], n_extras: int,
                 rng: np.random.Generator, alpha: float = 0.6, beta: float = 0.4):
        super().__init__(capacity, board_shape, n_extras, rng)
        self.alpha, self.beta = alpha, beta
        self.tree = SumTree(capacity)
        self.max_priority = 1.0

    def push(self, *transition) -> int:
        i = super().push(*transition)
        self.tree.update([i], [self.max_priority ** self.alpha])
        return i

    def sample(self, batch_size: int, progress: float = 0.0) -> Batch:
        total = self.tree.total
        # Stratified: one draw from each of batch_size equal slices of the total mass.
        bounds = np.arange(batch_size) * (total / batch_size)
        values = bounds + self.rng.random(batch_size) * (total / batch_size)
        indices = self.tree.find(np.minimum(values, np.nextafter(total, 0)))
        probabilities = self.tree[indices] / total
        beta = self.beta + (1.0 - self.beta) * min(max(progress, 0.0), 1.0)
        weights = (self.size * probabilities) ** -beta
        return self._gather(indices, (weights / weights.max()).astype(np.float32))

    def update_priorities(self, indices: np.ndarray, td_errors: np.ndarray) -> None:
        priorities = np.abs(td_errors) + self.EPSILON
        self.max_priority = max(self.max_priority, float(priorities.max()))
        self.tree.update(indices, priorities ** self.alpha)

    def state_dict(self) -> dict:
        state = super().state_dict()
        state.update(priorities=torch.from_numpy(self.tree[np.arange(self.size)].copy()),
                     max_priority=self.max_priority)
        return state

    def load_state_dict(self, state: dict) -> int:
        n = super().load_state_dict(state)
        priorities = np.asarray(state["priorities"])
        if state["capacity"] != self.capacity:
            priorities = priorities[self._chronological(state)][-n:] if n else priorities[:0]
        self.tree = SumTree(self.capacity)
        self.tree.update(np.arange(n), priorities[:n])
        self.max_priority = float(state["max_priority"])
        return n


def make_replay(prioritized: bool, capacity: int, board_shape: tuple[int, int], n_extras: int,
                rng: np.random.Generator, alpha: float, beta: float) -> ReplayBuffer:
    if prioritized:
        return PrioritizedReplayBuffer(capacity, board_shape, n_extras, rng, alpha, beta)
    return ReplayBuffer(capacity, board_shape, n_extras, rng)
