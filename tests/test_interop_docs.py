"""Issue 8: the Gymnasium adapter, TensorBoard scalars and the Sphinx docs."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from retro_gamer import GameMetadata

gymnasium = pytest.importorskip("gymnasium")
from gymnasium.utils.env_checker import check_env  # noqa: E402

from retro_gamer.gym import RetroGameEnv  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def test_snake_passes_gymnasiums_env_checker():
    env = RetroGameEnv("retro.examples.snake", render_mode="ansi")
    check_env(env, skip_render_check=False)
    assert env.action_space.n == 5
    assert env.observation_space.shape == (6 * 16 * 32,)


def test_non_spatial_game_with_observe_state_passes_the_checker(game_project):
    project = game_project()
    metadata = GameMetadata.from_pyproject(project.module)
    env = RetroGameEnv(create_game=project.create_game, metadata=metadata,
                       max_turns_per_episode=30)
    check_env(env)
    obs, _ = env.reset(seed=3)
    # H x W x C one-hot (1 x 5 x 2) then lives and level, as GameEnvironment lays it out.
    assert obs.shape == (5 * 2 + 2,)
    assert obs[-2:].tolist() == [3.0, 1.0]


def test_module_name_and_pair_construction_agree(game_project):
    project = game_project()
    by_name = RetroGameEnv(project.module)
    by_pair = RetroGameEnv(create_game=project.create_game,
                           metadata=GameMetadata.from_pyproject(project.module))
    assert by_name.observation_space == by_pair.observation_space
    assert np.array_equal(by_name.reset(seed=1)[0], by_pair.reset(seed=1)[0])


def test_max_turns_truncates_and_game_over_terminates(game_project):
    env = RetroGameEnv(game_project().module, max_turns_per_episode=3)
    env.reset(seed=0)
    steps = [env.step(2)[2:4] for _ in range(3)]  # no-op: the game never ends by itself
    assert steps == [(False, False), (False, False), (False, True)]
    env.reset(seed=0)
    walk_left = 0  # "a": three steps into the wall cost the three lives
    outcomes = [env.step(walk_left)[2:4] for _ in range(5)]
    assert (True, False) in outcomes


def test_reset_seed_fixes_the_episode():
    env = RetroGameEnv("retro.examples.snake")
    first = [env.reset(seed=7)[0]] + [env.step(a)[0] for a in (0, 1, 2)]
    again = [env.reset(seed=7)[0]] + [env.step(a)[0] for a in (0, 1, 2)]
    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))


def test_registered_snake_id():
    env = gymnasium.make("retro-gamer/Snake-v0")
    obs, _ = env.reset(seed=0)
    assert obs.dtype == np.float32


def test_stable_baselines3_dqn_trains_on_the_adapter(game_project, tmp_path, monkeypatch):
    sb3 = pytest.importorskip("stable_baselines3")
    monkeypatch.setenv("SB3_LOGDIR", str(tmp_path / "sb3"))  # else SB3 logs into /tmp
    env = RetroGameEnv(game_project().module, max_turns_per_episode=40)
    model = sb3.DQN("MlpPolicy", env, learning_starts=50, buffer_size=500, batch_size=16,
                    policy_kwargs={"net_arch": [16]}, seed=0, verbose=0)
    model.learn(300)
    action, _ = model.predict(env.reset(seed=0)[0], deterministic=True)
    assert env.action_space.contains(int(action))


def test_tensorboard_scalars_are_read_back(tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run = tmp_path / "run"
    cli = [sys.executable, "-m", "retro_gamer.cli"]
    subprocess.run([*cli, "create", "--game", "retro.examples.snake", "--output", str(run),
                    "--training-episodes", "3", "--memory-capacity", "200",
                    "--batch-size", "8", "--layer-size", "16", "--eval-episodes", "1",
                    "tensorboard=true"], check=True, capture_output=True)
    subprocess.run([*cli, "train", str(run)], check=True, capture_output=True)
    events = EventAccumulator(str(run / "tensorboard"))
    events.Reload()
    tags = set(events.Tags()["scalars"])
    assert {f"episode/{n}" for n in ("return", "steps", "epsilon", "loss",
                                     "learning_rate")} <= tags
    steps = events.Scalars("episode/steps")
    assert [s.step for s in steps] == [1, 2, 3]
    log_steps = [int(line.split("steps=")[1].split()[0])
                 for line in (run / "training.log").read_text().splitlines()
                 if line.startswith("[EP ")]
    assert [int(s.value) for s in steps] == log_steps
    assert events.Scalars("episode/epsilon")[0].value == pytest.approx(1.0)


@pytest.mark.skipif(shutil.which("sphinx-build") is None and
                    not (Path(sys.executable).parent / "sphinx-build").exists(),
                    reason="Sphinx is not installed")
def test_sphinx_docs_build_without_warnings(tmp_path):
    sphinx = Path(sys.executable).parent / "sphinx-build"
    result = subprocess.run([str(sphinx if sphinx.exists() else "sphinx-build"), "-W", "-q",
                             "-b", "html", str(REPO / "docs"), str(tmp_path / "html")],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    reference = (tmp_path / "html" / "reference.html").read_text()
    # The tables come from the dataclasses: every field and its default is there.
    for name in ("learning_rate", "unknown_character_strategy", "observe_state"):
        assert name in reference
    cli_page = (tmp_path / "html" / "cli.html").read_text()
    assert "--prioritize-experiences" in cli_page
