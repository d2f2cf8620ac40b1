"""DQNTrainer on real games: it learns, writes the run directory, is deterministic, resumes."""

from __future__ import annotations

import collections
import random
import re
from pathlib import Path

import numpy as np
import pytest
import tomlkit
import torch
from cli_runners import run_in_process
from conftest import one_torch_thread, train_snake
from gamekit import (
    CORRIDOR_PYPROJECT,
    CORRIDOR_WIDTH,
    GAMES_SOURCE,
    corridor_metadata,
    create_corridor,
    create_spawner,
    saved_before,
)

from retro_gamer import GameEnvironment, GameMetadata
from retro_gamer.agent import GreedyAgent
from retro_gamer.errors import ConfigError, RunDirectoryError
from retro_gamer.run_dir import RunDirectory
from retro_gamer.runs import create_run, train_run
from retro_gamer.trainer import DQNTrainer, decayed, epsilon_greedy, select_device, td_targets

EPISODE_LINE = re.compile(
    r"^\[EP \d{4}\] total_reward=\S+ steps=\d+ epsilon=\S+ avg_loss=\S+$"
)

# A network and a buffer small enough that a corridor episode costs milliseconds.
TINY = dict(
    n_layers=1, layer_size=32, batch_size=16, memory_capacity=500, target_update_freq=20,
    max_turns_per_episode=12, device="cpu",
)


@pytest.fixture(autouse=True)
def _one_torch_thread():
    with one_torch_thread():
        yield


def episode_lines(run_dir: Path) -> list[str]:
    text = (Path(run_dir) / "training.log").read_text(encoding="utf-8")
    return [line for line in text.splitlines() if line.startswith("[EP ")]


def episode_numbers(run_dir: Path) -> list[int]:
    return [int(line[4:8]) for line in episode_lines(run_dir)]


def config(run_dir: Path) -> dict:
    return tomlkit.parse((Path(run_dir) / "config.toml").read_text(encoding="utf-8")).unwrap()


def final_weights(run_dir: Path, name: str = "final.pt") -> dict[str, torch.Tensor]:
    state = torch.load(Path(run_dir) / "checkpoints" / name, weights_only=True)
    return state["model"]


