"""Settings travel as objects: config.toml is read once and written once on the way from
``retro-gamer train`` to the optimizer; the trainer trains on objects alone; new
characters come back from ``GameEnvironment.act`` and reach config.toml through one writer."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest
import tomlkit
from cli_runners import environment
from conftest import one_torch_thread
from gamekit import (
    CORRIDOR_PYPROJECT,
    CORRIDOR_WIDTH,
    GAMES_SOURCE,
    corridor_metadata,
    create_corridor,
    create_spawner,
)

from retro_gamer import GameEnvironment
from retro_gamer.config import Hyperparameters
from retro_gamer.runs import create_run
from retro_gamer.settings import Discoveries
from retro_gamer.trainer import DQNTrainer

TINY = dict(n_layers=1, layer_size=16, batch_size=8, memory_capacity=200,
            max_turns_per_episode=12, device="cpu", torch_threads=1)

# Runs `retro-gamer train` through its entry point, recording in order every read and
# every write of RUN/config.toml (Python's audit events see each open, os.open and
# os.replace, whichever code makes them), the optimizer's creation with its learning
# rate, and the end of training.
COUNTING_TRAIN = textwrap.dedent("""\
    import json, os, sys

    run, record, overrides = sys.argv[1], sys.argv[2], sys.argv[3:]
    config = os.path.realpath(os.path.join(run, "config.toml"))
    events = []

    def is_config(path):
        try:
            return os.path.realpath(os.fsdecode(path)) == config
        except TypeError:  # a file descriptor
            return False

    def hook(event, args):
        if event == "open" and is_config(args[0]):
            mode, flags = args[1], args[2] or 0
            writing = any(c in (mode or "") for c in "wax+") or bool(
                flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC))
            events.append("write" if writing else "read")
        elif event == "os.rename" and is_config(args[1]):
            events.append("write")

    sys.addaudithook(hook)
    import retro_gamer.learner as learner
    import retro_gamer.trainer as trainer

    adam, train = learner.adam, trainer.DQNTrainer.train

    def counted_adam(params, lr):
        events.append(f"optimizer lr={lr}")
        return adam(params, lr)

    def counted_train(self, *args, **kwargs):
        try:
            return train(self, *args, **kwargs)
        finally:
            events.append("trained")

    learner.adam, trainer.DQNTrainer.train = counted_adam, counted_train
    from retro_gamer.cli import main

    code = main(["train", run, *overrides])
    with open(record, "w") as out:
        json.dump({"code": code, "events": events}, out)
