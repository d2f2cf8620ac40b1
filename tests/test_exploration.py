"""The count-based novelty bonus (retro_gamer.exploration, hyperparameter novelty_bonus)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from test_learner import fingerprint, train_corridor

from retro_gamer.exploration import EpisodicNoveltyBonus


def test_a_new_board_costs_nothing_and_each_repeat_costs_more_until_the_episode_ends():
    bonus = EpisodicNoveltyBonus(0.5)
    here, there = np.zeros((2, 3), np.uint8), np.eye(2, 3, dtype=np.uint8)
    assert bonus.bonus(here) == 0.0
    assert bonus.bonus(there) == 0.0
    assert bonus.bonus(here) == pytest.approx(0.5 * (1 / math.sqrt(2) - 1))
    assert bonus.bonus(here) == pytest.approx(0.5 * (1 / math.sqrt(3) - 1))
    # The same bytes in another shape are another board.
    assert bonus.bonus(here.reshape(3, 2)) == 0.0
    bonus.reset()
    assert bonus.bonus(here) == 0.0


def test_off_it_changes_nothing_and_on_it_changes_what_is_learned(tmp_path):
    plain = fingerprint(train_corridor(tmp_path / "plain"))
    assert fingerprint(train_corridor(tmp_path / "off", novelty_bonus=0.0)) == plain
    on = fingerprint(train_corridor(tmp_path / "on", novelty_bonus=0.1))
    assert on[1] != plain[1]


def test_the_bonus_is_learned_from_but_never_logged_as_score(tmp_path):
    trainer = train_corridor(tmp_path / "run", novelty_bonus=0.25, n_step=1,
                             training_episodes=3, learning_starts=10_000)
    # The corridor scores 10 (scaled to 1) at the goal and nothing else: every stored
    # reward beyond those is the bonus, 0.25 * (1 / sqrt(n) - 1).
    stored = trainer.replay.rewards[:len(trainer.replay)].astype(float)
    bonuses = np.array([0.25 * (1 / math.sqrt(n) - 1) for n in range(1, 60)])
    assert all(min(np.abs(bonuses - value).min(), np.abs(bonuses + 1 - value).min()) < 1e-6
               for value in stored)
    assert stored.min() < -0.1  # standing against the wall repeats a board
    returns = [line.split("total_reward=")[1].split()[0]
               for line in (trainer.run.path / "training.log").read_text().splitlines()
               if line.startswith("[EP")]
    assert {float(r) for r in returns} <= {0.0, 10.0}


def reaches_the_goal(run_dir, seed: int, novelty_bonus: float) -> bool:
    """Train the corridor with no random turn at all; did any episode reach the goal?"""
    trainer = train_corridor(run_dir, seed=seed, epsilon=0.0, epsilon_min=0.0,
                             novelty_bonus=novelty_bonus, training_episodes=30,
                             learning_starts=64, batch_size=32)
    return "total_reward=10.0" in (trainer.run.path / "training.log").read_text()


def test_with_no_random_turns_the_bonus_alone_leads_to_the_goal(tmp_path):
    """epsilon 0: the agent acts only greedily, so a fresh network that prefers standing
    (or walking into the left wall) never sees the goal at the corridor's far end. With the
    bonus, a repeated board costs, the untried move wins, and every seed gets there."""
    seeds = range(4)
    assert all(reaches_the_goal(tmp_path / f"on{seed}", seed, 0.5) for seed in seeds)
    # Without it some seed never does: the bonus is what found the goal above.
    assert not all(reaches_the_goal(tmp_path / f"off{seed}", seed, 0.0) for seed in seeds)
