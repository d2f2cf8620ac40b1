"""Hostile inputs at every entry point: each gets one clear message and changes nothing.

The corpus below feeds bad input to ``retro-gamer`` through each door a user has:
a game's ``[tool.retro-gamer]`` section, a hand-edited ``config.toml``, Hydra
overrides, command-line options, and checkpoint files. Every case must give one
message naming the problem (a key phrase is asserted), exit non-zero, show no
traceback, and leave every file of the run directory as it was (hashed before
and after).

The corpus runs through the command's own ``main()`` in this process, which is
the whole command but the interpreter start-up (a Python exception escaping
``main()`` counts as the traceback a user would see); a sample of it, the
pickle, lock and crash tests run as real processes.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import pickle
import re
import resource
import shlex
import shutil
import signal
import subprocess
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from cli_runners import environment, finish, run_in_process, start
from conftest import CHAR_GAME_PYPROJECT, CHAR_GAME_SOURCE
from gamekit import corridor_metadata, create_corridor

from retro_gamer.run_dir import LOCK_NAME, RunDirectory
from retro_gamer.runs import create_run, train_run
from retro_gamer.trainer import DQNTrainer

SNAKE = "retro.examples.snake"
TINY = {"training_episodes": 2, "memory_capacity": 200, "batch_size": 8, "layer_size": 16,
        "n_layers": 1, "eval_episodes": 1, "max_turns_per_episode": 50, "train_every": 4,
        "torch_threads": 1, "device": "cpu", "seed": 1}
TINY_OPTIONS = ["--training-episodes", "2", "--memory-capacity", "200", "--batch-size", "8",
                "--layer-size", "16", "--n-layers", "1", "--eval-episodes", "1",
                "--max-turns-per-episode", "50", "--torch-threads", "1", "--device", "cpu"]


# ------------------------------------------------------------------------- helpers




def run_cli(args, cwd: Path) -> subprocess.CompletedProcess:
    return run_in_process(*args, cwd=cwd)






def refused(result: subprocess.CompletedProcess, *phrases: str) -> str:
    """One clean error: non-zero exit, no traceback, every phrase in the message."""
    output = result.stdout + result.stderr
    assert result.returncode not in (0, None), output[-3000:]
    assert "Traceback" not in output, output[-3000:]
    message = " ".join(result.stderr.split())
    assert message, "a message on stderr"
    for phrase in phrases:
        assert phrase in message, message
    return message


def snapshot(folder: Path) -> dict[str, str]:
    """Every file and folder under ``folder`` (hidden ones too) with its content's hash."""
    if not folder.exists():
        return {}
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            if p.is_file() else "<dir>"
            for p in sorted(folder.rglob("*")) if "__pycache__" not in p.parts}


def set_line(key: str, line: str | None) -> Callable[[Path], None]:
    """An edit of config.toml: replace the line ``key = ...`` (None: delete it)."""
    def edit(run: Path) -> None:
        path = run / "config.toml"
        text = path.read_text(encoding="utf-8")
        pattern = re.compile(rf"^{re.escape(key)} = .*\n", re.M)
        assert pattern.search(text), key
        path.write_text(pattern.sub("" if line is None else line + "\n", text, count=1),
                        encoding="utf-8")
    return edit


def rewrite(change: Callable[[str], str]) -> Callable[[Path], None]:
    def edit(run: Path) -> None:
        path = run / "config.toml"
        path.write_text(change(path.read_text(encoding="utf-8")), encoding="utf-8")
    return edit


def write_bytes(relative: str, data: bytes) -> Callable[[Path], None]:
    def edit(run: Path) -> None:
        (run / relative).write_bytes(data)
    return edit


def truncate_final(run: Path) -> None:
    path = run / "checkpoints" / "final.pt"
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])


def remove_config(run: Path) -> None:
    (run / "config.toml").unlink()


def config_is_a_folder(run: Path) -> None:
    (run / "config.toml").unlink()
    (run / "config.toml").mkdir()


def without_table(name: str) -> Callable[[Path], None]:
    """The edit that removes the table ``name`` with its subtables (``[name.sub]``)."""
    def drop(text: str) -> str:
        start = text.index(f"[{name}]")
        end = start
        while (end := text.find("\n[", end + 1)) >= 0 and text.startswith(f"[{name}.", end + 1):
            pass
        return text[:start] + ("" if end < 0 else text[end + 1:])
    return rewrite(drop)


def project_run(game_project, source: str, options: list[str] = TINY_OPTIONS
                ) -> tuple:
    """A game project with this source and a run of it created (``create``) in its folder."""
    project = game_project(source=source)
    created = run_cli(["create", "--game", project.module, "--output", "run", *options],
                      cwd=project.root)
    assert created.returncode == 0, created.stderr
    return project, project.root / "run"


# ------------------------------------------------------------------------ fixtures