""")


@pytest.fixture(autouse=True)
def _one_torch_thread():
    with one_torch_thread():
        yield


def test_train_reads_config_once_and_writes_it_once_before_the_optimizer_sees_the_value(
        tmp_path, game_project):
    project = game_project(pyproject=CORRIDOR_PYPROJECT, source=GAMES_SOURCE)
    run = tmp_path / "run"
    create_run(project.module, run, {"training_episodes": 2, "seed": 3, **TINY})
    text = (run / "config.toml").read_text(encoding="utf-8")
    (run / "config.toml").write_text("# my notes on this run\n" + text, encoding="utf-8")
    record = tmp_path / "events.json"

    done = subprocess.run(
        [sys.executable, "-c", COUNTING_TRAIN, str(run), str(record), "gamma=0.95",
         "learning_rate=0.0007"],
        cwd=project.root, env=environment(), capture_output=True, text=True, timeout=300)

    assert done.returncode == 0, done.stderr
    result = json.loads(record.read_text())
    assert result["code"] == 0
    events = result["events"]
    # From the command line to the optimizer: one read; the one write records the values
    # (and what training found) once everything is validated, before the first episode.
    assert events[:events.index("trained") + 1] == [
        "read", "optimizer lr=0.0007", "write", "trained"]
    assert events.count("write") == 1
    written = (run / "config.toml").read_text(encoding="utf-8")
    assert written.startswith("# my notes on this run\n")
    values = tomlkit.parse(written).unwrap()["hyperparameters"]
    assert values["gamma"] == 0.95 and values["learning_rate"] == 0.0007


class RecordedConfig:
    """A config writer that keeps what it is given in memory."""

    def __init__(self):
        self.records: list[tuple] = []

    def record(self, metadata, hyperparameters, found) -> None:
        self.records.append((metadata, hyperparameters, found))


def test_the_trainer_trains_on_objects_and_never_reads_config_toml(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    # Not TOML at all: reading it would fail, writing it would change it.
    (run / "config.toml").write_bytes(b"this is = not [ toml")
    writer = RecordedConfig()
    hyper = Hyperparameters(training_episodes=3, seed=4, unknown_character_strategy="extend",
                            **TINY)

    result = DQNTrainer(create_spawner, corridor_metadata(), run, hyper,
                        config_writer=writer).train()

    assert result.episodes_done == 3
    assert (run / "config.toml").read_bytes() == b"this is = not [ toml"
    assert hyper.seed == 4 and hyper.training_episodes == 3  # the caller's object untouched
    found = [record[2] for record in writer.records]
    # Recorded before the first episode, then again when the X appeared (turn 3).
    assert found == [Discoveries(("@", "G"), (CORRIDOR_WIDTH, 1), 4),
                     Discoveries(("@", "G", "X"), (CORRIDOR_WIDTH, 1), 4)]
    assert result.discovered == found[-1]
    assert writer.records[0][1].gamma == hyper.gamma


def test_a_run_trained_on_objects_resumes_without_config_toml(tmp_path):
    run = tmp_path / "run"
    settings = dict(seed=2, checkpoint_every=1, **TINY)
    DQNTrainer(create_spawner, corridor_metadata(), run,
               Hyperparameters(training_episodes=2, **settings),
               config_writer=RecordedConfig()).train()
    writer = RecordedConfig()

    result = DQNTrainer(create_spawner, corridor_metadata(), run,
                        Hyperparameters(training_episodes=3, **settings),
                        config_writer=writer).train(resume="latest")

    assert result.episodes_done == 3
    assert not (run / "config.toml").exists()
    assert [record[2].seed for record in writer.records] == [2]


def test_the_player_found_for_an_egocentric_view_comes_back_with_the_discoveries(tmp_path):
    writer = RecordedConfig()
    result = DQNTrainer(create_corridor, corridor_metadata(spatial=True), tmp_path / "run",
                        Hyperparameters(training_episodes=1, seed=1, **TINY),
                        config_writer=writer).train()
    assert result.discovered.player_characters == ("@",)  # the walker, found by center_on=auto
    assert writer.records[0][1].center_on == "auto"  # what the user wrote is what is recorded


def test_keywords_override_an_object_and_leave_it_unchanged(tmp_path):
    hyper = Hyperparameters(training_episodes=5, **TINY)
    trainer = DQNTrainer(create_spawner, corridor_metadata(), tmp_path / "run", hyper,
                         config_writer=RecordedConfig(), training_episodes=1, gamma=0.5)
    assert (trainer.hp.training_episodes, trainer.hp.gamma) == (1, 0.5)
    assert hyper.training_episodes == 5
    with pytest.raises(Exception, match="gama"):
        DQNTrainer(create_spawner, corridor_metadata(), tmp_path / "run", hyper, gama=0.9)


def test_act_reports_characters_the_set_lacks_when_they_appear():
    env = GameEnvironment(create_spawner, corridor_metadata())
    env.start()
    reported = [env.act(env.action_index(None)).new_characters for _ in range(5)]
    # The spawner adds an X during turn 3; not added, it is reported on every turn it shows.
    assert reported == [frozenset(), frozenset()] + [frozenset("X")] * 3
    assert not (env.board == 3).any()

    env.add_characters(["X"])
    assert env.character_set == ["@", "G", "X"]
    assert (env.board == 3).any()  # the board is encoded again with the new channel
    assert env.act(env.action_index(None)).new_characters == frozenset()
