"""Issue 13: rewards are scaled, not clipped, by default, so their differences survive.

The example game is the issue's own: one row of 7 cells, the player ``@`` starts
at x = 3; each turn costs 1 point at the left wall (x = 0) and 5 anywhere else,
so the best play walks left and stays there (-48 in 40 turns). Clipped to
[-1, 1] every turn looks the same (-1) and nothing can be learned.
"""

from __future__ import annotations

import random
import subprocess
import sys
import warnings

import pytest
import torch
from conftest import one_torch_thread

from retro_gamer import GameEnvironment, GameMetadata
from retro_gamer.agent import GreedyAgent
from retro_gamer.evaluation import play_greedy
from retro_gamer.rewards import RewardScaler
from retro_gamer.run_dir import RunDirectory
from retro_gamer.suite.games.wall import create_game as create_wall_game
from retro_gamer.trainer import DQNTrainer, RewardClipWarning

# The issue's command line: retro-gamer create --training-episodes 150 ...
ISSUE_SETTINGS = dict(training_episodes=150, max_turns_per_episode=40, epsilon_decay=0.97)
BEST_RETURN = -5 - 5 - 1 * 38  # two turns to reach the wall, then 1 a turn


WALL_MODULE = "retro_gamer.suite.games.wall"  # the issue's game, also in the benchmark suite
WALL_METADATA = GameMetadata(actions=["KEY_LEFT", "KEY_RIGHT"], reward="score",
                             character_set=["@"], spatial=False, module=WALL_MODULE)


@pytest.fixture(autouse=True)
def _one_torch_thread():
    with one_torch_thread():
        yield


def greedy_return(run_dir, turns: int = 40) -> float:
    agent = GreedyAgent.from_checkpoint(RunDirectory(run_dir))
    return play_greedy(agent, GameEnvironment(create_wall_game, WALL_METADATA), 1, turns)[0]


def train_wall_game(run_dir, **hyper) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RewardClipWarning)
        DQNTrainer(create_wall_game, WALL_METADATA, run_dir, device="cpu", eval_episodes=0,
                   **{**ISSUE_SETTINGS, **hyper}).train()


# ------------------------------------------------------------------ the issue's game


@pytest.mark.parametrize("seed", [1, 2])
def test_a_per_turn_cost_game_learns_to_stay_at_the_wall_with_the_defaults(tmp_path, seed):
    train_wall_game(tmp_path / "run", seed=seed)
    assert greedy_return(tmp_path / "run") == BEST_RETURN


def test_on_snake_the_new_default_trains_bit_for_bit_as_clipping_did(tmp_path):
    """Snake's score has one reward size (+50): scaling changes nothing there (the evidence
    that the Snake targets, measured with clipping, still hold)."""
    from retro.examples.snake import create_game

    from retro_gamer.games import load_metadata

    settings = dict(training_episodes=4, memory_capacity=400, batch_size=16, layer_size=16,
                    max_turns_per_episode=80, target_update_freq=20, eval_episodes=0,
                    device="cpu", seed=5)  # seed 5 eats an apple in its third episode
    metadata = load_metadata("retro.examples.snake")
    runs = {"scaled": {}, "clipped": {"reward_clip": 1.0, "reward_scaling": False}}
    for name, hyper in runs.items():
        DQNTrainer(create_game, metadata, tmp_path / name, **settings, **hyper).train()
    logs = {name: [line for line in (tmp_path / name / "training.log").read_text().splitlines()
                   if line.startswith("[EP ")] for name in runs}
    assert logs["scaled"] == logs["clipped"]
    assert any("total_reward=50" in line for line in logs["scaled"])
    weights = {name: torch.load(tmp_path / name / "checkpoints" / "final.pt",
                                weights_only=True)["model"] for name in runs}
    for key, tensor in weights["scaled"].items():
        assert torch.equal(tensor, weights["clipped"][key]), key


def test_clipping_that_erases_the_difference_warns_in_the_log_and_on_the_console(tmp_path):
    """The old default (reward_clip = 1) cannot tell -1 from -5: say so, once."""
    cli = [sys.executable, "-m", "retro_gamer.cli"]
    run = tmp_path / "run"
    subprocess.run([*cli, "create", "--game", WALL_MODULE, "--output", str(run),
                    "--training-episodes", "3", "--max-turns-per-episode", "20",
                    "--eval-episodes", "0", "--reward-clip", "1", "--seed", "3"],
                   cwd=tmp_path, check=True, capture_output=True, text=True)
    done = subprocess.run([*cli, "train", str(run)], cwd=tmp_path, capture_output=True,
                          text=True)
    assert done.returncode == 0, done.stderr
    assert done.stderr.count("warning: reward_clip = 1 makes the game's rewards -5 and -1 "
                             "look the same") == 1, done.stderr
    assert "Traceback" not in done.stderr
    # train states the network's size as it starts (create did too).
    assert "training: network: 17,923 parameters, " in done.stderr
    log = (run / "training.log").read_text(encoding="utf-8")
    assert log.count("# warning: reward_clip = 1 makes the game's rewards -5 and -1") == 1