def assert_same_weights(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


def corridor_trainer(run_dir, **hyper) -> DQNTrainer:
    return DQNTrainer(create_corridor, corridor_metadata(), run_dir, **{**TINY, **hyper})


def play(choose, episodes: int, max_turns: int) -> list[float]:
    """Returns of ``episodes`` corridor games where ``choose(env)`` picks each action index."""
    env = GameEnvironment(create_corridor, corridor_metadata())
    returns = []
    for _ in range(episodes):
        env.start()
        total = 0.0
        for _ in range(max_turns):
            reward, done, _ = env.act(choose(env))
            total += reward
            if done:
                break
        returns.append(total)
    return returns


# ------------------------------------------------------------------------- learning


def test_dqn_learns_to_walk_the_corridor(tmp_path):
    max_turns = 30
    result = DQNTrainer(
        create_corridor, corridor_metadata(), tmp_path / "run",
        training_episodes=60, n_layers=1, layer_size=32, epsilon_decay=0.93, gamma=0.9,
        learning_rate=0.003, lr_decay=1.0, batch_size=32, memory_capacity=2000,
        target_update_freq=50, max_turns_per_episode=max_turns, seed=0, device="cpu",
    ).train()
    assert result.episodes_done == 60 and result.train_steps > 0

    agent = GreedyAgent.from_checkpoint(RunDirectory(tmp_path / "run"))
    greedy = play(lambda env: agent.act(env.board, env.extras), 3, max_turns)
    rng = random.Random(1)
    uniform = play(lambda env: rng.randrange(env.n_actions), 200, max_turns)

    # The goal is 6 cells away: the greedy agent walks straight there every time.
    assert greedy == [10.0, 10.0, 10.0]
    assert np.mean(uniform) < 5.0
    steps = [int(line.split("steps=")[1].split()[0]) for line in episode_lines(tmp_path / "run")]
    assert min(steps[-10:]) >= CORRIDOR_WIDTH - 1
    # Training itself got faster at reaching the goal as epsilon fell.
    assert np.mean(steps[-10:]) < np.mean(steps[:10])


# ---------------------------------------------------------- the run directory it writes


def test_specification_python_api_snippet_trains_snake(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    from retro.examples.snake import create_game

    from retro_gamer import DQNTrainer as PublicTrainer
    from retro_gamer import GameEnvironment as PublicEnvironment
    from retro_gamer import GameMetadata as PublicMetadata

    assert PublicTrainer is DQNTrainer and PublicEnvironment is GameEnvironment
    metadata = PublicMetadata.from_pyproject("retro.examples.snake")
    trainer = PublicTrainer(
        create_game,
        metadata,
        "runs/snake/",
        training_episodes=3,
        n_layers=2,
        layer_size=128,
    )
    trainer.train()

    run = tmp_path / "runs" / "snake"
    written = config(run)
    assert written["game"]["module"] == "retro.examples.snake"
    assert written["game"]["board_size"] == [32, 16]
    assert written["game"]["character_set"] == ["@", "*", ">", "<", "^", "v"]
    hyper = written["hyperparameters"]
    assert (hyper["training_episodes"], hyper["n_layers"], hyper["layer_size"]) == (3, 2, 128)
    assert isinstance(hyper["seed"], int)  # the chosen seed is recorded

    log = (run / "training.log").read_text(encoding="utf-8")
    assert "CNN" in log.split("[EP ")[0]  # the architecture comes first
    lines = episode_lines(run)
    assert all(EPISODE_LINE.match(line) for line in lines), lines
    assert episode_numbers(run) == [1, 2, 3]
    assert (run / "checkpoints" / "final.pt").is_file()
    assert not list((run / "checkpoints").glob("ep_*.pt"))  # checkpoint_every is 100


def test_checkpoints_every_n_episodes_hold_what_the_specification_lists(tmp_path):
    run = tmp_path / "run"
    reported = []
    DQNTrainer(create_corridor, corridor_metadata(), run, on_episode=reported.append,
               training_episodes=5, checkpoint_every=2, seed=3, **TINY).train()

    names = sorted(p.name for p in (run / "checkpoints").glob("*.pt") if ".replay." not in p.name)
    assert names == ["ep_0002.pt", "ep_0004.pt", "final.pt"]
    lines = episode_lines(run)
    assert episode_numbers(run) == [1, 2, 3, 4, 5]
    assert all(EPISODE_LINE.match(line) for line in lines), lines
    assert [s.episode for s in reported] == [1, 2, 3, 4, 5]

    state = torch.load(run / "checkpoints" / "final.pt", weights_only=True)
    assert {"model", "optimizer", "epsilon", "train_steps"} <= state.keys()
    assert all(isinstance(v, torch.Tensor) for v in state["model"].values())
    assert state["optimizer"]["state"], "the optimizer state has Adam's moments"
    assert state["train_steps"] == reported[-1].train_steps > 0
    # epsilon after five decays; the logged epsilon is the one the episode used
    assert state["epsilon"] == pytest.approx(0.995**5)
    assert [float(line.split("epsilon=")[1].split()[0]) for line in lines] == pytest.approx(
        [0.995**k for k in range(5)], abs=1e-4)

    early = torch.load(run / "checkpoints" / "ep_0002.pt", weights_only=True)
    assert early["epsilon"] == pytest.approx(0.995**2)
    assert early["train_steps"] == reported[1].train_steps < state["train_steps"]
    # the weights changed between the two checkpoints: training happened in between
    assert any(not torch.equal(early["model"][k], state["model"][k]) for k in state["model"])


def test_same_seed_same_log_and_same_weights(tmp_path):
    for name in ("a", "b"):
        corridor_trainer(tmp_path / name, training_episodes=6, seed=42).train()
    assert episode_lines(tmp_path / "a") == episode_lines(tmp_path / "b")
    assert_same_weights(final_weights(tmp_path / "a"), final_weights(tmp_path / "b"))

    corridor_trainer(tmp_path / "c", training_episodes=6, seed=43).train()
    assert episode_lines(tmp_path / "c") != episode_lines(tmp_path / "a")


# ----------------------------------------------------------------------------- resume


def test_resume_latest_continues_numbering_and_matches_an_uninterrupted_run(tmp_path):
    corridor_trainer(tmp_path / "whole", training_episodes=6, checkpoint_every=2, seed=7).train()

    run = tmp_path / "split"
    corridor_trainer(run, training_episodes=4, checkpoint_every=2, seed=7).train()
    assert episode_numbers(run) == [1, 2, 3, 4]
    # Train longer: raise training_episodes in config.toml, as a user would.
    RunDirectory(run).update_config(hyper={"training_episodes": 6})
    DQNTrainer(create_corridor, corridor_metadata(), run).train(resume="latest")

    assert episode_numbers(run) == [1, 2, 3, 4, 5, 6]
    text = (run / "training.log").read_text(encoding="utf-8").splitlines()
    markers = [line for line in text if "resumed" in line]
    assert len(markers) == 1 and not EPISODE_LINE.match(markers[0])
    assert text.index(markers[0]) > text.index(episode_lines(run)[3])  # after [EP 0004]
    # An exact resume: same episodes, same weights as never stopping.
    assert episode_lines(run) == episode_lines(tmp_path / "whole")
    assert_same_weights(final_weights(run), final_weights(tmp_path / "whole"))
    assert config(run)["hyperparameters"]["training_episodes"] == 6


def test_a_run_that_kept_its_replay_buffer_in_checkpoints_still_resumes_exactly(tmp_path):
    """Runs made before replay/ existed saved the buffer as checkpoints/NAME.replay.pt."""
    corridor_trainer(tmp_path / "whole", training_episodes=6, checkpoint_every=2, seed=7).train()
    run = tmp_path / "old"
    corridor_trainer(run, training_episodes=4, checkpoint_every=2, seed=7).train()
    assert sorted(p.name for p in (run / "replay").iterdir()) == ["final.replay.pt"]
    (run / "replay" / "final.replay.pt").rename(run / "checkpoints" / "final.replay.pt")
    (run / "replay").rmdir()  # the run now looks as an older retro-gamer left it

    RunDirectory(run).update_config(hyper={"training_episodes": 6})
    DQNTrainer(create_corridor, corridor_metadata(), run).train(resume="latest")

    marker = next(line for line in (run / "training.log").read_text().splitlines()
                  if "resumed" in line)
    assert "replay buffer restored" in marker
    assert episode_lines(run) == episode_lines(tmp_path / "whole")
    assert_same_weights(final_weights(run), final_weights(tmp_path / "whole"))
    # The next save wrote the buffer to replay/ and retired the old file, and only then.
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == [
        "ep_0002.pt", "ep_0004.pt", "ep_0006.pt", "final.pt"]
    assert sorted(p.name for p in (run / "replay").iterdir()) == ["final.replay.pt"]


def test_resume_from_a_named_checkpoint_continues_after_it(tmp_path):
    run = tmp_path / "named"
    corridor_trainer(run, training_episodes=4, checkpoint_every=2, seed=9).train()
    # Nothing is deleted; the checkpoint is named explicitly and the episodes raised by keyword.
    corridor_trainer(run, training_episodes=6).train(resume="ep_0004")
    assert episode_numbers(run) == [1, 2, 3, 4, 5, 6]
    markers = [line for line in (run / "training.log").read_text().splitlines()
               if "resumed" in line]
    assert len(markers) == 1 and "ep_0004" in markers[0]
    assert config(run)["hyperparameters"]["training_episodes"] == 6


def test_resume_from_an_earlier_checkpoint_replaces_the_later_episodes(tmp_path):
    run = tmp_path / "run"
    corridor_trainer(run, training_episodes=4, checkpoint_every=2, seed=2).train()
    corridor_trainer(run).train(resume="ep_0002")
    # Episodes 3 and 4 were played again; each number appears once, in order.
    assert episode_numbers(run) == [1, 2, 3, 4]
    state = torch.load(run / "checkpoints" / "final.pt", weights_only=True)
    assert state["episode"] == 4


# ------------------------------------------------------------------------ refusals


def test_unknown_keyword_is_refused_with_a_suggestion(tmp_path):
    with pytest.raises(ConfigError, match="Did you mean 'gamma'"):
        DQNTrainer(create_corridor, corridor_metadata(), tmp_path / "run", gama=0.9)
    assert not (tmp_path / "run").exists()


def test_training_over_progress_without_resume_is_refused(tmp_path):
    run = tmp_path / "run"
    corridor_trainer(run, training_episodes=2, seed=1).train()
    before = (run / "training.log").read_bytes()
    with pytest.raises(RunDirectoryError, match="--resume"):
        corridor_trainer(run, training_episodes=3).train()
    assert (run / "training.log").read_bytes() == before


# ----------------------------------------------------------------- character sets


@pytest.mark.parametrize("strategy", ["extend", "ignore"])
def test_unknown_character_strategy(tmp_path, strategy):
    run = tmp_path / "run"
    trainer = DQNTrainer(create_spawner, corridor_metadata(), run, training_episodes=3,
                         unknown_character_strategy=strategy, seed=4, **TINY)
    trainer.train()

    assert episode_numbers(run) == [1, 2, 3]
    state = torch.load(run / "checkpoints" / "final.pt", weights_only=True)
    characters = config(run)["game"]["character_set"]
    if strategy == "extend":
        assert characters == ["@", "G", "X"]
        assert state["network"]["n_channels"] == 3
        # the network grew during the first episode (X appears after turn 3), and the log says so
        notes = [line for line in (run / "training.log").read_text().splitlines()
                 if line.startswith("#") and "X" in line]
        assert len(notes) == 1 and not EPISODE_LINE.match(notes[0])
        assert "X" in state["character_set"]
    else:
        assert characters == ["@", "G"]
        assert state["network"]["n_channels"] == 2
        assert "X" not in (run / "training.log").read_text()
    # The agent of either run loads and acts on the game that shows the X.
    agent = GreedyAgent.from_checkpoint(RunDirectory(run))
    env = GameEnvironment(create_spawner, agent.metadata)
    env.start()
    for _ in range(5):
        env.act(agent.act(env.board, env.extras))
    assert ((env.board == 3).any()) == (strategy == "extend")


def test_discovered_character_set_is_written_to_config(tmp_path):
    run = tmp_path / "run"
    metadata = corridor_metadata(character_set=None)
    DQNTrainer(create_spawner, metadata, run, training_episodes=1, exploration_turns=40,
               seed=0, **TINY).train()
    assert config(run)["game"]["character_set"] == ["@", "G", "X"]


def test_created_run_without_character_set_gets_the_discovered_one(tmp_path, game_project):
    description = CORRIDOR_PYPROJECT.replace('character_set = ["@", "G"]\n', "")
    project = game_project(pyproject=description, source=GAMES_SOURCE)
    out = tmp_path / "run"
    create_run(project.module, out, {"training_episodes": 2, "exploration_turns": 30, **TINY})
    text = (out / "config.toml").read_text(encoding="utf-8")
    assert "character_set =" not in text.replace("# character_set", "")
    (out / "config.toml").write_text("# my own note\n" + text, encoding="utf-8")

    train_run(out)
    written = (out / "config.toml").read_text(encoding="utf-8")
    assert written.startswith("# my own note\n")
    assert config(out)["game"]["character_set"] == ["@", "G"]
    assert episode_numbers(out) == [1, 2]


# ---------------------------------------------------------------------- pure pieces


def test_td_targets_bootstrap_only_while_the_game_goes_on():
    rewards = torch.tensor([1.0, 2.0, -1.0])
    dones = torch.tensor([0.0, 1.0, 0.0])
    next_q = torch.tensor([[1.0, 3.0], [5.0, 7.0], [-4.0, -2.0]])
    targets = td_targets(rewards, dones, next_q, gamma=0.5)
    torch.testing.assert_close(targets, torch.tensor([1.0 + 0.5 * 3.0, 2.0, -1.0 - 1.0]))


def test_decayed_multiplies_and_stops_at_the_floor():
    assert decayed(1.0, 0.5) == 0.5
    assert decayed(1.0, 0.5, floor=0.3) == 0.5
    assert decayed(0.5, 0.5, floor=0.3) == 0.3
    value = 1.0
    for _ in range(1000):
        value = decayed(value, 0.995, 0.05)
    assert value == 0.05


def test_epsilon_greedy_exploits_at_zero_and_explores_uniformly_at_one():
    rng = random.Random(0)
    q = torch.tensor([0.1, 0.9, -3.0, 0.5])
    assert {epsilon_greedy(lambda: q, 0.0, 4, rng) for _ in range(50)} == {1}

    def never():
        raise AssertionError("a random action needs no Q-values")

    counts = collections.Counter(epsilon_greedy(never, 1.0, 4, rng) for _ in range(4000))
    assert set(counts) == {0, 1, 2, 3}
    assert all(850 < n < 1150 for n in counts.values()), counts

    half = collections.Counter(epsilon_greedy(lambda: q, 0.5, 4, rng) for _ in range(4000))
    assert 0.55 < half[1] / 4000 < 0.70  # 0.5 greedy + 0.5 / 4 random


def test_select_device(monkeypatch):
    assert select_device("cpu") == torch.device("cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert select_device("auto") == torch.device("cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert select_device("auto").type == "cuda"
    assert select_device("cuda:1") == torch.device("cuda:1")


def test_metadata_of_the_game_kit_is_valid():
    # Guards the other tests: the kit's description passes retro-gamer's own checks.
    GameMetadata.from_mapping(
        {k: v for k, v in corridor_metadata().to_dict().items() if k != "board_size"}, "kit")


def test_a_snake_run_from_before_conv_width_existed_resumes_with_the_16_channels_it_had(
        tmp_path):
    """conv_width's default is 8 now; a run created when every network had 16 channels
    (its checkpoints and config.toml say nothing of the field) goes on with 16 through
    the command line, says so once, and config.toml records it."""
    run = train_snake(tmp_path / "old", {
        "training_episodes": 2, "checkpoint_every": 1, "n_layers": 1, "layer_size": 16,
        "batch_size": 8, "memory_capacity": 200, "max_turns_per_episode": 40, "seed": 0,
        "device": "cpu", "conv_width": 16})
    saved_before(run, "conv_width")
    assert RunDirectory(run).read_config()[1].conv_width == 8  # today's default

    result = run_in_process("train", run, "training_episodes=3", "--resume", "latest",
                            cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    said = " ".join((result.stdout + result.stderr).split())
    assert "saved before conv_width existed" in said and "conv_width = 16" in said
    assert RunDirectory(run).read_config()[1].conv_width == 16
    assert episode_numbers(run) == [1, 2, 3]
