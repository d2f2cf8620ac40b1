"""Character and player discovery draw only from seeded streams (issue 13, item 4).

Environments built alike must see the same characters, hence the same
observation size: vectorised Gymnasium environments (Stable-Baselines3's
``DummyVecEnv``) refuse sub-environments whose spaces differ.
"""

from __future__ import annotations

import dataclasses
import json
import os
import random
import subprocess
import sys

import pytest

from retro_gamer import GameMetadata
from retro_gamer.env import discover_characters, discover_player_characters

gym = pytest.importorskip("retro_gamer.gym")  # the dev extra installs gymnasium


def snake_without_characters() -> GameMetadata:
    metadata = GameMetadata.from_pyproject("retro.examples.snake")
    return dataclasses.replace(metadata, character_set=None)


def test_adapters_with_the_same_seed_share_one_observation_space():
    from retro.examples.snake import create_game

    metadata = snake_without_characters()
    envs = [gym.RetroGameEnv(create_game=create_game, metadata=metadata) for _ in range(12)]
    assert len({tuple(env.env.character_set) for env in envs}) == 1
    assert all(env.observation_space == envs[0].observation_space for env in envs)
    # and the vectorised environment users build from them accepts them
    from gymnasium.vector import SyncVectorEnv

    vector = SyncVectorEnv([lambda env=env: env for env in envs])
    observations, _ = vector.reset(seed=0)
    assert observations.shape == (12, *envs[0].observation_space.shape)


def test_discovery_leaves_the_callers_random_stream_alone():
    from retro.examples.snake import create_game

    random.seed(11)
    expected = [random.random() for _ in range(3)]
    random.seed(11)
    discover_characters(create_game, ["KEY_LEFT", "KEY_UP"], 50, random.Random(4))
    discover_player_characters(create_game, ["KEY_LEFT", "KEY_UP"], 50, random.Random(4))
    assert [random.random() for _ in range(3)] == expected


DISCOVER = """
import dataclasses, json, random
from retro.examples.snake import create_game
from retro_gamer import GameEnvironment, GameMetadata
from retro_gamer.env import discover_characters, discover_player_characters
random.seed()  # whatever the process drew before must not matter
md = dataclasses.replace(GameMetadata.from_pyproject("retro.examples.snake"), character_set=None)
found = [GameEnvironment(create_game, md, rng=random.Random(seed)).character_set
         for seed in range(8)]
player = discover_player_characters(create_game, md.actions, 200, random.Random(3))
print(json.dumps([found, player]))
"""


def test_the_same_seed_sees_the_same_characters_in_any_process():
    outputs = []
    for hash_seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        completed = subprocess.run([sys.executable, "-c", DISCOVER], capture_output=True,
                                   text=True, timeout=300, env=env)
        assert completed.returncode == 0, completed.stderr[-2000:]
        outputs.append(json.loads(completed.stdout))
    assert outputs[0] == outputs[1]
    found, player = outputs[0]
    assert all({"@", "<", ">", "^", "v"} & set(characters) for characters in found)
    assert set(player) <= {"<", ">", "^", "v"} and player