def test_no_warning_when_clipping_loses_nothing(tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("error", RewardClipWarning)
        DQNTrainer(create_wall_game, WALL_METADATA, tmp_path / "run", device="cpu",
                   eval_episodes=0, training_episodes=3, max_turns_per_episode=20,
                   reward_clip=5.0, seed=3).train()
    assert "# warning" not in (tmp_path / "run" / "training.log").read_text(encoding="utf-8")


def test_the_scale_is_saved_so_a_resumed_run_matches_an_uninterrupted_one(tmp_path):
    """The scale is part of the training state: without it a resume trains differently."""
    settings = dict(max_turns_per_episode=30, checkpoint_every=2, seed=5, batch_size=16,
                    layer_size=16, n_layers=1, epsilon_decay=0.9)
    train_wall_game(tmp_path / "whole", **{**settings, "training_episodes": 6})
    split = tmp_path / "split"
    train_wall_game(split, **{**settings, "training_episodes": 4})
    RunDirectory(split).update_config(hyper={"training_episodes": 6})
    DQNTrainer(create_wall_game, WALL_METADATA, split).train(resume="latest")
    whole = torch.load(tmp_path / "whole" / "checkpoints" / "final.pt", weights_only=True)
    parted = torch.load(split / "checkpoints" / "final.pt", weights_only=True)
    assert parted["rewards"] == whole["rewards"] and whole["rewards"]["max_magnitude"] == 5.0
    for name, tensor in whole["model"].items():
        assert torch.equal(tensor, parted["model"][name]), name


# ------------------------------------------------------------------ the scaler alone


def test_scaler_divides_by_the_largest_magnitude_seen_and_keeps_ratios():
    """Against a simple reference: store every reward raw, divide all by the max at the end."""
    rng = random.Random(0)
    rewards = [rng.choice([0.0, -1.0, -5.0, 2.5, 50.0, -0.01]) for _ in range(500)]
    scaler = RewardScaler(clip=0.0, scaling=True)
    assert scaler.scale == 1.0  # nothing seen yet: rewards pass as they are
    stored: list[float] = []
    for reward in rewards:
        learned, rescale = scaler.observe(reward)
        stored = [value * rescale for value in stored] + [learned]
    largest = max(abs(r) for r in rewards)
    assert scaler.scale == largest == 50.0
    assert stored == pytest.approx([r / largest for r in rewards], rel=1e-12, abs=0)


def test_one_reward_size_gives_exactly_what_clipping_to_one_gave():
    """Snake's score (+50 an apple, else 0): the stored values are clipping's, bit for bit."""
    scaled, clipped = RewardScaler(), RewardScaler(clip=1.0, scaling=False)
    for reward in [0.0, 0.0, 50.0, 0.0, 50.0, 50.0, 0.0]:
        assert scaled.observe(reward) == clipped.observe(reward)


def test_scaler_with_clipping_and_without_scaling():
    scaler = RewardScaler(clip=1.0, scaling=False)
    assert [scaler.observe(r)[0] for r in (-5.0, 0.5, 50.0, -1.0)] == [-1.0, 0.5, 1.0, -1.0]
    assert scaler.scale == 1.0
    assert "-5 and -1" in scaler.clipping_warning()
    assert scaler.clipping_warning() is None  # once
    small = RewardScaler(clip=1.0, scaling=True)
    assert small.observe(0.25) == (1.0, 1.0) and small.observe(-3.0) == (-1.0, 0.25)
    assert small.scale == 1.0 and small.clipping_warning() is None


def test_scaler_state_round_trips_through_a_weights_only_checkpoint(tmp_path):
    scaler = RewardScaler(clip=2.0)
    for reward in (-7.0, 1.5, 3.0):
        scaler.observe(reward)
    torch.save({"rewards": scaler.state_dict()}, tmp_path / "c.pt")
    restored = RewardScaler(clip=2.0)
    restored.load_state_dict(torch.load(tmp_path / "c.pt", weights_only=True)["rewards"])
    assert restored.scale == scaler.scale == 2.0
    assert restored.state_dict() == scaler.state_dict()
