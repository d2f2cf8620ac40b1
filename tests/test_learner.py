"""The learning update (retro_gamer.learner) and the CPU numerics training runs under."""

from __future__ import annotations

import dataclasses
import hashlib
import math

import pytest
import torch
from gamekit import corridor_metadata, create_corridor

from retro_gamer.learner import munchausen_targets
from retro_gamer.numerics import count_subnormal, flushing_subnormals, subnormals_flushed
from retro_gamer.trainer import DQNTrainer


def train_corridor(run_dir, metadata=None, **overrides):
    settings = {"training_episodes": 40, "train_every": 1, "eval_every": 0, "eval_episodes": 0,
                "seed": 0, "layer_size": 32, "learning_rate": 0.01, "lr_decay": 1.0,
                "max_turns_per_episode": 50, **overrides}
    trainer = DQNTrainer(create_corridor, metadata or corridor_metadata(), run_dir, **settings)
    trainer.train()
    return trainer


def fingerprint(trainer: DQNTrainer) -> tuple[str, str]:
    """The training log's episode lines and the weights, hashed."""
    log = (trainer.run.path / "training.log").read_text().split("\n", 1)[1]
    weights = b"".join(p.detach().numpy().tobytes() for p in trainer.network.parameters())
    return hashlib.sha256(log.encode()).hexdigest(), hashlib.sha256(weights).hexdigest()


def test_no_optimizer_state_or_weight_is_left_subnormal_after_training(tmp_path):
    """Issue 23's fault: Adam's moments of a parameter that stops getting gradient sank
    into subnormal floats and stayed there (slow on x86). Before the fix this run left
    628 of its 3,270 moment entries subnormal."""
    trainer = train_corridor(tmp_path / "run")
    states = [t for s in trainer.optimizer.state.values() for t in s.values()
              if torch.is_tensor(t) and t.numel() > 1]
    assert count_subnormal(states)[0] == 0
    assert count_subnormal(trainer.network.parameters())[0] == 0


def test_training_leaves_the_threads_float_mode_as_it_was(tmp_path):
    assert not flushing_subnormals()
    train_corridor(tmp_path / "run", training_episodes=2)
    assert not flushing_subnormals()
    with subnormals_flushed():
        assert flushing_subnormals()
        train_corridor(tmp_path / "again", training_episodes=2)
        assert flushing_subnormals()
    assert not flushing_subnormals()


def test_a_game_without_declared_symmetries_learns_exactly_as_before(tmp_path):
    """symmetric_experience on a game that declares no mirror changes nothing (the random
    streams included), and a declaration changes nothing while the option is off."""
    plain = fingerprint(train_corridor(tmp_path / "plain", symmetric_experience=False))
    assert fingerprint(train_corridor(tmp_path / "on", symmetric_experience=True)) == plain
    declared = dataclasses.replace(corridor_metadata(), symmetries={
        "left-right": {"actions": [["KEY_LEFT", "KEY_RIGHT"]]}})
    assert fingerprint(train_corridor(tmp_path / "off", declared,
                                      symmetric_experience=False)) == plain
    # ... and on, it does learn from other transitions.
    assert fingerprint(train_corridor(tmp_path / "mirrored", declared,
                                      symmetric_experience=True)) != plain


def test_munchausen_targets_match_the_papers_formula():
    tau, alpha, gamma = 0.03, 0.9, 0.9
    q = torch.tensor([[1.0, 1.02, 0.5]])
    next_q = torch.tensor([[0.2, 0.1, 0.25]])
    reward, action = 0.5, 0
    got = munchausen_targets(torch.tensor([reward]), torch.tensor([0.0]), q,
                             torch.tensor([action]), next_q, gamma)

    def log_softmax(values):
        top = max(v / tau for v in values)
        total = sum(math.exp(v / tau - top) for v in values)
        return [v / tau - top - math.log(total) for v in values]

    bonus = alpha * tau * max(-1.0, min(0.0, log_softmax(q[0].tolist())[action]))
    next_log = log_softmax(next_q[0].tolist())
    soft = sum(math.exp(lp) * (v - tau * lp)
               for lp, v in zip(next_log, next_q[0].tolist(), strict=True))
    assert got.item() == pytest.approx(reward + bonus + gamma * soft, rel=1e-5)
    ended = munchausen_targets(torch.tensor([reward]), torch.tensor([1.0]), q,
                               torch.tensor([action]), next_q, gamma)
    assert ended.item() == pytest.approx(reward + bonus, rel=1e-5)  # no bootstrap past the end


@pytest.mark.parametrize("lever", [{"munchausen": True}, {"layer_norm": True}])
def test_each_lever_trains_and_resumes(tmp_path, lever):
    trainer = train_corridor(tmp_path / "run", training_episodes=4, checkpoint_every=2, **lever)
    assert trainer.episode == 4
    resumed = DQNTrainer(create_corridor, corridor_metadata(), tmp_path / "run",
                         training_episodes=6, **{k: v for k, v in trainer.hp.to_dict().items()
                                                 if k != "training_episodes"})
    resumed.train(resume="latest")
    assert resumed.episode == 6


def test_mirrored_samples_on_a_bounded_view_carry_the_summary_of_the_mirrored_board():
    """On a board larger than the view the replay stores each board's whole-board summary;
    a mirrored sample must carry its mirrored board's summary (the mirrored summary differs
    when the board does not split into whole blocks, as 37 columns do not)."""
    import numpy as np

    from retro_gamer.config import Hyperparameters
    from retro_gamer.learner import Learner
    from retro_gamer.networks import QNetwork
    from retro_gamer.replay import make_replay
    from retro_gamer.symmetry import SymmetryGroup

    signature = dict(n_channels=2, board_size=(37, 20), n_extras=0, n_actions=3, n_layers=1,
                     layer_size=8, spatial=True, first_conv_stride=2, center_codes=[1],
                     view_radius=4)
    network, target = QNetwork(**signature), QNetwork(**signature)
    assert network.summary_grid()[0]
    rng = np.random.default_rng(0)
    replay = make_replay(False, 100, (20, 37), network.summary_inputs(2), rng, 0.6, 0.4)
    for _ in range(64):
        board = np.zeros((20, 37), np.uint8)
        board[rng.integers(20), rng.integers(37)] = 1
        board[rng.integers(20), rng.integers(37)] = 2
        stored = network.with_summary(board, np.zeros(0, np.float32))
        replay.push(board, stored, 0, 1.0, board, stored, False)
    group = SymmetryGroup({"left-right": {"actions": [["L", "R"]]}}, ["L", "R"], {"@": 1,
                                                                                  "$": 2}, [])
    learner = Learner(network, target, Hyperparameters(batch_size=64), torch.device("cpu"),
                      group, rng)
    batch = learner._with_summaries(learner._to_device(
        group.transform_batch(replay.sample(64, 0.0), rng)))
    assert torch.equal(batch.extras, network.summary(batch.boards).flatten(1))
    assert torch.isfinite(learner.step(replay, 0.0))
