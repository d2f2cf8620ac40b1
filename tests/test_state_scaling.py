"""Observed state values on a scale the network can use (``state_scaling``).

The game here is the suite's thermostat kind with its temperature far from zero: a
heater whose temperature starts within 8 degrees of 1,000 and scores a point each turn
it ends within 1 degree of 1,000. Only an agent that reads the temperature scores well:
never pressing a key, or always the same one, scores 2-3 points a game; heating when
cold and cooling when warm, 12.
"""

from __future__ import annotations

import hashlib
import random
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import one_torch_thread
from gamekit import corridor_metadata, create_corridor, saved_before
from retro.game import Game

from retro_gamer import GameMetadata
from retro_gamer.agent import GreedyAgent
from retro_gamer.config import Hyperparameters
from retro_gamer.errors import CheckpointError, ConfigError
from retro_gamer.evaluation import evaluate_agent
from retro_gamer.run_dir import RunDirectory
from retro_gamer.state_scaling import StateScaler
from retro_gamer.trainer import DQNTrainer

TARGET = 1000  # the comfortable temperature, in the game's (large) units
SPREAD = 8  # a game starts up to this many degrees from TARGET
TURNS = 16


class Heater:
    """KEY_UP heats by one degree, KEY_DOWN cools by one; a turn that ends within one
    degree of TARGET scores a point."""

    name = "heater"
    character = "#"
    position = (0, 0)

    def __init__(self):
        self.heating = 0

    def handle_keystroke(self, keystroke, game):
        self.heating = {"KEY_UP": 1, "KEY_DOWN": -1}.get(keystroke.name, 0)

    def play_turn(self, game):
        game.state["temperature"] += self.heating
        self.heating = 0
        if abs(game.state["temperature"] - TARGET) <= 1:
            game.state["score"] += 1
        if game.turn_number >= TURNS:
            game.end()


def create_heater():
    temperature = TARGET + random.randint(-SPREAD, SPREAD)
    return Game([Heater()], {"score": 0, "temperature": temperature}, board_size=(1, 1))


def heater_metadata() -> GameMetadata:
    return GameMetadata(actions=["KEY_UP", "KEY_DOWN"], reward="score", character_set=["#"],
                        spatial=False, observe_state=["temperature"], module="hot_heater",
                        board_size=[1, 1])


# Small enough that a run of the heater costs a few CPU seconds.
SMALL = dict(n_layers=1, layer_size=32, batch_size=32, memory_capacity=2000,
             max_turns_per_episode=TURNS, train_every=1, epsilon_decay=0.93, lr_decay=1.0,
             learning_rate=0.003, target_update_freq=50, gamma=0.9, eval_every=0,
             eval_episodes=0, device="cpu")


@pytest.fixture(autouse=True)
def _one_torch_thread():
    with one_torch_thread():
        yield


def heater_trainer(run_dir, **hyper) -> DQNTrainer:
    return DQNTrainer(create_heater, heater_metadata(), run_dir, **{**SMALL, **hyper})


def greedy_mean(run_dir: Path, checkpoint: str = "final", games: int = 50) -> float:
    """The greedy agent of ``run_dir``'s checkpoint, as ``play`` and ``eval`` load it."""
    agent = GreedyAgent.from_checkpoint(RunDirectory(run_dir), checkpoint)
    return evaluate_agent(agent, create_heater, games, TURNS, seed=123).mean


def episode_lines(run_dir: Path) -> list[str]:
    text = (Path(run_dir) / "training.log").read_text(encoding="utf-8")
    return [line for line in text.splitlines() if line.startswith("[EP ")]


def fingerprint(run_dir: Path) -> tuple[str, str]:
    """The training log's episode lines and the final weights, hashed."""
    state = torch.load(Path(run_dir) / "checkpoints" / "final.pt", weights_only=True)
    weights = b"".join(state["model"][k].numpy().tobytes() for k in sorted(state["model"]))
    return (hashlib.sha256("\n".join(episode_lines(run_dir)).encode()).hexdigest()[:16],
            hashlib.sha256(weights).hexdigest()[:16])


# --------------------------------------------------------------------- the statistics