@pytest.fixture(scope="module")
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def runs(tmp_path_factory, one_thread) -> dict[str, Path]:
    """Run directories and files the corpus starts from (tests work on copies).

    ``fresh``: a Snake run, created, never trained; ``trained``: trained two episodes;
    ``foreign/``: checkpoint files that do not belong to it.
    """
    root = tmp_path_factory.mktemp("hostile")
    fresh = create_run(SNAKE, root / "fresh", TINY).path
    trained = root / "trained"
    shutil.copytree(fresh, trained)
    train_run(trained)
    wider = create_run(SNAKE, root / "wider", {**TINY, "layer_size": 32,
                                               "training_episodes": 1}).path
    train_run(wider)
    corridor = root / "corridor"
    DQNTrainer(create_corridor, corridor_metadata(), corridor, training_episodes=1,
               n_layers=1, layer_size=8, batch_size=4, memory_capacity=50,
               max_turns_per_episode=10, device="cpu", seed=0).train()

    foreign = root / "foreign"
    foreign.mkdir()
    good = (trained / "checkpoints" / "final.pt").read_bytes()
    (foreign / "truncated.pt").write_bytes(good[: len(good) // 2])
    (foreign / "random.pt").write_bytes(os.urandom(4096))
    (foreign / "empty.pt").write_bytes(b"")
    (foreign / "text.pt").write_text("not a checkpoint\n")
    torch.save(torch.zeros(3), foreign / "tensor.pt")
    torch.save({"weights": torch.zeros(3)}, foreign / "dict.pt")
    shutil.copy(corridor / "checkpoints" / "final.pt", foreign / "other_game.pt")
    write_zip_bomb(foreign / "bomb.pt")
    shutil.copy(wider / "checkpoints" / "final.pt", foreign / "other_shape.pt")
    return {"root": root, "fresh": fresh, "trained": trained, "foreign": foreign}


def write_zip_bomb(path: Path, expands_to: int = 256 << 20) -> None:
    """A torch-like archive whose data.pkl deflates from a few hundred KiB to
    ``expands_to`` bytes (issue 25, 6: a real one of 8 GB hung ``info`` for minutes)."""
    chunk = bytes(1 << 20)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive, \
            archive.open("archive/data.pkl", "w", force_zip64=True) as entry:
        for _ in range(expands_to // len(chunk)):
            entry.write(chunk)


# ------------------------------------------------------------------------ the corpus


@dataclasses.dataclass
class Case:
    """``args`` may hold ``{run}`` (the run directory) and ``{foreign}`` (foreign files)."""

    args: list[str]
    says: list[str]
    base: str = "fresh"  # the run directory to start from: fresh or trained
    edit: Callable[[Path], None] | None = None


CONFIG_CASES = {
    "gamma-a-string": Case(["train", "{run}"], ["gamma must be a number", "'high'",
                                                "config.toml"], edit=set_line(
        "gamma", 'gamma = "high"')),
    "unknown-key": Case(["train", "{run}"], ["Unknown hyperparameter 'gamam'",
                                             "Did you mean 'gamma'?"],
                        edit=set_line("gamma", "gamma = 0.9\ngamam = 0.9")),
    "unknown-table": Case(["train", "{run}"], ["unknown top-level entry 'extra'"],
                          edit=rewrite(lambda t: t + "\n[extra]\nx = 1\n")),
    "no-game-table": Case(["train", "{run}"], ["has no [game] table"],
                          edit=without_table("game")),
    "no-hyperparameters-table": Case(["train", "{run}"], ["has no [hyperparameters] table"],
                                     edit=without_table("hyperparameters")),
    "invalid-toml": Case(["train", "{run}"], ["is not valid TOML", "line"],
                         edit=set_line("gamma", "gamma = = 0.9")),
    "duplicate-key": Case(["train", "{run}"], ["is not valid TOML", "gamma"],
                          edit=set_line("gamma", "gamma = 0.9\ngamma = 0.8")),
    "not-utf8": Case(["train", "{run}"], ["is not UTF-8 text"],
                     edit=write_bytes("config.toml", b"\xff\xfe[game]\x00\x81")),
    "empty-file": Case(["train", "{run}"], ["has no [game] table"],
                       edit=write_bytes("config.toml", b"")),
    "huge-batch-size": Case(["train", "{run}"], ["batch_size must be an integer in [1, 65536]",
                                                 str(10**30)],
                            edit=set_line("batch_size", f"batch_size = {10**30}")),
    "gamma-nan": Case(["train", "{run}"], ["gamma is nan"], edit=set_line("gamma", "gamma = nan")),
    "gamma-inf": Case(["train", "{run}"], ["gamma must be a number", "inf"],
                      edit=set_line("gamma", "gamma = inf")),
    "negative-memory": Case(["train", "{run}"], ["memory_capacity must be an integer", "-5"],
                            edit=set_line("memory_capacity", "memory_capacity = -5")),
    "epsilon-min-above-epsilon": Case(
        ["train", "{run}"], ["epsilon_min (0.9) is larger than epsilon (0.5)"],
        edit=lambda run: (set_line("epsilon", "epsilon = 0.5")(run),
                          set_line("epsilon_min", "epsilon_min = 0.9")(run))),
    "batch-above-memory": Case(["train", "{run}"], ["batch_size (300) is larger than "
                                                    "memory_capacity (200)"],
                               edit=set_line("batch_size", "batch_size = 300")),
    "boolean-for-int": Case(["train", "{run}"], ["batch_size must be an integer", "boolean"],
                            edit=set_line("batch_size", "batch_size = true")),
    "float-for-int": Case(["train", "{run}"], ["layer_size must be an integer", "8.5"],
                          edit=set_line("layer_size", "layer_size = 8.5")),
    "date-for-float": Case(["train", "{run}"], ["gamma must be a number"],
                           edit=set_line("gamma", "gamma = 1979-05-27")),
    "unknown-device": Case(["train", "{run}"], ["device must be one of", "'tpu'"],
                           edit=set_line("device", 'device = "tpu"')),
    "missing-module": Case(["train", "{run}"], ["Cannot find the game module "
                                                "'no_such_game_module'"],
                           edit=set_line("module", 'module = "no_such_game_module"')),
    "module-not-a-string": Case(["train", "{run}"], ["'module' must be a module name string"],
                                edit=set_line("module", "module = 3")),
    "no-module-line": Case(["train", "{run}"], ["'module' is missing"],
                           edit=set_line("module", None)),
    "actions-not-a-list": Case(["train", "{run}"], ["'actions' must be a list"],
                               edit=set_line("actions", 'actions = "KEY_UP"')),
    "reward-not-in-state": Case(["train", "{run}"], ["reward key 'nope' is not in the game's "
                                                     "state"],
                                edit=set_line("reward", 'reward = "nope"')),
    "bad-board-size": Case(["train", "{run}"], ["'board_size' must be [width, height]"],
                           edit=set_line("board_size", "board_size = [0, 3]")),
    "two-letter-character": Case(["train", "{run}"], ["'ab' is not a single character"],
                                 edit=set_line("character_set", 'character_set = ["ab"]')),
    "no-config-file": Case(["train", "{run}"], ["has no config.toml"], edit=remove_config),
    "config-is-a-folder": Case(["train", "{run}"], ["has no config.toml"],
                               edit=config_is_a_folder),
    "info-on-a-broken-config": Case(["info", "{run}"], ["gamma must be a number"],
                                    edit=set_line("gamma", 'gamma = "high"')),
    "play-on-a-broken-config": Case(["play", "{run}"], ["is not valid TOML"], base="trained",
                                    edit=set_line("gamma", "gamma = = 1")),
}

OVERRIDE_CASES = {
    "typo": Case(["train", "{run}", "gama=0.9"],
                 ["Unknown hyperparameter 'gama'. Did you mean 'gamma'?"]),
    "not-a-number": Case(["train", "{run}", "gamma=abc"], ["gamma must be a number", "'abc'"]),
    "out-of-range": Case(["train", "{run}", "gamma=1.5"], ["(0.0, 1.0]", "1.5"]),
    "add-a-field": Case(["train", "{run}", "+gamma=0.3"], ["would add a config key"]),
    "delete-a-field": Case(["train", "{run}", "~gamma"], ["would delete a config key"]),
    "add-a-new-key": Case(["train", "{run}", "+newkey=1"], ["would add a config key"]),
    "sweep-without-m": Case(["train", "{run}", "gamma=0.9,0.99"], ["lists several values"]),
    "unknown-launcher": Case(["train", "{run}", "hydra/launcher=nosuch"],
                             ["Unknown launcher 'nosuch'", "joblib"]),
    "unknown-sweeper": Case(["train", "{run}", "hydra/sweeper=nosuch"],
                            ["Unknown sweeper 'nosuch'", "optuna"]),
    "game-field-typo": Case(["train", "{run}", "game.actoins=[a]"],
                            ["Unknown game field 'actoins'. Did you mean 'actions'?"]),
    "parse-error": Case(["train", "{run}", "gamma=("], ["Overrides look like name=value"]),
    "composed-batch-above-memory": Case(["train", "{run}", "batch_size=1000"],
                                        ["larger than memory_capacity"]),
    "unknown-preset": Case(["train", "{run}", "preset=nosuch"], ["preset/nosuch"]),
    "unknown-sweep-config": Case(["train", "{run}", "-m", "sweep=nosuch"], ["sweep/nosuch"]),
    "unknown-hydra-setting": Case(["train", "{run}", "-m", "gamma=0.9", "hydra.nonsense=1"],
                                  ["hydra.nonsense"]),
    "game-module": Case(["train", "{run}", "game.module=foo"], ["cannot be overridden"]),
    "unknown-device": Case(["train", "{run}", "device=tpu"], ["device must be one of"]),
    "nan": Case(["train", "{run}", "gamma=nan"], ["gamma must be", "nan"]),
    "expression": Case(["train", "{run}", "layer_size=2**5"], ["layer_size must be an integer"]),
    "reward-not-in-state": Case(["train", "{run}", "game.reward=nosuchkey"],
                                ["reward key 'nosuchkey' is not in the game's state"]),
    "observe-the-reward": Case(["train", "{run}", "game.observe_state=[score]"],
                               ["contains the reward key 'score'"]),
    "resume-with-m": Case(["train", "{run}", "--resume", "latest", "-m", "gamma=0.9,0.99"],
                          ["cannot be combined with -m"], base="trained"),
}

OPTION_CASES = {
    "negative-episodes": Case(["create", "--game", SNAKE, "--output", "{run}/new",
                               "--training-episodes", "-5"],
                              ["training_episodes must be an integer", "-5"]),
    "gamma-not-a-number": Case(["create", "--game", SNAKE, "--output", "{run}/new",
                                "--gamma", "abc"], ["--gamma", "invalid float value: 'abc'"]),
    "negative-seed": Case(["create", "--game", SNAKE, "--output", "{run}/new", "--seed", "-1"],
                          ["seed must be an integer"]),
    "bad-choice": Case(["create", "--game", SNAKE, "--output", "{run}/new",
                        "--unknown-character-strategy", "drop"], ["invalid choice: 'drop'"]),
    "options-that-conflict": Case(["create", "--game", SNAKE, "--output", "{run}/new",
                                   "--batch-size", "100", "--memory-capacity", "10"],
                                  ["larger than memory_capacity"]),
    "center-on-a-character-the-description-lacks": Case(
        ["create", "--game", SNAKE, "--output", "{run}/new", "--center-on", "Q"],
        ["center_on lists 'Q'", "character set"]),
    "create-over-a-run": Case(["create", "--game", SNAKE, "--output", "{run}"],
                              ["is already a run directory"]),
    "create-a-game-override": Case(["create", "--game", SNAKE, "--output", "{run}/new",
                                    "game.reward=x"], ["create takes hyperparameters only"]),
    "relative-module": Case(["create", "--game", ".snake", "--output", "{run}/new"],
                            ["is not a Python module name"]),
    "no-such-module": Case(["create", "--game", "no_such_mod.sub", "--output", "{run}/new"],
                           ["Cannot find the game module 'no_such_mod.sub'"]),
    "builtin-module": Case(["create", "--game", "sys", "--output", "{run}/new"],
                           ["has no source file"]),
    "framerate-zero": Case(["play", "{run}", "--framerate", "0"],
                           ["--framerate must be at least 1"], base="trained"),
    "framerate-not-a-number": Case(["play", "{run}", "--framerate", "x"],
                                   ["invalid int value: 'x'"], base="trained"),
    "unknown-option": Case(["train", "{run}", "--bogus"], ["unrecognized arguments: --bogus"]),
    "unknown-command": Case(["frobnicate", "{run}"], ["invalid choice: 'frobnicate'"]),
    "bad-cfg-choice": Case(["train", "{run}", "--cfg", "bogus"], ["invalid choice: 'bogus'"]),
    "no-run-dir": Case(["train", "{run}/nowhere"], ["nowhere", "does not exist"]),
    "info-no-run-dir": Case(["info", "{run}/nowhere"], ["nowhere", "does not exist"]),
    "play-no-run-dir": Case(["play", "{run}/nowhere"], ["nowhere", "does not exist"]),
    "train-again-without-resume": Case(["train", "{run}"], ["already holds training progress",
                                                           "--resume latest"], base="trained"),
    "resume-without-checkpoints": Case(["train", "{run}", "--resume", "latest"],
                                       ["has no checkpoints yet"]),
    "unknown-checkpoint-name": Case(["play", "{run}", "--checkpoint", "ep_9999"],
                                    ["No checkpoint 'ep_9999'", "Available: final"],
                                    base="trained"),
}

CHECKPOINT_CASES = {}
for _file, _says in [
    ("truncated.pt", ["truncated.pt", "not a readable retro-gamer checkpoint"]),
    ("random.pt", ["random.pt", "not a readable retro-gamer checkpoint"]),
    ("empty.pt", ["empty.pt", "not a readable retro-gamer checkpoint"]),
    ("text.pt", ["text.pt", "not a readable retro-gamer checkpoint"]),
    ("tensor.pt", ["tensor.pt", "is a torch file but not a retro-gamer checkpoint"]),
    ("dict.pt", ["dict.pt", "is a torch file but not a retro-gamer checkpoint"]),
]:
    CHECKPOINT_CASES[f"play-{_file}"] = Case(
        ["play", "{run}", "--checkpoint", f"{{foreign}}/{_file}"], _says, base="trained")
    CHECKPOINT_CASES[f"resume-{_file}"] = Case(
        ["train", "{run}", "--resume", f"{{foreign}}/{_file}"], _says, base="trained")
BOMB_SAYS = ["bomb.pt", "claim to expand to 268,435,456", "not expanded"]
CHECKPOINT_CASES.update({
    "play-a-zip-bomb": Case(["play", "{run}", "--checkpoint", "{foreign}/bomb.pt"], BOMB_SAYS,
                            base="trained"),
    "resume-a-zip-bomb": Case(["train", "{run}", "--resume", "{foreign}/bomb.pt"], BOMB_SAYS,
                              base="trained"),
    "eval-a-zip-bomb": Case(["eval", "{run}", "--checkpoint", "{foreign}/bomb.pt"], BOMB_SAYS,
                            base="trained"),
    "info-a-zip-bomb": Case(["info", "{run}", "--checkpoint", "{foreign}/bomb.pt"], BOMB_SAYS,
                            base="trained"),
    "play-other-game": Case(["play", "{run}", "--checkpoint", "{foreign}/other_game.pt"],
                            ["is from the game 'gamekit_games'", "retro.examples.snake"],
                            base="trained"),
    "resume-other-game": Case(["train", "{run}", "--resume", "{foreign}/other_game.pt"],
                              ["is from the game 'gamekit_games'", "retro.examples.snake"],
                              base="trained"),
    "resume-other-shape": Case(["train", "{run}", "--resume", "{foreign}/other_shape.pt"],
                               ["has layer_size = 32", "says 16"], base="trained"),
    "resume-other-shape-on-a-fresh-run": Case(
        ["train", "{run}", "--resume", "{foreign}/other_shape.pt"], ["has layer_size = 32"]),
    "play-its-own-truncated-final": Case(["play", "{run}"], ["final.pt",
                                                            "not a readable retro-gamer"],
                                         base="trained", edit=truncate_final),
    "resume-its-own-truncated-final": Case(["train", "{run}", "--resume", "latest"],
                                           ["final.pt", "not a readable retro-gamer"],
                                           base="trained", edit=truncate_final),
})

def corrupt_replay(run: Path) -> None:
    path = run / "replay" / "final.replay.pt"
    data = bytearray(path.read_bytes())
    data[len(data) // 2: len(data) // 2 + 64] = os.urandom(64)
    path.write_bytes(bytes(data[: len(data) * 2 // 3]))


def drop_field(name: str) -> Callable[[Path], None]:
    def edit(run: Path) -> None:
        path = run / "checkpoints" / "final.pt"
        state = torch.load(path, weights_only=True)
        del state[name], state["checksum"]  # a file made by hand, as a user might
        torch.save(state, path)
    return edit


def flip_bytes(run: Path) -> None:
    """64 bytes changed inside the weights: the zip and the pickle still read fine."""
    path = run / "checkpoints" / "final.pt"
    data = bytearray(path.read_bytes())
    start = len(data) // 2
    data[start: start + 64] = bytes(b ^ 0x55 for b in data[start: start + 64])
    path.write_bytes(bytes(data))


def declare_network(**changes) -> Callable[[Path], None]:
    def edit(run: Path) -> None:
        path = run / "checkpoints" / "final.pt"
        state = torch.load(path, weights_only=True)
        state["network"].update(changes)
        del state["checksum"]
        torch.save(state, path)
    return edit


UNUSABLE_DEVICE = "mps" if torch.cuda.is_available() else "cuda"
# Issue 17: a refused command writes nothing, whatever is found wrong, and however late.
RUN_DIRECTORY_CASES = {
    "device-this-torch-cannot-use": Case(["train", "{run}", f"device={UNUSABLE_DEVICE}"],
                                         ["cannot use a", "device=cpu"]),
    "center-on-a-character-not-in-the-game": Case(["train", "{run}", "center_on=Q"],
                                                  ["center_on lists 'Q'", "character set"]),
    "resume-with-a-corrupt-replay-file": Case(
        ["train", "{run}", "--resume", "latest", "training_episodes=5"],
        ["final.replay.pt", "delete", "empty buffer"], base="trained", edit=corrupt_replay),
    "resume-a-checkpoint-missing-a-field": Case(
        ["train", "{run}", "--resume", "latest"], ["final.pt", "lacks 'epsilon'"],
        base="trained", edit=drop_field("epsilon")),
    "resume-a-checkpoint-with-flipped-bytes": Case(
        ["train", "{run}", "--resume", "latest", "training_episodes=5"],
        ["final.pt is damaged", "checksum", "another checkpoint"], base="trained",
        edit=flip_bytes),
    "play-a-checkpoint-with-flipped-bytes": Case(["play", "{run}"], ["final.pt is damaged"],
                                                 base="trained", edit=flip_bytes),
    "eval-a-checkpoint-with-flipped-bytes": Case(["eval", "{run}"], ["final.pt is damaged"],
                                                 base="trained", edit=flip_bytes),
    "a-network-larger-than-the-machine": Case(
        ["train", "{run}", "layer_size=65536", "n_layers=4"],
        ["This run (about", "GiB of memory, but this machine has", "Lower memory_capacity"]),
    "play-a-checkpoint-declaring-a-huge-network": Case(
        ["play", "{run}"], ["The network in", "final.pt needs", "GiB of memory"],
        base="trained", edit=declare_network(layer_size=65536, n_layers=4)),
}

CORPUS = {**{f"config:{k}": v for k, v in CONFIG_CASES.items()},
          **{f"run-directory:{k}": v for k, v in RUN_DIRECTORY_CASES.items()},
          **{f"override:{k}": v for k, v in OVERRIDE_CASES.items()},
          **{f"option:{k}": v for k, v in OPTION_CASES.items()},
          **{f"checkpoint:{k}": v for k, v in CHECKPOINT_CASES.items()}}


def prepare(case: Case, runs: dict, tmp_path: Path) -> tuple[Path, list[str]]:
    run = tmp_path / "run"
    shutil.copytree(runs[case.base], run)
    if case.edit:
        case.edit(run)
    args = [a.replace("{run}", str(run)).replace("{foreign}", str(runs["foreign"]))
            for a in case.args]
    return run, args


@pytest.mark.parametrize("name", CORPUS)
def test_bad_input_gets_one_clear_message_and_changes_nothing(runs, tmp_path, name):
    case = CORPUS[name]
    run, args = prepare(case, runs, tmp_path)
    before, foreign = snapshot(run), snapshot(runs["foreign"])
    refused(run_cli(args, cwd=tmp_path), *case.says)
    assert snapshot(run) == before
    assert snapshot(runs["foreign"]) == foreign


def test_the_corpus_is_large_and_covers_every_entry_point():
    assert len(CORPUS) + len(PYPROJECT_CASES) >= 50
    commands = {case.args[0] for case in CORPUS.values()}
    assert {"create", "train", "play", "info"} <= commands


SAMPLE = ["config:gamma-a-string", "override:typo", "option:gamma-not-a-number",
          "checkpoint:resume-truncated.pt"]


def test_a_sample_of_the_corpus_behaves_the_same_in_real_processes(runs, tmp_path):
    started = []
    for name in SAMPLE:
        folder = tmp_path / re.sub(r"\W", "_", name)
        folder.mkdir()
        run, args = prepare(CORPUS[name], runs, folder)
        started.append((name, run, snapshot(run), start(*args, cwd=folder)))
    for name, run, before, process in started:
        result = finish(process)
        assert result.returncode == 2, name
        refused(result, *CORPUS[name].says)
        assert snapshot(run) == before, name


# ------------------------------------------------------- game descriptions (create)


def described(**changes: str | None) -> str:
    """The coin walk's valid pyproject with [tool.retro-gamer] fields changed or removed."""
    fields = {"actions": '["a", "d"]', "reward": '"score"', "character_set": '["@", "$"]',
              "spatial": "false", "observe_state": '["lives", "level"]', **changes}
    lines = [f"{name} = {value}" for name, value in fields.items() if value is not None]
    return '[project]\nname = "coin-walk"\n\n[tool.retro-gamer]\n' + "\n".join(lines) + "\n"


CRASHING_CREATE = CHAR_GAME_SOURCE.replace(
    "def create_game():\n", "def create_game():\n    raise RuntimeError('no board today')\n")
PYPROJECT_CASES = {
    "no-section": ('[project]\nname = "coin-walk"\n', CHAR_GAME_SOURCE,
                   ["no [tool.retro-gamer] section"]),
    "section-not-a-table": ("[tool]\nretro-gamer = 3\n", CHAR_GAME_SOURCE, ["must be a table"]),
    "invalid-toml": ('[tool.retro-gamer]\nactions = ["a", "d"\n', CHAR_GAME_SOURCE,
                     ["is not valid TOML"]),
    "missing-actions": (described(actions=None), CHAR_GAME_SOURCE,
                        ["the required field 'actions' is missing"]),
    "misspelled-key": (described(actions='["KEY_RIGTH"]'), CHAR_GAME_SOURCE,
                       ["'KEY_RIGTH'", "Did you mean 'KEY_RIGHT'?"]),
    "reward-not-in-state": (described(reward='"points"'), CHAR_GAME_SOURCE,
                            ["reward key 'points' is not in the game's state"]),
    "reward-not-a-number": (described(reward='"name"'), CHAR_GAME_SOURCE,
                            ["reward key 'name'", "not a number"]),
    "two-letter-character": (described(character_set='["@", "$$"]'), CHAR_GAME_SOURCE,
                             ["'$$' is not a single character"]),
    "observes-the-reward": (described(observe_state='["score"]'), CHAR_GAME_SOURCE,
                            ["contains the reward key 'score'"]),
    "field-typo": (described(actions=None, actoins='["a"]'), CHAR_GAME_SOURCE,
                   ["unknown field 'actoins'", "Did you mean 'actions'?"]),
    "module-by-hand": (described(module='"x"'), CHAR_GAME_SOURCE,
                       ["'module' is filled in by retro-gamer"]),
    "no-pyproject": (None, CHAR_GAME_SOURCE, ["No pyproject.toml found"]),
    "no-create-game": (CHAR_GAME_PYPROJECT, "X = 1\n", ["has no create_game() function"]),
    "create-game-returns-junk": (CHAR_GAME_PYPROJECT, "def create_game():\n    return 42\n",
                                 ["returned int, not a retro Game"]),
    "create-game-raises": (CHAR_GAME_PYPROJECT, CRASHING_CREATE,
                           ["create_game()", "raised RuntimeError: no board today"]),
    "import-fails": (CHAR_GAME_PYPROJECT, "import no_such_dependency_here\n",
                     ["Importing the game module", "no_such_dependency_here"]),
    "syntax-error": (CHAR_GAME_PYPROJECT, "def create_game(:\n", ["Importing the game module",
                                                                "SyntaxError"]),
}


@pytest.mark.parametrize("name", PYPROJECT_CASES)
def test_a_bad_game_description_creates_nothing(game_project, name):
    pyproject, source, says = PYPROJECT_CASES[name]
    project = game_project(pyproject=pyproject, source=source)
    before = snapshot(project.root)
    refused(run_cli(["create", "--game", project.module, "--output", "run"], cwd=project.root),
            *says)
    assert not (project.root / "run").exists()
    assert snapshot(project.root) == before


# ------------------------------------------------------------ code in checkpoints


class RunsAShellCommand:
    """Unpickling this runs a shell command: what a hostile checkpoint would do."""

    def __init__(self, command: str):
        self.command = command

    def __reduce__(self):
        return (os.system, (self.command,))


@pytest.mark.parametrize("writer", ["torch.save", "pickle.dump"])
def test_a_checkpoint_that_would_run_code_is_refused_unread(runs, tmp_path, writer):
    marker = tmp_path / "MARKER"
    payload = {"model": RunsAShellCommand(f"touch {marker}"), "format": 1}
    hostile = tmp_path / "hostile.pt"
    if writer == "torch.save":
        torch.save(payload, hostile)
    else:
        with open(hostile, "wb") as handle:
            pickle.dump(payload, handle)
    commands = {"play": ["play", "{run}", "--checkpoint", hostile],
                "play-final": ["play", "{run}"],
                "resume": ["train", "{run}", "--resume", hostile],
                "resume-latest": ["train", "{run}", "--resume", "latest"]}
    in_a_process = ("play", "resume-latest")  # real processes; the others through main()
    launched = {}
    for name, args in commands.items():
        run = tmp_path / name
        shutil.copytree(runs["trained"], run)
        shutil.copy(hostile, run / "checkpoints" / "final.pt")  # where "latest" looks too
        args = [str(a).replace("{run}", str(run)) for a in args]
        launched[name] = (run, snapshot(run),
                          start(*args, cwd=tmp_path) if name in in_a_process else args)
    for name, (run, before, command) in launched.items():
        result = finish(command) if name in in_a_process else run_cli(command, cwd=tmp_path)
        message = refused(result, "not a readable retro-gamer checkpoint", "refused unread")
        assert "weights_only" not in message, "no advice to load it unsafely"
        assert not marker.exists(), f"{name} ran the checkpoint's code"
        assert snapshot(run) == before

    # The file really is hostile: unrestricted unpickling runs its code.
    with open(hostile, "rb") as handle:
        if writer == "pickle.dump":
            pickle.load(handle)
        else:
            torch.load(handle, weights_only=False)
    assert marker.exists()


# --------------------------------------------------------------------- the run lock


def test_a_second_trainer_is_refused_while_the_first_holds_the_lock(runs, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(runs["trained"], run)
    lock = run / LOCK_NAME
    first = start("train", run, "training_episodes=100000", "--resume", "latest", cwd=tmp_path)
    try:
        deadline = time.monotonic() + 120
        while not lock.exists():
            assert first.poll() is None, finish(first).stderr[-3000:]
            assert time.monotonic() < deadline, "the first trainer never took the lock"
            time.sleep(0.1)
        second = finish(start("train", run, "--resume", "latest", cwd=tmp_path))
        refused(second, f"process {first.pid}", "is being trained by", "right now")
        assert first.poll() is None, "the first trainer keeps going"
    finally:
        if first.poll() is None:
            first.send_signal(signal.SIGTERM)  # it saves a checkpoint and stops
        stopped = finish(first, timeout=120)
    assert "Traceback" not in stopped.stderr
    assert not lock.exists()
    RunDirectory(run).read_config()


def test_a_stale_lock_file_does_not_block_training(runs, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(runs["trained"], run)
    (run / LOCK_NAME).write_text(f"process 999999 on {os.uname().nodename}")
    result = run_cli(["train", run, "training_episodes=3", "--resume", "latest"], cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert RunDirectory(run).episodes()[-1]["episode"] == 3
    assert not (run / LOCK_NAME).exists()


# ---------------------------------------------------------------- games that crash


CRASHES_MID_EPISODE = CHAR_GAME_SOURCE.replace(
    "    def play_turn(self, game):\n",
    "    def play_turn(self, game):\n"
    "        if game.turn_number >= 3:\n"
    "            raise ZeroDivisionError('the game divided by zero')\n")


def test_a_game_crashing_mid_episode_stops_training_with_a_clear_message(game_project):
    assert CRASHES_MID_EPISODE != CHAR_GAME_SOURCE
    project, run = project_run(game_project, CRASHES_MID_EPISODE)
    result = finish(start("train", run, cwd=project.root))
    refused(result, "ZeroDivisionError", "the game divided by zero")
    assert result.returncode == 2
    metadata, hyper = RunDirectory(run).read_config()  # config.toml is still valid
    assert metadata.module == project.module and hyper.training_episodes == 2
    assert not (run / LOCK_NAME).exists()


def test_create_game_failing_when_training_starts_changes_nothing(game_project, monkeypatch):
    source = CHAR_GAME_SOURCE.replace(
        "def create_game():\n",
        "def create_game():\n"
        "    import os\n"
        "    if os.environ.get('RG_TEST_BREAK_GAME'):\n"
        "        raise OSError('the level file is missing')\n")
    project, run = project_run(game_project, source)
    before = snapshot(run)
    monkeypatch.setenv("RG_TEST_BREAK_GAME", "1")
    refused(run_cli(["train", run], cwd=project.root),
            "create_game()", "raised OSError: the level file is missing")
    assert snapshot(run) == before


# ------------------------------------------------- issue 17: run directories you can trust


def test_a_lock_file_planted_as_a_link_is_refused_and_its_target_kept(runs, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(runs["trained"], run)
    precious = tmp_path / "v.txt"
    precious.write_text("precious\n")
    (run / LOCK_NAME).symlink_to(precious)
    before = snapshot(run)
    result = run_cli(["train", run, "training_episodes=3", "--resume", "latest"], cwd=tmp_path)
    refused(result, LOCK_NAME, "symbolic link", "delete it")
    assert precious.read_text() == "precious\n"
    assert snapshot(run) == before


@pytest.mark.parametrize("folder", ["checkpoints", "replay"])
def test_a_checkpoints_or_replay_folder_that_is_a_link_is_refused_nothing_deleted(runs, tmp_path,
                                                                            folder):
    """checkpoints/ and replay/ (where training deletes superseded replay files)."""
    run = tmp_path / "run"
    shutil.copytree(runs["trained"], run)
    elsewhere = tmp_path / "elsewhere"
    (run / folder).rename(elsewhere)
    (run / folder).symlink_to(elsewhere)
    (elsewhere / ".notes.txt.tmp").write_text("mine\n")
    (elsewhere / "ep_0001.replay.pt").write_text("mine too\n")
    kept = snapshot(elsewhere)
    before = snapshot(run)
    result = run_cli(["train", run, "training_episodes=3", "--resume", "latest"], cwd=tmp_path)
    refused(result, f"{folder} is a symbolic link", "real folder")
    assert snapshot(elsewhere) == kept
    assert snapshot(run) == before


def test_a_fifo_named_like_a_checkpoint_is_never_opened(runs, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(runs["trained"], run)
    (run / "checkpoints" / "final.pt").unlink()
    os.mkfifo(run / "checkpoints" / "final.pt")
    info = finish(start("info", run, "--json", cwd=tmp_path), timeout=120)
    assert info.returncode == 0, info.stderr[-2000:]
    resume = finish(start("train", run, "--resume", "final", cwd=tmp_path), timeout=120)
    refused(resume, "final.pt is not a regular file")


def test_info_names_a_fifo_that_holds_a_checkpoints_name(runs, tmp_path):
    """The run's only final.pt is a named pipe: info says so, not "No checkpoints yet"."""
    run = tmp_path / "run"
    shutil.copytree(runs["trained"], run)
    (run / "checkpoints" / "final.pt").unlink()
    os.mkfifo(run / "checkpoints" / "final.pt")
    info = finish(start("info", run, cwd=tmp_path), timeout=120)
    assert info.returncode == 0, info.stderr[-2000:]
    said = " ".join(info.stdout.split())
    assert "checkpoints/final.pt is a named pipe (FIFO), not a checkpoint file" in said
    assert "No checkpoints yet" not in said


def test_a_byte_that_is_not_utf8_in_the_log_does_not_block_resume(runs, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(runs["trained"], run)
    log = run / "training.log"
    log.write_bytes(log.read_bytes().replace(b"\n", b" caf\xe9\n", 1))
    result = run_cli(["train", run, "training_episodes=3", "--resume", "latest"], cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert b" caf\xe9\n" in log.read_bytes()  # the user's byte is kept as it was
    assert [ep["episode"] for ep in RunDirectory(run).episodes()] == [1, 2, 3]


def test_latest_follows_the_line_of_training_not_the_newest_file(runs, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(runs["fresh"], run)
    assert run_cli(["train", run, "training_episodes=4", "checkpoint_every=1"],
                   cwd=tmp_path).returncode == 0
    branch = run_cli(["train", run, "--resume", "ep_0002", "training_episodes=3"], cwd=tmp_path)
    assert branch.returncode == 0, branch.stderr[-3000:]
    result = run_cli(["train", run, "--resume", "latest", "training_episodes=5"], cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    log = (run / "training.log").read_text()
    assert "# resumed from final.pt after episode 3" in log, log
    assert [ep["episode"] for ep in RunDirectory(run).episodes()] == [1, 2, 3, 4, 5]
    # The branch's ep_0004 was overwritten by the new line's; the old line's is gone from
    # the log, and info says which checkpoints belong to the log.
    summary = json.loads(run_cli(["info", run, "--json"], cwd=tmp_path).stdout)
    assert all(row["on_line"] for row in summary["checkpoints"])


def test_an_abandoned_checkpoint_is_kept_shown_and_never_chosen(runs, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(runs["fresh"], run)
    assert run_cli(["train", run, "training_episodes=4", "checkpoint_every=2"],
                   cwd=tmp_path).returncode == 0
    branch = run_cli(["train", run, "--resume", "ep_0002", "training_episodes=3",
                      "learning_rate=0.01"], cwd=tmp_path)
    assert branch.returncode == 0, branch.stderr[-3000:]
    summary = json.loads(run_cli(["info", run, "--json"], cwd=tmp_path).stdout)
    rows = {row["name"]: row["on_line"] for row in summary["checkpoints"]}
    assert rows == {"ep_0002": True, "ep_0004": False, "final": True}
    shown = run_cli(["info", run], cwd=tmp_path).stdout
    assert "abandoned" in shown
    assert RunDirectory(run).checkpoint_path("latest").name == "final.pt"


def test_resuming_with_another_memory_capacity_keeps_the_newest_transitions(runs, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(runs["trained"], run)
    result = run_cli(["train", run, "--resume", "latest", "training_episodes=3",
                      "memory_capacity=20"], cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    log = (run / "training.log").read_text()
    assert re.search(r"replay buffer restored with the newest 20 of its \d+ transitions "
                     r"\(memory_capacity changed from 200 to 20\)", log), log


def test_config_toml_keeps_an_interpolation_as_typed(runs, tmp_path, monkeypatch):
    run = tmp_path / "run"
    shutil.copytree(runs["fresh"], run)
    set_line("center_on", 'center_on = "${oc.env:RG_TEST_CENTER,auto}"')(run)
    result = run_cli(["train", run, "training_episodes=1"], cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    text = (run / "config.toml").read_text()
    assert 'center_on = "${oc.env:RG_TEST_CENTER,auto}"' in text
    assert "training_episodes = 1" in text


def test_any_folder_name_works_and_every_suggested_command_can_be_pasted(tmp_path):
    name = "my run ${oc.env:HOME}"
    created = run_cli(["create", "--game", SNAKE, "--output", name, *TINY_OPTIONS,
                       "--training-episodes", "1"], cwd=tmp_path)
    assert created.returncode == 0, created.stderr
    suggested = created.stdout.split("Next: ", 1)[1].splitlines()[0]  # soft wrap: one line
    words = shlex.split(suggested)
    assert words[:2] == ["retro-gamer", "train"] and words[2] == name
    trained = run_cli(words[1:], cwd=tmp_path)
    assert trained.returncode == 0, trained.stderr[-3000:]
    play = trained.stdout.split("Watch the agent: ", 1)[1].splitlines()[0]
    assert shlex.split(play)[2] == name
    swept = run_cli(["train", name, "-m", "seed=1,2"], cwd=tmp_path)
    assert swept.returncode == 0, swept.stderr[-3000:]
    assert len(list((tmp_path / name / "sweeps").glob("*/*/config.toml"))) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]  # nothing outside the run


NEVER_ENDS = CHAR_GAME_SOURCE.replace("            if game.state[\"lives\"] <= 0:\n"
                                      "                game.end()\n", "")
SLOW_IMPORT = CHAR_GAME_SOURCE.replace(
    "from retro.game import Game\n",
    "from retro.game import Game\nimport os, pathlib, time\n"
    "if os.environ.get('RG_TEST_MARKER'):\n"
    "    pathlib.Path(os.environ['RG_TEST_MARKER']).write_text('importing')\n"
    "    time.sleep(600)\n")


def wait_for(path: Path, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 300
    while not path.exists():
        assert process.poll() is None, finish(process).stderr[-3000:]
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.1)


@pytest.mark.slow
def test_a_stop_request_is_honoured_during_an_episode_that_never_ends(game_project):
    assert NEVER_ENDS != CHAR_GAME_SOURCE
    options = [o if o != "50" else "100000000" for o in TINY_OPTIONS]  # max turns per episode
    project, run = project_run(game_project, NEVER_ENDS, options)
    process = start("train", run, cwd=project.root)
    wait_for(run / "training.log", process)
    process.send_signal(signal.SIGTERM)
    result = finish(process, timeout=300)  # before the fix: never (the episode goes on)
    assert result.returncode == 130, result.stderr[-3000:]
    assert "a stop request ended episode 1 early" in " ".join(result.stderr.split())
    assert "# episode 1 ended early" in (run / "training.log").read_text()
    assert torch.load(run / "checkpoints" / "ep_0001.pt", weights_only=True)["episode"] == 1


def test_a_stop_request_during_start_up_says_so_and_changes_nothing(game_project, tmp_path):
    project, run = project_run(game_project, SLOW_IMPORT)
    before = snapshot(run)
    marker = tmp_path / "importing"
    from cli_runners import environment

    process = start("train", run, cwd=project.root,
                    env=environment(RG_TEST_MARKER=str(marker)))
    wait_for(marker, process)
    process.send_signal(signal.SIGTERM)
    result = finish(process, timeout=300)
    assert result.returncode == 130
    assert "stopped: interrupted" in result.stderr
    assert "Traceback" not in result.stderr
    assert snapshot(run) == before


def file_size_limited(limit: int) -> Callable[[], None]:
    """A process that may write no file beyond ``limit`` bytes: a full disk, seen from it."""
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return apply


def run_full(args, cwd: Path, limit: int) -> subprocess.CompletedProcess:
    from cli_runners import CLI, environment

    process = subprocess.run([*CLI, *map(str, args)], cwd=cwd, env=environment(),
                             capture_output=True, text=True, timeout=600,
                             preexec_fn=file_size_limited(limit))
    return process


@pytest.mark.slow
def test_a_full_disk_gets_one_message_naming_the_file_and_loses_nothing(runs, tmp_path):
    created = run_full(["create", "--game", SNAKE, "--output", tmp_path / "new", *TINY_OPTIONS],
                       tmp_path, limit=100)
    refused(created, "Could not write", "config.toml", "free some disk space")
    assert not (tmp_path / "new").exists(), "no empty folder is left behind"

    run = tmp_path / "run"
    shutil.copytree(runs["trained"], run)
    before = snapshot(run)
    refused(run_full(["eval", run], tmp_path, limit=10), "Could not write",
            str(run / "eval" / "final.json"))
    refused(run_full(["plot", run], tmp_path, limit=10), "Could not write", "curve.png")
    assert snapshot(run) == before

    replay = (run / "replay" / "final.replay.pt").stat().st_size
    trained = run_full(["train", run, "training_episodes=4", "--resume", "latest"], tmp_path,
                       limit=replay // 2)  # the log and config fit; a replay file does not
    message = refused(trained, "Could not write", "replay.pt", "Training stopped at episode",
                      "--resume latest")
    assert f"retro-gamer train {run} --resume latest" in message
    assert snapshot(run)["checkpoints/final.pt"] == before["checkpoints/final.pt"]
    resumed = run_cli(["train", run, "training_episodes=4", "--resume", "latest"], cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr[-3000:]


@pytest.mark.slow
def test_a_full_disk_before_the_first_checkpoint_leaves_the_run_as_it_was(runs, tmp_path):
    """Issue 25, 7: the message suggested --resume latest, which then failed with "no
    checkpoints yet", and a replay file was left behind."""
    run = tmp_path / "run"
    shutil.copytree(runs["fresh"], run)
    before = snapshot(run)
    replay = (runs["trained"] / "replay" / "final.replay.pt").stat().st_size
    final = (runs["trained"] / "checkpoints" / "final.pt").stat().st_size
    assert replay < final
    trained = run_full(["train", run], tmp_path, limit=(replay + final) // 2)  # replay fits
    message = refused(trained, "Could not write", "final.pt", "train it again",
                      f"retro-gamer train {run}")
    assert "--resume" not in message
    assert snapshot(run) == before  # no replay file, log or config change left behind
    again = run_cli(["train", run], cwd=tmp_path)  # the suggested command works
    assert again.returncode == 0, again.stderr[-3000:]


def test_create_shows_the_memory_training_will_need(tmp_path):
    created = run_cli(["create", "--game", SNAKE, "--output", "run", *TINY_OPTIONS],
                      cwd=tmp_path)
    assert created.returncode == 0, created.stderr
    shown = " ".join(created.stdout.split())
    assert re.search(r"Training will need about [\d.]+ \w+ \(replay buffer [\d.]+ \w+, "
                     r"networks [\d.]+ \w+, training batch [\d.]+ \w+\) of memory", shown), shown


# ------------------------------------------------- issue 25: games that misbehave

# The coin walk, misbehaving from turn 3 on as RG_TEST_MISBEHAVE says (so a run can first be
# trained by the same game behaving): "exit", "interrupt", "print", "huge rewards" (from
# turn 1), or KEY=VALUE (a state value set to float(VALUE)).
MISBEHAVIOUR = """
import os
import sys


def misbehave(game):
    how = os.environ.get("RG_TEST_MISBEHAVE")
    if not how or (game.turn_number < 3 and how != "huge rewards"):
        return
    if how == "exit":
        sys.exit()
    if how == "interrupt":
        raise KeyboardInterrupt("the game pressed Ctrl+C itself")
    if how == "print":
        print("the game says hi")
        os.write(1, b"raw bytes\\n")
    elif how == "huge rewards":
        game.state["score"] = 0.0 if game.state["score"] else 1e38
    else:
        key, value = how.split("=")
        game.state[key] = float(value)

"""
MISBEHAVES = CHAR_GAME_SOURCE.replace("\nclass Coin:", MISBEHAVIOUR + "\nclass Coin:").replace(
    "    def play_turn(self, game):\n", "    def play_turn(self, game):\n        misbehave(game)\n")
assert MISBEHAVES.count("misbehave(game)") == 2


def misbehaving(statement: str) -> dict:
    return {**environment(), "RG_TEST_MISBEHAVE": statement}


GROWS = ("training.log", "config.toml")  # what a resumed training rewrites first


def without(snapshot_: dict, *names: str) -> dict:
    return {k: v for k, v in snapshot_.items() if k not in names}


@pytest.mark.parametrize("statement, says", [
    ("level=nan", ["state key 'level'", "is nan"]),
    ("lives=inf", ["state key 'lives'", "is inf"]),
    ("score=-inf", ["state key 'score'", "is -inf"]),
    ("level=1e39", ["state key 'level'", "1e+39"]),
])
def test_a_game_number_that_is_not_finite_stops_training_and_keeps_the_last_checkpoint(
        game_project, statement, says):
    """Issue 25, 1: NaN, infinity or a value no 32-bit float holds, in a state value the
    agent learns from, trained silently into NaN weights and a result saying done."""
    project, run = project_run(game_project, MISBEHAVES)
    assert run_cli(["train", run], cwd=project.root).returncode == 0
    before = snapshot(run)
    result = finish(start("train", run, "training_episodes=4", "--resume", "latest",
                          cwd=project.root, env=misbehaving(statement)))
    refused(result, *says, "after turn 3 of episode 3", project.module, "finite number")
    assert result.returncode == 2
    # The last good checkpoint is still the newest, and nothing records the run as done.
    # config.toml records training_episodes=4; training.log the resume: all else is kept.
    assert without(snapshot(run), *GROWS) == without(before, *GROWS)
    assert RunDirectory(run).latest_checkpoint().name == "final.pt"
    assert RunDirectory(run).episodes()[-1]["episode"] == 2


def test_a_non_finite_loss_stops_training_before_anything_records_the_weights(game_project):
    """Issue 25, 1: rewards of 1e38 each turn (finite) with reward_scaling off overflow the
    loss; training went on with NaN weights, saving them as checkpoints and best.pt."""
    project, run = project_run(game_project, MISBEHAVES)
    before = snapshot(run)
    result = finish(start(
        "train", run, "reward_scaling=false", "learning_starts=8", "train_every=1",
        "checkpoint_every=1", cwd=project.root,
        env=misbehaving("huge rewards")))
    refused(result, "The loss became", "during episode 1", "--resume latest")
    assert result.returncode == 2
    assert snapshot(run) == before  # a failed start leaves the run as it was


@pytest.mark.parametrize("statement, raised", [
    ("exit", "SystemExit"),
    ("interrupt", "KeyboardInterrupt"),
])
def test_a_game_that_exits_or_interrupts_is_the_games_crash(game_project, statement, raised):
    """Issue 25, 2: sys.exit() in play_turn ended `train` with exit 0, no message and
    nothing saved; a KeyboardInterrupt the game raised looked like the user's Ctrl+C."""
    project, run = project_run(game_project, MISBEHAVES)
    assert run_cli(["train", run], cwd=project.root).returncode == 0
    before = snapshot(run)
    result = finish(start("train", run, "training_episodes=4", "--resume", "latest",
                          cwd=project.root, env=misbehaving(statement)))
    refused(result, project.module, f"raised {raised} during turn 3 of episode 3")
    assert result.returncode == 2
    assert without(snapshot(run), *GROWS) == without(before, *GROWS)  # progress kept
    assert not (run / LOCK_NAME).exists()


def test_a_game_that_exits_fails_its_sweep_job_and_the_other_jobs_go_on(game_project):
    """Issue 25, 2: in a sweep, sys.exit() in one job ended the whole sweep with exit 0,
    sweep.json 'running' and later jobs never started."""
    project, run = project_run(game_project, MISBEHAVES)
    result = finish(start("train", run, "-m", "max_turns_per_episode=30,2", cwd=project.root,
                          env=misbehaving("exit")))
    assert result.returncode == 1, result.stderr[-3000:]
    assert "Traceback" not in result.stdout + result.stderr
    sweep_dir = next(p for p in (run / "sweeps").iterdir() if not p.name.startswith("."))
    summary = json.loads((sweep_dir / "sweep.json").read_text(encoding="utf-8"))
    jobs = {tuple(j["overrides"]): j for j in summary["jobs"]}
    failed = jobs[("max_turns_per_episode=30",)]
    assert failed["status"] == "failed" and "SystemExit during turn 3" in failed["error"]
    assert jobs[("max_turns_per_episode=2",)]["status"] == "done"


def test_a_game_that_prints_cannot_corrupt_json_output(game_project):
    """Issue 25, 3: a game's print() (or a write to file descriptor 1) made `eval --json`
    no longer JSON."""
    project, run = project_run(game_project, MISBEHAVES)
    assert run_cli(["train", run], cwd=project.root).returncode == 0
    noisy = misbehaving("print")
    for args in (["eval", run, "--json", "--episodes", "2"], ["info", run, "--json"]):
        result = finish(start(*args, cwd=project.root, env=noisy))
        assert result.returncode == 0, result.stderr[-3000:]
        json.loads(result.stdout)  # standard output holds the JSON alone
    assert "the game says hi" in result.stderr or args[0] == "info"


def test_an_empty_character_set_is_never_recorded(runs, tmp_path):
    """Issue 25, 4: `character_set=[]` was written into config.toml, and every later
    `train` died with a torch shape error."""
    run = tmp_path / "run"
    shutil.copytree(runs["fresh"], run)
    before = snapshot(run)
    refused(run_cli(["train", run, "game.character_set=[]"], cwd=tmp_path),
            "'character_set' is empty", "leave the field out")
    assert snapshot(run) == before
    refused(run_cli(["create", "--game", SNAKE, "--output", tmp_path / "new",
                     "game.character_set=[]"], cwd=tmp_path), "'character_set' is empty")
    assert not (tmp_path / "new").exists()


def test_evaluating_another_runs_checkpoint_keeps_this_runs_record(runs, tmp_path):
    """Issue 25, 5: `eval RUN --checkpoint OTHER/checkpoints/final.pt` replaced
    RUN/eval/final.json, RUN's own evaluation of its final.pt."""
    run, other = tmp_path / "run", tmp_path / "other"
    shutil.copytree(runs["trained"], run)
    shutil.copytree(runs["trained"], other)
    assert run_cli(["eval", run, "--episodes", "1"], cwd=tmp_path).returncode == 0
    own = json.loads((run / "eval" / "final.json").read_text(encoding="utf-8"))
    before = snapshot(run)
    foreign = other / "checkpoints" / "final.pt"
    for given in (foreign, os.path.relpath(foreign, run / "checkpoints")):
        result = run_cli(["eval", run, "--checkpoint", given, "--episodes", "2", "--json"],
                         cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout)["checkpoint"] == str(foreign.resolve())
    after = snapshot(run)
    assert {k: v for k, v in after.items() if k in before} == before  # nothing replaced
    added = sorted(set(after) - set(before))
    assert len(added) == 1 and added[0].startswith("eval/final-"), added
    assert json.loads((run / "eval" / "final.json").read_text(encoding="utf-8")) == own


def test_info_works_on_a_console_that_cannot_encode_every_character(runs, tmp_path):
    """Issue 25, 8: `info` with PYTHONIOENCODING=latin-1 ended in a UnicodeEncodeError."""
    run = tmp_path / "run"
    shutil.copytree(runs["trained"], run)
    for args in (["info", run], ["info", run, "--checkpoint", "final"]):
        result = finish(start(*args, cwd=tmp_path,
                              env={**environment(), "PYTHONIOENCODING": "latin-1"}))
        assert result.returncode == 0, result.stderr[-3000:]
        assert "Traceback" not in result.stdout + result.stderr


@pytest.mark.parametrize("action", [-1, 99, 2.5])
def test_the_gymnasium_adapter_refuses_an_action_outside_its_space(action):
    """Issue 25, 8: step(-1) silently played the no-op; step(99) raised a bare IndexError."""
    from retro_gamer.gym import RetroGameEnv

    env = RetroGameEnv(create_game=create_corridor, metadata=corridor_metadata())
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"outside the action space .* from 0 to 2"):
        env.step(action)
    env.step(2)  # the no-op, the last action, is still one


def test_a_long_action_list_is_checked_in_linear_time(tmp_path):
    """Issue 25, 9: create with 20,000 actions took about 70 s (a quadratic duplicate
    check); a duplicate at the very end is still found."""
    from retro_gamer.config import GameMetadata
    from retro_gamer.errors import GameDescriptionError

    actions = [chr(0x4E00 + i) for i in range(20_000)]
    started = time.perf_counter()
    GameMetadata.from_mapping({"actions": actions, "reward": "score",
                               "observe_state": actions}, "test")
    with pytest.raises(GameDescriptionError, match="more than once"):
        GameMetadata.from_mapping({"actions": [*actions, actions[-1]], "reward": "score"},
                                  "test")
    assert time.perf_counter() - started < 2.0
