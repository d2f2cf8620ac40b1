"""The run directory: config.toml edits that keep the user's text, checkpoints, safe loading."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import pytest
import tomlkit
import torch
from gamekit import corridor_metadata

from retro_gamer.config import Hyperparameters
from retro_gamer.errors import CheckpointError, ConfigError, RunDirectoryError
from retro_gamer.run_dir import RunDirectory, atomic_write, episode_line


@pytest.fixture
def run(tmp_path) -> RunDirectory:
    """A run directory holding a fresh config.toml for the corridor game."""
    run = RunDirectory(tmp_path / "run")
    run.write_new_config(corridor_metadata(), Hyperparameters(training_episodes=50))
    return run


def leftovers(folder: Path) -> list[str]:
    """Temporary files a write might have left behind."""
    return [p.name for p in folder.rglob("*") if p.name.endswith(".tmp") or ".tmp" in p.name]


def save(path: Path, **state) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"model": {"w": torch.zeros(2)}, **state}, path)
    return path


# ---------------------------------------------------------------------- config.toml


def test_update_config_keeps_the_users_text_byte_for_byte(run):
    text = run.config_path.read_text(encoding="utf-8")
    assert "batch_size = 64\n" in text and "gamma = 0.99\n" in text
    edited = (
        "# My snake experiment -- do not delete this line.\n\n"
        + text.replace("gamma = 0.99\n", "gamma    = 0.99   # tuned by hand, keep\n")
        .replace("[hyperparameters]\n", "[hyperparameters]\n# try 32 next\n")
        .replace("epsilon = 1.0\n", "epsilon = 1.0  # full exploration\n")
        .replace("batch_size = 64\n", "batch_size = 64  # was 128\n")
    )
    run.config_path.write_text(edited, encoding="utf-8")

    run.update_config(hyper={"batch_size": 32, "gamma": 0.99, "epsilon": 1.0},
                      game={"character_set": ["@", "G", "X"]})

    after = run.config_path.read_text(encoding="utf-8")
    expected = edited.replace("batch_size = 64  #", "batch_size = 32  #").replace(
        'character_set = ["@", "G"]\n', 'character_set = ["@", "G", "X"]\n')
    assert after == expected
    metadata, hyper = run.read_config()
    assert hyper.batch_size == 32 and metadata.character_set == ["@", "G", "X"]


@pytest.mark.parametrize("change", [
    {"hyper": {"gamma": 2.0}},
    {"hyper": {"batch_size": 0}},
    {"hyper": {"batch_size": 20000}},  # more than memory_capacity
    {"hyper": {"gama": 0.9}},
    {"hyper": {"unknown_character_strategy": "grow"}},
    {"hyper": {"learning_rate": "fast"}},
    {"game": {"character_set": ["@@"]}},
    {"game": {"reward": ""}},
])
def test_invalid_values_are_never_written(run, change):
    before = run.config_path.read_bytes()
    with pytest.raises(ConfigError):
        run.update_config(**change)
    assert run.config_path.read_bytes() == before
    assert leftovers(run.path) == []


def test_read_config_names_the_file_and_the_key(run):
    run.config_path.write_text(
        run.config_path.read_text().replace("gamma = 0.99", "gamma = 7"), encoding="utf-8")
    with pytest.raises(ConfigError) as excinfo:
        run.read_config()
    assert "config.toml" in str(excinfo.value) and "gamma" in str(excinfo.value)

    run.config_path.write_text("[game\nmodule = 'x'\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid TOML"):
        run.read_config()


def test_new_config_documents_every_key(run):
    doc = tomlkit.parse(run.config_path.read_text(encoding="utf-8"))
    defaults = Hyperparameters().to_dict()
    assert set(doc["hyperparameters"]) == {k for k, v in defaults.items() if v is not None}
    text = run.config_path.read_text(encoding="utf-8")
    assert "# Discount factor" in text  # each key's description is a comment
    assert "seed = (not set yet" in text  # an unset optional value says so


# -------------------------------------------------------------------- checkpoints


@pytest.fixture
def with_checkpoints(run) -> RunDirectory:
    save(run.named_checkpoint(2), episode=2)
    save(run.named_checkpoint(4), episode=4)
    save(run.named_checkpoint(None), episode=4)
    return run


def test_checkpoint_path_resolves_every_documented_spelling(with_checkpoints, tmp_path,
                                                            monkeypatch):
    run = with_checkpoints
    folder = run.checkpoint_dir
    assert run.checkpoint_path("final") == folder / "final.pt"
    assert run.checkpoint_path("ep_0002") == folder / "ep_0002.pt"
    assert run.checkpoint_path("ep_0002.pt") == folder / "ep_0002.pt"
    # final.pt was saved at episode 4 like ep_0004.pt, and after it
    assert run.checkpoint_path("latest") == folder / "final.pt"

    nested = save(folder / "old" / "ep_0001.pt", episode=1)
    assert run.checkpoint_path("old/ep_0001.pt") == nested  # relative to checkpoints/
    assert run.checkpoint_path("old/ep_0001") == nested

    elsewhere = save(tmp_path / "saved" / "mine.pt", episode=9)
    assert run.checkpoint_path(str(elsewhere)) == elsewhere  # absolute
    monkeypatch.chdir(tmp_path)
    assert run.checkpoint_path("saved/mine.pt").resolve() == elsewhere  # relative to here


def test_latest_is_the_highest_episode(run):
    save(run.named_checkpoint(None), episode=4)
    save(run.named_checkpoint(6), episode=6)
    save(run.named_checkpoint(2), episode=2)
    assert run.checkpoint_path("latest").name == "ep_0006.pt"
    assert [p.name for p in run.checkpoints()] == ["ep_0002.pt", "ep_0006.pt", "final.pt"]


def test_a_missing_checkpoint_lists_the_available_ones(with_checkpoints):
    with pytest.raises(CheckpointError) as excinfo:
        with_checkpoints.checkpoint_path("ep_0003")
    message = str(excinfo.value)
    assert "ep_0003" in message
    assert "ep_0002" in message and "ep_0004" in message and "final" in message


def test_latest_without_checkpoints_is_a_checkpoint_error(run):
    with pytest.raises(CheckpointError):
        run.checkpoint_path("latest")
    with pytest.raises(CheckpointError, match="none yet"):
        run.checkpoint_path("final")


def test_a_truncated_checkpoint_is_refused(run):
    path = save(run.named_checkpoint(None), episode=1, big=torch.randn(1000))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="final.pt"):
        run.load_checkpoint(path)
    path.write_bytes(b"")
    with pytest.raises(CheckpointError):
        run.load_checkpoint(path)


def test_a_torch_file_that_is_not_a_checkpoint_is_refused(run):
    path = run.checkpoint_dir / "final.pt"
    path.parent.mkdir()
    torch.save([1, 2, 3], path)
    with pytest.raises(CheckpointError, match="not a retro-gamer checkpoint"):
        run.load_checkpoint(path)


class MakesAFile:
    """Unpickling this runs ``open(marker, "w")``: what a hostile checkpoint would do."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
