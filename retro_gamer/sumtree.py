"""A sum-tree: priorities whose prefix sums can be searched in O(log n).

The backbone of prioritized experience replay (Schaul et al., 2016,
"Prioritized Experience Replay", section 3.3). Leaves hold priorities; every
inner node holds the sum of its two children, so the root is the total and a
value ``v`` in ``[0, total)`` can be traced down to the leaf whose cumulative
range contains it. Updates and searches take numpy arrays of indices, one
vectorised step per tree level, so a batch costs O(batch * log n) with no
Python loop over the batch.
"""

from __future__ import annotations

import numpy as np


class SumTree:
    def __init__(self, capacity: int):
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.capacity = capacity
        # Leaves start at index ``self.leaves`` (a power of two); node i has children 2i, 2i+1.
        self.leaves = 1 << max(0, (capacity - 1).bit_length())
        self.tree = np.zeros(2 * self.leaves, dtype=np.float64)

    @property
    def total(self) -> float:
        return float(self.tree[1])

    def __getitem__(self, indices) -> np.ndarray:
        return self.tree[np.asarray(indices) + self.leaves]

    def update(self, indices, priorities) -> None:
        """Set the priorities of leaves ``indices`` (later duplicates win) and fix the sums."""
        nodes = np.asarray(indices, dtype=np.int64) + self.leaves
        self.tree[nodes] = priorities
        nodes = np.unique(nodes) // 2
        while nodes.size and nodes[0] >= 1:
            self.tree[nodes] = self.tree[2 * nodes] + self.tree[2 * nodes + 1]
            if nodes[0] == 1:
                break
            nodes = np.unique(nodes // 2)

    def find(self, values) -> np.ndarray:
        """For each value in ``[0, total)``, the leaf whose cumulative range contains it."""
        values = np.array(values, dtype=np.float64)
        nodes = np.ones(values.shape, dtype=np.int64)
        for _ in range(self.leaves.bit_length() - 1):
            left = self.tree[2 * nodes]
            go_right = values >= left
            values = np.where(go_right, values - left, values)
            nodes = 2 * nodes + go_right
        leaves = nodes - self.leaves
        # Rounding can step onto an empty leaf at the far end; fall back to the last filled one.
        empty = self.tree[nodes] <= 0
        if np.any(empty):
            filled = np.flatnonzero(self.tree[self.leaves:self.leaves + self.capacity] > 0)
            leaves[empty] = filled[np.searchsorted(filled, leaves[empty]).clip(max=len(filled) - 1)]
        return leaves
