"""Issue 27: conventions. ``python -m retro_gamer``; the Gymnasium adapter's egocentric and
image observations (what retro-gamer's own CNN sees), every suite game behind gym.make, and
Stable-Baselines3's CnnPolicy learning from the image as it is."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from conftest import CHAR_GAME_PYPROJECT

import retro_gamer

gymnasium = pytest.importorskip("gymnasium")
from gymnasium.utils.env_checker import check_env  # noqa: E402

from retro_gamer.gym import GAME_IDS, RetroGameEnv  # noqa: E402
from retro_gamer.suite import SUITE  # noqa: E402

SNAKE_HEAD = "<>^v"


def test_python_dash_m_retro_gamer_is_the_command():
    result = subprocess.run([sys.executable, "-m", "retro_gamer", "--version"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"retro-gamer {retro_gamer.__version__}")


def test_the_egocentric_view_is_centred_on_the_player_with_walls_beyond_the_edge():
    env = RetroGameEnv("retro.examples.snake", observation="egocentric")
    check_env(env)
    obs, _ = env.reset(seed=1)
    characters = list(env.env.character_set)
    assert obs.shape == (len(characters) + 1, 31, 63) and obs.dtype == np.float32
    assert obs.sum(0).max() == 1.0  # one-hot: at most one channel per cell
    for _ in range(5):
        head = [characters[c] for c in np.flatnonzero(obs[:-1, 15, 31])]
        assert head and head[0] in SNAKE_HEAD  # the player sits in the middle of the view
        # Cells 16 rows above or below the head are off the 16-row board: walls.
        assert obs[-1, 0].any() or obs[-1, -1].any()
        obs, _, terminated, _, _ = env.step(env.action_space.sample())
        if terminated:
            break


def test_the_image_is_what_the_egocentric_view_shows_in_pixels():
    ego = RetroGameEnv("retro.examples.snake", observation="egocentric")
    image = RetroGameEnv("retro.examples.snake", observation="image")
    check_env(image)
    view, _ = ego.reset(seed=4)
    pixels, _ = image.reset(seed=4)
    k = image.cell_pixels
    assert pixels.dtype == np.uint8 and min(pixels.shape[1:]) >= 36
    assert np.array_equal(pixels[:, ::k, ::k], (view * 255).astype(np.uint8))


def test_a_game_with_observe_state_gives_the_view_and_the_state(game_project):
    # The coin walk, described as spatial, observes its lives and level.
    project = game_project(pyproject=CHAR_GAME_PYPROJECT.replace("spatial = false",
                                                                 "spatial = true"))
    env = RetroGameEnv(project.module, observation="image")
    check_env(env)
    obs, _ = env.reset(seed=0)
    assert set(obs) == {"view", "state"}
    assert obs["state"].tolist() == [float(env.env.game.state[key])
                                     for key in ("lives", "level")]


def test_a_flat_game_refuses_a_view_it_does_not_have():
    with pytest.raises(ValueError, match="needs a spatial game"):
        RetroGameEnv("retro_gamer.suite.games.thermostat", observation="egocentric")


def test_every_suite_game_is_registered_with_gym_make():
    assert {game.module for game in GAME_IDS.values()} == {game.module for game in SUITE}
    env = gymnasium.make("retro-gamer/Keys-v0")
    obs, _ = env.reset(seed=0)
    assert env.observation_space.contains(obs)
    assert env.unwrapped.max_turns_per_episode == 100
    assert gymnasium.spec("retro-gamer/Snake-v0").kwargs["game"] == "retro.examples.snake"


def test_stable_baselines3_cnn_policy_learns_from_the_image():
    sb3 = pytest.importorskip("stable_baselines3")
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        env = RetroGameEnv("retro.examples.snake", observation="image",
                           max_turns_per_episode=20)
        model = sb3.DQN("CnnPolicy", env, buffer_size=64, learning_starts=8, batch_size=4,
                        train_freq=4, seed=0, device="cpu")
        before = [p.detach().clone() for p in model.policy.parameters()]
        model.learn(total_timesteps=24)
        after = list(model.policy.parameters())
        assert any(not torch.equal(a, b) for a, b in zip(after, before, strict=True))
        action, _ = model.predict(env.reset(seed=0)[0], deterministic=True)
        assert env.action_space.contains(int(action))
    finally:
        torch.set_num_threads(threads)