@pytest.mark.parametrize("writer", ["torch.save", "pickle"])
def test_a_checkpoint_that_would_run_code_is_refused_without_running_it(run, tmp_path, writer):
    marker = tmp_path / "code-ran"
    path = run.named_checkpoint(None)
    path.parent.mkdir()
    payload = {"model": {"w": torch.zeros(1)}, "epsilon": MakesAFile(marker)}
    if writer == "torch.save":
        torch.save(payload, path)
    else:
        with open(path, "wb") as handle:
            pickle.dump(payload, handle)

    with pytest.raises(CheckpointError):
        run.load_checkpoint(path)
    assert not marker.exists()
    # "latest" looks inside final.pt for its episode: that must not run it either.
    run.checkpoint_path("latest")
    assert not marker.exists()

    # The file really is hostile: unrestricted unpickling runs its code.
    with open(path, "rb") as handle:
        if writer == "pickle":
            pickle.load(handle)
        else:
            torch.load(handle, weights_only=False)
    assert marker.exists()


def test_checkpoint_and_replay_companion_round_trip(run):
    state = {"model": {"w": torch.arange(3.0)}, "epsilon": 0.5, "train_steps": 7}
    replay = {"rewards": torch.ones(4), "size": 4, "capacity": 10}
    first = run.named_checkpoint(1)
    run.save_checkpoint(first, state, replay)
    loaded = run.load_checkpoint(first)
    assert loaded["epsilon"] == 0.5 and torch.equal(loaded["model"]["w"], torch.arange(3.0))
    assert run.load_replay(first)["size"] == 4

    second = run.named_checkpoint(2)
    run.save_checkpoint(second, state, replay)
    # Only the newest replay companion is kept; both checkpoints are.
    assert run.load_replay(first) is None and run.load_replay(second) is not None
    assert [p.name for p in run.checkpoints()] == ["ep_0001.pt", "ep_0002.pt"]
    assert leftovers(run.path) == []


