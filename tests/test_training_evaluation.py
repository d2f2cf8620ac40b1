"""Evaluations during training (``eval_every``), ``checkpoints/best.pt`` and ``--checkpoint best``.

The corridor (tests/gamekit.py) is learned quickly and surely, so its
evaluations go from 0 to the optimum 10: best.pt must be the checkpoint of the
first evaluation that reached the highest mean. Snake draws its apples from
Python's global ``random``, which the evaluation games draw from as well: on
Snake, a run with evaluations must train exactly as one without, and resume
exactly after a crash.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from cli_runners import run_in_process
from conftest import one_torch_thread
from gamekit import corridor_metadata, create_corridor

from retro_gamer import GameMetadata
from retro_gamer.evaluation import evaluate, evaluate_run
from retro_gamer.run_dir import RunDirectory
from retro_gamer.trainer import DQNTrainer

# The corridor settings under which DQN walks it every time (tests/test_trainer.py).
LEARNS = dict(n_layers=1, layer_size=32, epsilon_decay=0.93, gamma=0.9, learning_rate=0.003,
              lr_decay=1.0, batch_size=32, memory_capacity=2000, target_update_freq=50,
              max_turns_per_episode=30, seed=0, device="cpu")
# Snake, small enough for seconds per run.
SNAKE = dict(training_episodes=8, memory_capacity=400, batch_size=16, layer_size=16,
             max_turns_per_episode=80, target_update_freq=20, seed=1234, device="cpu",
             prioritize_experiences=True)


@pytest.fixture(autouse=True)
def _one_torch_thread():
    with one_torch_thread():
        yield


@pytest.fixture(scope="module")
def learned(tmp_path_factory) -> Path:
    """A corridor run with an evaluation and a checkpoint every 4 episodes."""
    run = tmp_path_factory.mktemp("best") / "run"
    with one_torch_thread():
        DQNTrainer(create_corridor, corridor_metadata(), run, training_episodes=60,
                   eval_every=4, eval_episodes=2, checkpoint_every=4,
                   objective_checkpoint="best", **LEARNS).train()
    return run


def lines(run: Path, prefix: str) -> list[str]:
    text = (run / "training.log").read_text(encoding="utf-8")
    return [line for line in text.splitlines() if line.startswith(prefix)]


def weights(path: Path) -> dict[str, torch.Tensor]:
    return torch.load(path, weights_only=True)["model"]


def assert_same_weights(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for name in a:
        assert torch.equal(a[name], b[name]), name


# ------------------------------------------------------------------- best.pt


def test_best_pt_is_the_checkpoint_with_the_highest_evaluation(learned):
    run = RunDirectory(learned)
    evaluations = run.training_evaluations()
    assert [e["episode"] for e in evaluations] == list(range(4, 61, 4))
    means = [e["mean"] for e in evaluations]
    # Learning is certain here: the evaluations reach the optimum, and did not start there.
    assert max(means) == 10.0 and means[0] < 10.0
    best_episode = evaluations[means.index(10.0)]["episode"]
    # "new best" marks exactly the evaluations better than every one before them.
    assert [e["best"] for e in evaluations] == [m > max(means[:i], default=-1e9)
                                                for i, m in enumerate(means)]

    state = torch.load(run.best_checkpoint_path, weights_only=True)
    assert state["episode"] == best_episode
    assert state["best_evaluation"]["mean"] == 10.0
    assert state["best_evaluation"]["episode"] == best_episode
    assert_same_weights(state["model"],
                        weights(run.checkpoint_dir / f"ep_{best_episode:04d}.pt"))
    # The logged figures are reproduced by evaluating the saved file the same way.
    assert evaluate(learned, "best", episodes=2).mean == 10.0
    # best.pt never stands for the newest checkpoint, and has no replay companion.
    assert run.checkpoint_path("latest").name == "final.pt"
    assert not (run.checkpoint_dir / "best.replay.pt").exists()
    assert [p.name for p in run.replay_files()] == ["final.replay.pt"]


def test_objective_checkpoint_best_scores_best_pt_and_falls_back_to_final(learned, tmp_path):
    assert evaluate_run(learned) == 10.0  # objective_checkpoint = "best"
    run = tmp_path / "no_evaluations"
    DQNTrainer(create_corridor, corridor_metadata(), run, training_episodes=2, eval_every=0,
               eval_episodes=1, objective_checkpoint="best", **LEARNS).train()
    assert not RunDirectory(run).best_checkpoint_path.exists()
    assert evaluate_run(run) == evaluate(run, "final").mean


# ------------------------------------------------- training is unchanged by evaluations


def snake_trainer(run: Path, **changes) -> DQNTrainer:
    from retro.examples.snake import create_game

    return DQNTrainer(create_game, GameMetadata.from_pyproject("retro.examples.snake"), run,
                      **{**SNAKE, **changes})


def test_evaluations_change_no_episode_and_no_weight(tmp_path):
    snake_trainer(tmp_path / "off", eval_every=0).train()
    snake_trainer(tmp_path / "on", eval_every=2, eval_episodes=3).train()
    on, off = tmp_path / "on", tmp_path / "off"
    assert len(lines(on, "# eval after episode")) == 4
    assert lines(on, "[EP ") == lines(off, "[EP ")
    assert_same_weights(weights(on / "checkpoints" / "final.pt"),
                        weights(off / "checkpoints" / "final.pt"))


def test_resume_after_a_crash_is_exact_with_evaluations_on(tmp_path):
    """A crash after an evaluation wrote its line and best.pt, before the next checkpoint."""
    settings = dict(eval_every=2, eval_episodes=3, checkpoint_every=3)
    whole = tmp_path / "whole"
    snake_trainer(whole, **settings).train()

    class Crash(Exception):
        pass

    def crash_at_episode_5(stats):
        if stats.episode == 5:
            raise Crash

    crashed = tmp_path / "crashed"
    with pytest.raises(Crash):
        trainer = snake_trainer(crashed, **settings)
        trainer.on_episode = crash_at_episode_5
        trainer.train()
    # Left behind: ep_0003.pt, and the evaluation of episode 4 with its best.pt.
    assert lines(crashed, "# eval after episode 4")
    snake_trainer(crashed).train(resume="latest")

    assert lines(crashed, "[EP ") == lines(whole, "[EP ")
    assert lines(crashed, "# eval") == lines(whole, "# eval")
    for name in ("final.pt", "best.pt"):
        assert_same_weights(weights(crashed / "checkpoints" / name),
                            weights(whole / "checkpoints" / name))


# ------------------------------------------------------------ --checkpoint best


def test_play_eval_and_info_take_checkpoint_best(learned, tmp_path):
    best = torch.load(RunDirectory(learned).best_checkpoint_path, weights_only=True)

    result = run_in_process("eval", learned, "--checkpoint", "best", "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout)
    assert record["checkpoint"] == "best" and record["checkpoint_episode"] == best["episode"]
    assert (learned / "eval" / "best.json").is_file()

    cast = tmp_path / "best.cast"
    result = run_in_process("play", learned, "--checkpoint", "best", "--record", cast,
                            cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Score: 10 " in result.stdout and cast.is_file()

    result = run_in_process("info", learned, "--checkpoint", "best", "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["kind"] == "checkpoint" and summary["episode"] == best["episode"]
    assert summary["evaluation_during_training"]["mean"] == 10.0
    assert summary["evaluation"]["episodes"] == record["episodes"]
    result = run_in_process("info", learned, "--checkpoint", "best", cwd=tmp_path)
    assert result.returncode == 0 and "evaluation during training" in result.stdout

    result = run_in_process("info", learned, "--json", cwd=tmp_path)
    summary = json.loads(result.stdout)
    assert [c["name"] for c in summary["checkpoints"]][-2:] == ["final", "best"]
    assert len(summary["training_evaluations"]) == 15
    result = run_in_process("info", learned, cwd=tmp_path)
    assert f"after episode {best['episode']} (checkpoint best)" in result.stdout


@pytest.mark.parametrize("command", [["eval"], ["play", "--record", "x.cast"], ["info"]])
def test_checkpoint_best_without_evaluations_is_a_clean_error(tmp_path, command):
    run = tmp_path / "run"
    DQNTrainer(create_corridor, corridor_metadata(), run, training_episodes=1, eval_every=0,
               **LEARNS).train()
    before = sorted(p.name for p in run.rglob("*"))
    result = run_in_process(command[0], run, "--checkpoint", "best", *command[1:], cwd=tmp_path)
    assert result.returncode == 2
    assert "no best checkpoint yet" in result.stderr and "eval_every" in result.stderr
    assert "Traceback" not in result.stderr
    assert sorted(p.name for p in run.rglob("*")) == before