def test_running_statistics_are_the_mean_and_variance_of_every_value_seen():
    rng = np.random.default_rng(0)
    values = rng.normal([1000.0, -3.0], [8.0, 0.01], size=(500, 2))
    scaler = StateScaler(2)
    for row in values:
        scaler.observe(row)
    assert scaler.count == 500
    np.testing.assert_allclose(scaler.mean, values.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(scaler.variance, values.var(axis=0), rtol=1e-9)
    mean, std = scaler.statistics()
    assert mean.dtype == std.dtype == np.float32
    # A copy restored from the saved state continues exactly.
    copy = StateScaler(2)
    copy.load_state_dict(scaler.state_dict())
    for scaler_ in (scaler, copy):
        scaler_.observe(np.array([990.0, -2.0]))
    assert copy.state_dict() == scaler.state_dict()
    with pytest.raises(ValueError):
        StateScaler(3).load_state_dict(scaler.state_dict())


def test_before_any_value_the_statistics_pass_values_unchanged():
    mean, std = StateScaler(1).statistics()
    assert mean.tolist() == [0.0] and std.tolist() == [1.0]


# ------------------------------------------------------------------------ learning


def test_a_temperature_near_1000_is_learned_with_state_scaling_and_not_without(tmp_path):
    """The thermostat kind on a large scale: standardised, the agent learns to steer to
    the target in 60 short games; fed raw, it does not."""
    heater_trainer(tmp_path / "scaled", training_episodes=60, seed=0).train()
    heater_trainer(tmp_path / "raw", training_episodes=60, seed=0, state_scaling=False).train()
    scaled, raw = greedy_mean(tmp_path / "scaled"), greedy_mean(tmp_path / "raw")
    # Measured: 8.24 scaled, 1.18 raw (random play: 1.76; the best policy about 12).
    assert scaled >= 6.0, (scaled, raw)
    assert raw <= 3.0, (scaled, raw)


def test_the_network_standardises_the_values_it_is_given_by_the_saved_statistics(tmp_path):
    heater_trainer(tmp_path / "run", training_episodes=3, seed=1).train()
    state = torch.load(tmp_path / "run" / "checkpoints" / "final.pt", weights_only=True)
    saved = state["observed_state"]
    assert saved["count"] == 3 * (TURNS + 1)  # every board seen: each game's first, each turn
    assert abs(saved["mean"][0] - TARGET) < 2 * SPREAD
    agent = GreedyAgent.from_checkpoint(RunDirectory(tmp_path / "run"))
    network = agent.network
    assert network.scales_state
    assert network.state_mean.item() == np.float32(saved["mean"][0])
    # Any numeric kind enters as the network's floats: float64 or integer values give the
    # float32 answer.
    board = torch.zeros((1, 1, 1), dtype=torch.uint8)
    values = torch.tensor([[TARGET + 3.0]])
    q = network(board, values)
    assert torch.equal(network(board, values.double()), q)
    assert torch.equal(network(board, values.long()), q)
    # What the head is given is the standardised value: with the identity statistics, the
    # standardised value by hand gives the same Q-values.
    by_hand = ((values - network.state_mean) / network.state_std).clamp(-10, 10)
    assert abs(by_hand.item()) < 10
    network.set_state_statistics(np.zeros(1, np.float32), np.ones(1, np.float32))
    assert torch.allclose(network(board, by_hand), q)
    assert not torch.allclose(network(board, values), q)


# -------------------------------------------------------------------- exact resume


def test_a_scaled_run_killed_and_resumed_equals_an_uninterrupted_one(tmp_path):
    heater_trainer(tmp_path / "whole", training_episodes=8, checkpoint_every=2, seed=5).train()
    run = tmp_path / "split"
    heater_trainer(run, training_episodes=4, checkpoint_every=2, seed=5).train()
    RunDirectory(run).update_config(hyper={"training_episodes": 8})
    DQNTrainer(create_heater, heater_metadata(), run).train(resume="latest")
    assert episode_lines(run) == episode_lines(tmp_path / "whole")
    assert fingerprint(run) == fingerprint(tmp_path / "whole")
    whole = torch.load(tmp_path / "whole" / "checkpoints" / "final.pt", weights_only=True)
    split = torch.load(run / "checkpoints" / "final.pt", weights_only=True)
    assert split["observed_state"] == whole["observed_state"]


def test_a_checkpoint_from_before_state_scaling_resumes_on_raw_values(tmp_path):
    """Runs saved before the field existed learned from raw values: they go on so, and
    config.toml records it."""
    run = tmp_path / "old"
    heater_trainer(run, training_episodes=2, checkpoint_every=2, seed=3,
                   state_scaling=False).train()
    saved_before(run, "state_scaling")
    assert RunDirectory(run).read_config()[1].state_scaling  # the default, for new runs

    trainer = DQNTrainer(create_heater, heater_metadata(), run, training_episodes=4)
    trainer.train(resume="latest")
    assert trainer.episode == 4 and not trainer.network.scales_state
    assert RunDirectory(run).read_config()[1].state_scaling is False


def test_changing_state_scaling_on_a_run_with_checkpoints_is_refused(tmp_path):
    run = tmp_path / "run"
    heater_trainer(run, training_episodes=2, checkpoint_every=2, seed=3).train()
    with pytest.raises(CheckpointError, match="state_scaling"):
        heater_trainer(run, training_episodes=4, state_scaling=False).train(resume="latest")


def test_a_bad_value_is_a_clear_error():
    with pytest.raises(ConfigError, match="state_scaling must be true or false"):
        Hyperparameters(state_scaling="yes")


# ------------------------------------------------------- nothing changes when off

# Recorded with retro-gamer before state_scaling existed (commit 20d6185, torch 2.13.0
# CPU, one thread): the episode lines and final weights of the runs below.
BEFORE_CORRIDOR = ("fb04272e9d83e5e6", "7cc44bbe94b147f9")
BEFORE_HEATER = ("c73653269762e8c7", "3c8ef5493418490c")


def test_a_game_without_observe_state_trains_exactly_as_before(tmp_path):
    settings = dict(training_episodes=6, n_layers=1, layer_size=16, batch_size=16,
                    memory_capacity=500, max_turns_per_episode=12, train_every=1,
                    eval_every=0, eval_episodes=0, seed=0, device="cpu")
    for flag in (True, False):
        DQNTrainer(create_corridor, corridor_metadata(), tmp_path / str(flag),
                   state_scaling=flag, **settings).train()
    assert fingerprint(tmp_path / "True") == fingerprint(tmp_path / "False") == BEFORE_CORRIDOR


def test_with_state_scaling_off_a_game_with_observe_state_trains_exactly_as_before(tmp_path):
    heater_trainer(tmp_path / "off", training_episodes=6, seed=0, state_scaling=False).train()
    assert fingerprint(tmp_path / "off") == BEFORE_HEATER
    heater_trainer(tmp_path / "on", training_episodes=6, seed=0).train()
    assert episode_lines(tmp_path / "on") != episode_lines(tmp_path / "off")