def test_checkpoints_holds_only_checkpoints_and_the_replay_buffer_has_its_own_folder(run):
    state = {"model": {"w": torch.arange(3.0)}, "optimizer": {"lr": 0.1}, "epsilon": 0.5}
    replay = {"rewards": torch.ones(4), "size": 4, "capacity": 10}
    run.save_checkpoint(run.named_checkpoint(1), state, replay, resume_only=("optimizer",))
    run.save_checkpoint(run.best_checkpoint_path, state)
    run.save_checkpoint(run.named_checkpoint(2), state, replay, resume_only=("optimizer",))
    # What the specification lists (and best.pt), nothing else.
    assert sorted(p.name for p in run.checkpoint_dir.iterdir()) == [
        "best.pt", "ep_0001.pt", "ep_0002.pt"]
    assert sorted(p.name for p in (run.path / "replay").iterdir()) == ["ep_0002.replay.pt"]
    assert run.replay_path(run.named_checkpoint(2)) == run.path / "replay" / "ep_0002.replay.pt"
    assert "optimizer" not in run.load_checkpoint(run.named_checkpoint(1))
    assert "optimizer" in run.load_checkpoint(run.named_checkpoint(2))
    assert run.checkpoint_path("latest") == run.named_checkpoint(2)


def test_a_replay_buffer_where_old_runs_kept_it_is_read_and_retired_at_the_next_save(run):
    state = {"model": {"w": torch.arange(3.0)}, "optimizer": {"lr": 0.1}}
    first = run.named_checkpoint(1)
    run.save_checkpoint(first, state, {"size": 4, "capacity": 10})
    old_place = run.checkpoint_dir / "ep_0001.replay.pt"
    (run.path / "replay" / "ep_0001.replay.pt").rename(old_place)

    assert run.replay_path(first) == old_place  # named so in messages ("delete ...")
    assert run.load_replay(first)["size"] == 4
    second = run.named_checkpoint(2)
    run.save_checkpoint(second, state, {"size": 5, "capacity": 10},
                        resume_only=("optimizer",))
    assert not old_place.exists()  # superseded by the newer buffer, as in replay/
    assert run.load_replay(second)["size"] == 5
    assert "optimizer" not in run.load_checkpoint(first)
    assert sorted(p.name for p in run.checkpoint_dir.iterdir()) == ["ep_0001.pt", "ep_0002.pt"]


def test_leftovers_of_a_killed_write_go_from_replay_too(run):
    run.save_checkpoint(run.named_checkpoint(1), {"model": {}}, {"size": 0})
    for folder in (run.path, run.checkpoint_dir, run.path / "replay"):
        (folder / ".ep_0002.replay.pt.abc123.tmp").write_bytes(b"half")
    run.remove_partial_writes()
    assert leftovers(run.path) == []
    assert run.load_replay(run.named_checkpoint(1)) == {"size": 0}


# ------------------------------------------------------------------ atomic writes


def test_writes_leave_no_temporary_files(run):
    run.update_config(hyper={"gamma": 0.9})
    run.start_log("Architecture\n  test")
    run.append_log(episode_line(1, 1.5, 3, 1.0, 0.25))
    run.save_checkpoint(run.named_checkpoint(None), {"model": {}}, {"size": 0})
    assert leftovers(run.path) == []
    names = sorted(p.name for p in run.path.iterdir() if not p.name.startswith(".retro-gamer"))
    assert names == ["checkpoints", "config.toml", "evaluations.csv", "metrics.csv", "replay",
                     "training.log"]
    assert run.episode_lines() == [
        "[EP 0001] total_reward=1.5000 steps=3 epsilon=1.0000 avg_loss=0.250000"]
    assert run.episodes() == [
        {"episode": 1, "total_reward": 1.5, "steps": 3, "epsilon": 1.0, "avg_loss": 0.25}]


def test_a_failed_write_keeps_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    target = tmp_path / "config.toml"
    target.write_bytes(b"old contents\n")

    def fail(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(RunDirectoryError, match="Could not write .*config.toml: disk full"):
        atomic_write(target, b"new contents\n")
    assert target.read_bytes() == b"old contents\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.toml"]

    monkeypatch.undo()
    atomic_write(target, b"new contents\n")
    assert target.read_bytes() == b"new contents\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.toml"]


def test_truncate_log_after_drops_later_episodes_and_adds_a_marker(run):
    run.start_log("header line")
    for episode in range(1, 6):
        run.append_log(episode_line(episode, 0.0, 1, 1.0, 0.0))
    run.truncate_log_after(3, "# resumed from ep_0003.pt")
    lines = run.log_path.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "header line"
    assert [line[:9] for line in lines[1:4]] == ["[EP 0001]", "[EP 0002]", "[EP 0003]"]
    assert lines[4:] == ["# resumed from ep_0003.pt"]
