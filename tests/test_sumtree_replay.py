"""The sum-tree and the replay buffers, checked against plain numpy references."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from retro_gamer.replay import PrioritizedReplayBuffer, ReplayBuffer, make_replay
from retro_gamer.sumtree import SumTree

# ---------------------------------------------------------------------------- sum-tree


def reference_find(priorities: np.ndarray, values: np.ndarray) -> np.ndarray:
    """The leaf whose half-open cumulative range [c_{i-1}, c_i) contains each value."""
    return np.searchsorted(np.cumsum(priorities), values, side="right")


def assert_tree_consistent(tree: SumTree, priorities: np.ndarray) -> None:
    np.testing.assert_allclose(tree[np.arange(tree.capacity)], priorities)
    assert tree.total == pytest.approx(priorities.sum())
    inner = np.arange(1, tree.leaves)
    np.testing.assert_allclose(
        tree.tree[inner], tree.tree[2 * inner] + tree.tree[2 * inner + 1], rtol=1e-12
    )


@pytest.mark.parametrize("capacity", [1, 2, 5, 8, 37, 1000])
def test_sumtree_matches_numpy_on_random_updates(capacity):
    rng = np.random.default_rng(capacity)
    tree = SumTree(capacity)
    reference = np.zeros(capacity)
    for _ in range(60):
        size = int(rng.integers(1, max(2, capacity // 2) + 1))
        indices = rng.integers(0, capacity, size=size)
        # Whole numbers keep every partial sum exact, so boundaries can be tested too.
        priorities = rng.integers(0, 10, size=size).astype(float)
        tree.update(indices, priorities)
        for i, p in zip(indices, priorities, strict=True):  # a later duplicate wins, as in a loop
            reference[i] = p
        assert_tree_consistent(tree, reference)
        if reference.sum() == 0:
            continue
        values = rng.random(200) * reference.sum()
        np.testing.assert_array_equal(tree.find(values), reference_find(reference, values))


def test_sumtree_find_at_the_exact_boundaries():
    tree = SumTree(6)
    priorities = np.array([2.0, 0.0, 3.0, 1.0, 0.0, 4.0])
    tree.update(np.arange(6), priorities)
    assert tree.total == 10.0
    # [0,2) -> 0, [2,5) -> 2, [5,6) -> 3, [6,10) -> 5; empty leaves are never returned.
    values = [0.0, 1.999, 2.0, 4.999, 5.0, 5.5, 6.0, 9.999]
    assert tree.find(values).tolist() == [0, 0, 2, 2, 3, 3, 5, 5]


def test_sumtree_duplicate_indices_in_one_update_keep_the_last_priority():
    tree = SumTree(8)
    tree.update([3, 5, 3, 3], [1.0, 4.0, 7.0, 2.0])
    assert tree[3] == 2.0 and tree[5] == 4.0
    assert tree.total == 6.0
    tree.update([5, 5], [0.0, 0.5])
    assert tree.total == 2.5


@settings(max_examples=60, deadline=None)
@given(
    capacity=st.integers(min_value=1, max_value=70),
    updates=st.lists(
        st.lists(
            st.tuples(st.integers(min_value=0, max_value=10_000),
                      st.floats(min_value=0.0, max_value=1e3, allow_nan=False)),
            min_size=1, max_size=12,
        ),
        min_size=1, max_size=10,
    ),
    fractions=st.lists(st.floats(min_value=0.0, max_value=1.0, exclude_max=True),
                       min_size=1, max_size=20),
)
def test_sumtree_invariant_holds_after_any_updates(capacity, updates, fractions):
    tree = SumTree(capacity)
    reference = np.zeros(capacity)
    for batch in updates:
        indices = np.array([i % capacity for i, _ in batch])
        priorities = np.array([p for _, p in batch])
        tree.update(indices, priorities)
        for i, p in zip(indices, priorities, strict=True):
            reference[i] = p
        assert_tree_consistent(tree, reference)
    if tree.total > 0:
        leaves = tree.find(np.array(fractions) * tree.total)
        assert np.all((0 <= leaves) & (leaves < capacity))
        assert np.all(reference[leaves] > 0), "find() returned an empty leaf"


# ------------------------------------------------------------------------ replay buffers

BOARD = (3, 4)


def make(kind: str, capacity: int, seed: int = 0, **kwargs) -> ReplayBuffer:
    rng = np.random.default_rng(seed)
    if kind == "prioritized":
        return PrioritizedReplayBuffer(capacity, BOARD, 2, rng, **kwargs)
    return ReplayBuffer(capacity, BOARD, 2, rng)


def transition(i: int) -> tuple:
    """A transition whose every field encodes ``i`` (to check rows stay together)."""
    board = np.full(BOARD, i % 250, dtype=np.uint8)
    return (board, np.array([i, -i], dtype=np.float32), i % 5, float(i),
            (board + 1) % 251, np.array([i + 1, -i - 1], dtype=np.float32), i % 3 == 0)


def assert_rows_are_transitions(batch, allowed: set[int]) -> None:
    rewards = batch.rewards.astype(int)
    assert set(rewards.tolist()) <= allowed
    for row, i in enumerate(rewards):
        board, extras, action, reward, next_board, next_extras, done = transition(int(i))
        np.testing.assert_array_equal(batch.boards[row], board)
        np.testing.assert_array_equal(batch.extras[row], extras)
        assert batch.actions[row] == action
        np.testing.assert_array_equal(batch.next_boards[row], next_board)
        np.testing.assert_array_equal(batch.next_extras[row], next_extras)
        assert batch.dones[row] == float(done)


KINDS = ["uniform", "prioritized"]


@pytest.mark.parametrize("kind", KINDS)
def test_push_fills_then_overwrites_the_oldest(kind):
    buffer = make(kind, capacity=10)
    for i in range(7):
        buffer.push(*transition(i))
    assert len(buffer) == 7
    assert_rows_are_transitions(buffer.sample(64), set(range(7)))

    for i in range(7, 23):
        buffer.push(*transition(i))
    assert len(buffer) == 10  # capped
    assert sorted(buffer.rewards.astype(int).tolist()) == list(range(13, 23))
    batch = buffer.sample(200)
    assert_rows_are_transitions(batch, set(range(13, 23)))
    assert len(set(batch.rewards.tolist())) == 10  # every stored transition can come out


@pytest.mark.parametrize("kind", KINDS)
def test_batches_are_compact_uint8_boards(kind):
    buffer = make(kind, capacity=5)
    for i in range(5):
        buffer.push(*transition(i))
    batch = buffer.sample(8)
    assert buffer.boards.dtype == np.uint8 and buffer.boards.nbytes == 5 * 12
    assert batch.boards.dtype == np.uint8 and batch.boards.shape == (8, *BOARD)
    assert batch.next_boards.dtype == np.uint8
    assert batch.extras.dtype == np.float32 and batch.extras.shape == (8, 2)
    assert batch.actions.dtype == np.int64
    assert batch.weights.shape == (8,) and batch.indices.shape == (8,)
    assert_rows_are_transitions(batch, set(range(5)))
    if kind == "uniform":
        assert np.all(batch.weights == 1.0)


@pytest.mark.parametrize("kind", KINDS)
def test_make_replay_picks_the_kind(kind):
    buffer = make_replay(kind == "prioritized", 4, BOARD, 2, np.random.default_rng(0), 0.6, 0.4)
    assert isinstance(buffer, PrioritizedReplayBuffer) == (kind == "prioritized")
    assert buffer.capacity == 4 and len(buffer) == 0


def test_prioritized_sampling_is_proportional_to_priority():
    buffer = make("prioritized", capacity=4, seed=1, alpha=1.0, beta=0.4)
    for i in range(4):
        buffer.push(*transition(i))
    td = np.array([1.0, 1.0, 1.0, 7.0]) - PrioritizedReplayBuffer.EPSILON
    buffer.update_priorities(np.arange(4), td)  # priorities 1, 1, 1, 7

    counts = np.zeros(4)
    for _ in range(20):
        counts += np.bincount(buffer.sample(100).indices, minlength=4)
    frequencies = counts / counts.sum()
    np.testing.assert_allclose(frequencies, [0.1, 0.1, 0.1, 0.7], atol=0.03)


def test_priority_exponent_alpha_flattens_the_distribution():
    buffer = make("prioritized", capacity=2, seed=2, alpha=0.5)
    for i in range(2):
        buffer.push(*transition(i))
    buffer.update_priorities(np.array([0, 1]),
                             np.array([1.0, 9.0]) - PrioritizedReplayBuffer.EPSILON)
    counts = np.zeros(2)
    for _ in range(20):
        counts += np.bincount(buffer.sample(100).indices, minlength=2)
    assert counts[1] / counts.sum() == pytest.approx(0.75, abs=0.03)  # sqrt: 3 : 1


def test_importance_weights_are_at_most_one_and_favour_rare_items():
    buffer = make("prioritized", capacity=8, seed=3, alpha=1.0, beta=0.4)
    for i in range(8):
        buffer.push(*transition(i))
    td = np.array([1, 2, 3, 4, 5, 6, 7, 8], dtype=float) - PrioritizedReplayBuffer.EPSILON
    buffer.update_priorities(np.arange(8), td)

    batch = buffer.sample(64)
    assert np.all(batch.weights <= 1.0) and batch.weights.max() == pytest.approx(1.0)
    order = np.argsort(batch.indices, kind="stable")
    # a higher priority never gets a larger weight
    assert np.all(np.diff(batch.weights[order]) <= 1e-7)

    # At the end of training (progress 1) beta is 1: weights are exactly 1 / (N P(i)), normalised.
    batch = buffer.sample(64, progress=1.0)
    priorities = batch.indices + 1.0
    expected = (1.0 / priorities) / (1.0 / priorities).max()
    np.testing.assert_allclose(batch.weights, expected, rtol=1e-5)


def test_new_transitions_get_the_largest_priority_seen():
    buffer = make("prioritized", capacity=4, alpha=1.0)
    buffer.push(*transition(0))
    buffer.push(*transition(1))
    buffer.update_priorities(np.array([0, 1]), np.array([0.5, 6.0]))
    slot = buffer.push(*transition(2))
    assert buffer.tree[slot] == pytest.approx(6.0 + PrioritizedReplayBuffer.EPSILON)


def roundtrip(state: dict) -> dict:
    """Through a real torch file, loaded the way checkpoints are (data only)."""
    data = io.BytesIO()
    torch.save(state, data)
    data.seek(0)
    return torch.load(data, weights_only=True)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("pushed", [6, 17])  # partly full, and wrapped around
def test_state_dict_round_trip_restores_contents_and_priorities(kind, pushed):
    buffer = make(kind, capacity=10, seed=5)
    for i in range(pushed):
        buffer.push(*transition(i))
    if kind == "prioritized":
        buffer.update_priorities(np.arange(len(buffer)), np.linspace(0.1, 3.0, len(buffer)))

    restored = make(kind, capacity=10, seed=5)
    restored.load_state_dict(roundtrip(buffer.state_dict()))

    assert len(restored) == len(buffer) and restored.position == buffer.position
    for name in ReplayBuffer.FIELDS:
        np.testing.assert_array_equal(getattr(restored, name), getattr(buffer, name))
    if kind == "prioritized":
        np.testing.assert_array_equal(restored.tree.tree, buffer.tree.tree)
        assert restored.max_priority == buffer.max_priority
    # Same storage and same generator state: the next samples and pushes agree too.
    for a, b in zip(buffer.sample(32), restored.sample(32), strict=True):
        np.testing.assert_array_equal(a, b)
    assert buffer.push(*transition(99)) == restored.push(*transition(99))


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("pushed", [4, 17])  # partly full, and wrapped around
@pytest.mark.parametrize("capacity", [3, 40])  # memory_capacity made smaller, or larger
def test_a_buffer_saved_with_another_capacity_keeps_its_newest_transitions(kind, pushed,
                                                                             capacity):
    buffer = make(kind, capacity=10)
    for i in range(pushed):
        buffer.push(*transition(i))
    if kind == "prioritized":
        buffer.update_priorities(np.arange(len(buffer)), np.arange(len(buffer)) + 1.0)
    resized = make(kind, capacity=capacity)
    kept = resized.load_state_dict(roundtrip(buffer.state_dict()))
    expected = list(range(pushed))[-min(10, capacity):]
    assert kept == len(resized) == len(expected)
    assert resized.rewards[:kept].astype(int).tolist() == expected  # oldest first
    if kind == "prioritized":  # each transition keeps its own priority
        slots = {int(r): i for i, r in enumerate(buffer.rewards[:len(buffer)])}
        for j, reward in enumerate(expected):
            assert resized.tree[np.array([j])][0] == buffer.tree[np.array([slots[reward]])][0]
    assert resized.push(*transition(99)) == kept % capacity  # the next slot is the oldest's
