"""The run directory: the only code that builds paths inside one or writes its files.

::

    RUN_DIR/
    ├── config.toml        game description + hyperparameters (tomlkit: comments survive)
    ├── training.log       architecture description, then one line per episode
    │                      (and '# ...' comment lines: evaluations, resumes)
    ├── checkpoints/
    │   ├── ep_0100.pt     weights, optimizer, epsilon, counters, RNG states
    │   ├── ep_0100.replay.pt   replay buffer of the newest checkpoint (for exact resume)
    │   ├── best.pt        the checkpoint with the best evaluation during training
    │   └── final.pt
    ├── result.json        status and objective of the last training (sweep jobs too)
    ├── eval/final.json    what ``retro-gamer eval`` measured, one file per checkpoint
    ├── curve.png          ``retro-gamer plot``'s default output
    └── sweeps/<timestamp>/    a sweep (:class:`SweepDirectory`): sweep.json, multirun.yaml
        └── <n>_<overrides>/   and one complete run directory per job

Every file is replaced atomically (written to a temporary file in the same
folder, flushed, fsynced, renamed), so a crash never leaves half a file.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import math
import os
import pickle
import re
import tempfile
import warnings
from pathlib import Path
from typing import Any

import tomlkit
from tomlkit.exceptions import TOMLKitError

from retro_gamer.config import (
    HYPERPARAMETER_FIELDS,
    GameMetadata,
    Hyperparameters,
    check_known,
)
from retro_gamer.errors import (
    CheckpointError,
    ConfigError,
    GameDescriptionError,
    RunDirectoryError,
    did_you_mean,
)
from retro_gamer.json_values import json_safe
from retro_gamer.torch_file import peek

CONFIG_NAME = "config.toml"
LOCK_NAME = ".retro-gamer.lock"
LOG_NAME = "training.log"
CHECKPOINT_DIR = "checkpoints"
RESULT_NAME = "result.json"
SWEEPS_DIR = "sweeps"
SWEEP_SUMMARY_NAME = "sweep.json"
EVAL_DIR = "eval"
PLOT_NAME = "curve.png"
COMPARISON_PLOT_NAME = "comparison.png"
CHECKPOINT_NAME = re.compile(r"^(ep_(\d+)|final)\.pt$")
BEST_NAME = "best"  # checkpoints/best.pt; not in CHECKPOINT_NAME, so never 'latest'
EPISODE_LINE = re.compile(r"^\[EP (\d+)\] ")
EVAL_LINE = re.compile(
    r"^# eval after episode (?P<episode>\d+): mean (?P<mean>\S+) median (?P<median>\S+) "
    r"max (?P<maximum>\S+) \((?P<episodes>\d+) greedy games, seed (?P<seed>\S+)\)"
    r"(?P<best>; new best)?"
)
EPISODE_FIELDS = re.compile(
    r"^\[EP (?P<episode>\d+)\] total_reward=(?P<total_reward>\S+) steps=(?P<steps>\d+) "
    r"epsilon=(?P<epsilon>\S+) avg_loss=(?P<avg_loss>\S+)$"
)
GAME_ORDER = ("module", "board_size", "actions", "reward", "character_set", "spatial",
              "observe_state")


def episode_line(episode: int, total_reward: float, steps: int, epsilon: float,
                 avg_loss: float) -> str:
    """One line of ``training.log`` in the specification's format."""
    return (f"[EP {episode:04d}] total_reward={total_reward:.4f} steps={steps} "
            f"epsilon={epsilon:.4f} avg_loss={avg_loss:.6f}")


def eval_line(episode: int, mean: float, median: float, maximum: float, episodes: int,
              seed: int | None, best: bool) -> str:
    """The ``training.log`` comment line of one evaluation during training."""
    return (f"# eval after episode {episode}: mean {mean:.6g} median {median:.6g} "
            f"max {maximum:.6g} ({episodes} greedy games, seed {seed})"
            + ("; new best, saved as checkpoints/best.pt" if best else ""))


_UMASK = os.umask(0)
os.umask(_UMASK)


def atomic_write(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` so that readers see the old file or the new, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o666 & ~_UMASK)  # mkstemp makes 0600; give the file normal permissions
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    with contextlib.suppress(OSError):  # make the rename itself durable
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


class RunDirectory:
    """A training run's folder: its config, its log and its checkpoints."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.config_path = self.path / CONFIG_NAME
        self.log_path = self.path / LOG_NAME
        self.checkpoint_dir = self.path / CHECKPOINT_DIR
        self.tensorboard_dir = self.path / "tensorboard"

    def __repr__(self) -> str:
        return f"RunDirectory({str(self.path)!r})"

    # ---------------------------------------------------------------------- lock

    @contextlib.contextmanager
    def lock(self):
        """Hold the run exclusively while training: a second process is refused.

        An OS-level ``flock`` is released by the kernel when its holder dies,
        even by SIGKILL, so a stale lock can never block a resume. The file names
        its holder's PID for the message, and is removed on release.
        """
        import fcntl

        path = self.path / LOCK_NAME
        while True:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.read(fd, 200).decode("utf-8", "replace").strip() or "another process"
                os.close(fd)
                raise RunDirectoryError(
                    f"{self.path} is being trained by {holder} right now. Wait for it to "
                    "finish (or stop it) before training this run again."
                ) from None
            try:  # the holder before us may have removed the file: lock the current one
                same = os.fstat(fd).st_ino == os.stat(path).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        try:
            os.ftruncate(fd, 0)
            os.write(fd, f"process {os.getpid()} on {os.uname().nodename}".encode())
            yield
        finally:
            with contextlib.suppress(OSError):
                os.unlink(path)
            os.close(fd)

    # ----------------------------------------------------------------- config.toml

    def require_config(self) -> None:
        if not self.path.is_dir():
            raise RunDirectoryError(
                f"{self.path} is not a run directory (it does not exist). Create one with "
                f"'retro-gamer create --game MODULE --output {self.path}'."
            )
        if not self.config_path.is_file():
            raise RunDirectoryError(
                f"{self.path} has no {CONFIG_NAME}, so it is not a run directory. Create one "
                f"with 'retro-gamer create --game MODULE --output DIR'."
            )

    def has_progress(self) -> bool:
        """True when training has saved a checkpoint here (something a resume can continue).

        Episode lines alone are not progress: a run killed before its first
        checkpoint has nothing to resume, and training it again starts over.
        """
        return bool(self.checkpoints())

    def write_new_config(self, metadata: GameMetadata, hyper: Hyperparameters) -> None:
        """Write a fresh ``config.toml`` with every field and its description as a comment."""
        doc = tomlkit.document()
        doc.add(tomlkit.comment("retro-gamer training run. Edit values here before training;"))
        doc.add(tomlkit.comment("each key's comment says what it does. Docs: retro-gamer --help"))
        doc.add(tomlkit.nl())
        doc.add("game", _commented_table(metadata.to_dict(), GameMetadata, GAME_ORDER))
        doc.add(tomlkit.nl())
        names = [f.name for f in dataclasses.fields(Hyperparameters)]
        doc.add("hyperparameters", _commented_table(hyper.to_dict(), Hyperparameters, names))
        self.path.mkdir(parents=True, exist_ok=True)
        atomic_write(self.config_path, tomlkit.dumps(doc).encode("utf-8"))

    def read_document(self) -> tomlkit.TOMLDocument:
        self.require_config()
        try:
            text = self.config_path.read_text(encoding="utf-8")
            return tomlkit.parse(text)
        except UnicodeDecodeError:
            raise ConfigError(f"{self.config_path} is not UTF-8 text.") from None
        except TOMLKitError as error:
            raise ConfigError(
                f"{self.config_path} is not valid TOML: {error}. Fix the line it names, "
                "or re-create the run."
            ) from None

    def read_config(self) -> tuple[GameMetadata, Hyperparameters]:
        """Parse and validate ``config.toml``; every problem names the file and the key."""
        return config_from_document(self.read_document(), str(self.config_path))

    def update_config(self, game: dict | None = None, hyper: dict | None = None,
                      document: tomlkit.TOMLDocument | None = None) -> None:
        """Set values in ``config.toml``, keeping the user's comments, order and other values."""
        doc = document if document is not None else self.read_document()
        for table_name, values in (("game", game or {}), ("hyperparameters", hyper or {})):
            table = doc[table_name]
            current = table.unwrap()
            for key, value in values.items():
                if value is None:
                    table.pop(key, None)
                elif current.get(key) == value and type(current[key]) is type(value):
                    continue  # unchanged: keep the user's own formatting of it
                else:
                    table[key] = value
        config_from_document(doc, str(self.config_path))  # never write an invalid file
        atomic_write(self.config_path, tomlkit.dumps(doc).encode("utf-8"))

    # ---------------------------------------------------------------- training.log

    def episode_lines(self) -> list[str]:
        if not self.log_path.is_file():
            return []
        text = self.log_path.read_text(encoding="utf-8", errors="replace")
        return [line for line in text.splitlines() if EPISODE_LINE.match(line)]

    def episodes(self) -> list[dict]:
        """Episode lines parsed: episode, total_reward, steps, epsilon, avg_loss."""
        parsed = []
        for line in self.episode_lines():
            match = EPISODE_FIELDS.match(line)
            if match:
                parsed.append({k: (int(v) if k in ("episode", "steps") else float(v))
                               for k, v in match.groupdict().items()})
        return parsed

    def training_evaluations(self) -> list[dict]:
        """The evaluations during training, from the log's ``# eval after episode`` lines:
        episode, mean, median, maximum, episodes, seed, best (True where best.pt was saved)."""
        if not self.log_path.is_file():
            return []
        found = []
        for line in self.log_path.read_text(encoding="utf-8", errors="replace").splitlines():
            match = EVAL_LINE.match(line)
            if match:
                values = match.groupdict()
                found.append({"episode": int(values["episode"]), "mean": float(values["mean"]),
                              "median": float(values["median"]),
                              "maximum": float(values["maximum"]),
                              "episodes": int(values["episodes"]),
                              "seed": None if values["seed"] == "None" else int(values["seed"]),
                              "best": values["best"] is not None})
        return found

    def start_log(self, header: str) -> None:
        atomic_write(self.log_path, (header.rstrip("\n") + "\n").encode("utf-8"))

    def truncate_log_after(self, episode: int, marker: str) -> None:
        """Drop episode and evaluation lines past ``episode`` (written after the checkpoint),
        then add ``marker``.

        Used on resume, so the log's episode lines are exactly those of an
        uninterrupted run.
        """
        kept = []
        if self.log_path.is_file():
            for line in self.log_path.read_text(encoding="utf-8").splitlines():
                match = EPISODE_LINE.match(line) or EVAL_LINE.match(line)
                if match and int(match.group(1)) > episode:
                    continue
                kept.append(line)
        kept.append(marker)
        atomic_write(self.log_path, ("\n".join(kept) + "\n").encode("utf-8"))

    def append_log(self, line: str) -> None:
        with open(self.log_path, "a", encoding="utf-8") as handle:
            handle.write(line + "\n")
            handle.flush()

    # ---------------------------------------------------------------- checkpoints

    def checkpoints(self) -> list[Path]:
        """Checkpoint files, oldest episode first and ``final.pt`` last."""
        if not self.checkpoint_dir.is_dir():
            return []
        found = [p for p in self.checkpoint_dir.iterdir() if CHECKPOINT_NAME.match(p.name)]
        return sorted(found, key=_checkpoint_order)

    def checkpoint_path(self, name: str) -> Path:
        """Resolve ``final``, ``latest``, ``ep_0100``, a path relative to ``checkpoints/``,
        or an absolute path, to an existing file."""
        if name == "latest":
            found = self.checkpoints()
            if not found:
                raise CheckpointError(f"{self.path} has no checkpoints yet to resume from.")
            return max(found, key=lambda p: (_saved_episode(p), p.name == "final.pt"))
        candidates = [Path(name)] if Path(name).is_absolute() else [
            self.checkpoint_dir / name, self.checkpoint_dir / f"{name}.pt", Path(name),
        ]
        for candidate in candidates:
            if candidate.is_file():
                return candidate
        if name in (BEST_NAME, f"{BEST_NAME}.pt"):
            raise CheckpointError(
                f"{self.path} has no best checkpoint yet: checkpoints/best.pt is saved by the "
                "evaluations during training, every eval_every episodes (eval_every > 0 and "
                "eval_episodes > 0 in config.toml). Use --checkpoint final or latest instead."
            )
        available = ", ".join(p.stem for p in self.checkpoints()) or "none yet"
        hint = did_you_mean(name, [p.stem for p in self.checkpoints()])
        if name == "final" and self.checkpoints():  # training stopped before its end
            hint = (" 'final' is written when training finishes; the newest checkpoint is "
                    f"'latest' ({self.checkpoints()[-1].stem}): use --checkpoint latest.")
        raise CheckpointError(
            f"No checkpoint '{name}' in {self.checkpoint_dir}.{hint} Available: {available}."
        )

    @property
    def best_checkpoint_path(self) -> Path:
        """``checkpoints/best.pt``: the checkpoint with the best evaluation during training."""
        return self.checkpoint_dir / f"{BEST_NAME}.pt"

    def named_checkpoint(self, episode: int | None) -> Path:
        """``checkpoints/ep_NNNN.pt``, or ``final.pt`` for ``None``."""
        name = "final.pt" if episode is None else f"ep_{episode:04d}.pt"
        return self.checkpoint_dir / name

    def replay_path(self, checkpoint: Path) -> Path:
        return checkpoint.with_name(checkpoint.stem + ".replay.pt")

    def save_checkpoint(self, path: Path, state: dict, replay: dict | None = None) -> None:
        """Write a checkpoint (and its replay companion), atomically."""
        if replay is not None:
            atomic_write(self.replay_path(path), _torch_bytes(replay))
        atomic_write(path, _torch_bytes(state))
        if replay is not None:
            # Only the newest companion is kept (it is large, and the newest checkpoint is
            # what a resume uses). Removed only now: a crash before this line leaves the
            # previous checkpoint's companion in place.
            for old in self.checkpoint_dir.glob("*.replay.pt"):
                if old != self.replay_path(path):
                    with contextlib.suppress(OSError):
                        old.unlink()

    def remove_partial_writes(self) -> None:
        """Delete temporary files a killed process left behind mid-write."""
        for folder in (self.path, self.checkpoint_dir):
            if folder.is_dir():
                for leftover in folder.glob(".*.tmp"):
                    with contextlib.suppress(OSError):
                        leftover.unlink()

    def load_checkpoint(self, path: Path) -> dict:
        return load_torch_file(path, "checkpoint")

    def load_replay(self, checkpoint: Path) -> dict | None:
        path = self.replay_path(checkpoint)
        return load_torch_file(path, "replay buffer") if path.is_file() else None

    # ------------------------------------------- results, evaluations, plots, sweeps

    @property
    def result_path(self) -> Path:
        """``result.json``: a finished (or failed) training's status and objective."""
        return self.path / RESULT_NAME

    def read_result(self) -> dict | None:
        """``result.json`` as a dict, or ``None`` when it is missing or unreadable."""
        return _read_json(self.result_path)

    def write_result(self, result: dict) -> None:
        """Replace ``result.json`` (non-finite numbers become null, as JSON has no NaN)."""
        _write_json(self.result_path, result)

    @property
    def sweeps_dir(self) -> Path:
        return self.path / SWEEPS_DIR

    def sweep_dirs(self) -> list[Path]:
        """The sweeps launched from this run (``sweeps/<timestamp>/``), oldest first."""
        if not self.sweeps_dir.is_dir():
            return []
        return sorted(p for p in self.sweeps_dir.iterdir()
                      if p.is_dir() and not p.name.startswith(".") and is_sweep_directory(p))

    @property
    def eval_dir(self) -> Path:
        return self.path / EVAL_DIR

    def eval_path(self, checkpoint: str) -> Path:
        """``eval/<checkpoint>.json``: the record of ``retro-gamer eval`` on that checkpoint."""
        name = Path(checkpoint).name
        name = name[:-3] if name.endswith(".pt") else name
        return self.eval_dir / f"{name or 'checkpoint'}.json"

    def evaluations(self) -> list[dict]:
        """Every evaluation record in ``eval/``, by file name."""
        if not self.eval_dir.is_dir():
            return []
        found = (_read_json(p) for p in sorted(self.eval_dir.glob("*.json")))
        return [record for record in found if isinstance(record, dict)]

    def plot_path(self) -> Path:
        """Where ``retro-gamer plot`` puts the training curves unless told otherwise."""
        return self.path / PLOT_NAME

    def checkpoint_episode(self, path: Path) -> int:
        """The episode a checkpoint was saved after (-1 when it cannot be read)."""
        return _saved_episode(path)

    def lock_state(self) -> str:
        """``"held"`` while a process trains this run, ``"free"`` otherwise, or ``"stale"``
        when the lock file was left by a killed process of this machine (its PID is gone).

        Read without taking the lock, so asking never gets in a trainer's way.
        """
        try:
            text = (self.path / LOCK_NAME).read_text(encoding="utf-8", errors="replace").strip()
        except OSError:
            return "free"
        match = re.match(r"^process (\d+) on (\S+)$", text)
        if match and match.group(2) == os.uname().nodename:
            try:
                os.kill(int(match.group(1)), 0)
            except ProcessLookupError:
                return "stale"
            except PermissionError:
                pass
        return "held"


    def job_status(self) -> str:
        """The status of the last training, from facts rather than from what was written.

        ``result.json`` says "running" from the moment a job starts; once no live
        process holds the run's lock, that job was killed, and it is "stopped"
        (its checkpoints let ``--resume`` or a re-run sweep continue it).
        """
        status = (self.read_result() or {}).get("status") or "not started"
        if status == "running" and self.lock_state() != "held":
            return "stopped"
        return status


def is_sweep_directory(path: str | os.PathLike) -> bool:
    """A sweep's folder: it holds ``sweep.json``, or job folders with config and result."""
    folder = Path(path)
    if not folder.is_dir() or (folder / CONFIG_NAME).is_file():
        return False
    if (folder / SWEEP_SUMMARY_NAME).is_file():
        return True
    return any((p / CONFIG_NAME).is_file() and (p / RESULT_NAME).is_file()
               for p in folder.iterdir() if p.is_dir())


class SweepDirectory:
    """A sweep's folder (``RUN_DIR/sweeps/<timestamp>/``): one run directory per job."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.summary_path = self.path / SWEEP_SUMMARY_NAME

    def __repr__(self) -> str:
        return f"SweepDirectory({str(self.path)!r})"

    def require(self) -> None:
        if not is_sweep_directory(self.path):
            raise RunDirectoryError(
                f"{self.path} is not a sweep directory (it has no {SWEEP_SUMMARY_NAME} and no "
                f"job folders holding {CONFIG_NAME} and {RESULT_NAME})."
            )

    def read_summary(self) -> dict | None:
        """``sweep.json`` as a dict, or ``None`` when it is missing or unreadable."""
        summary = _read_json(self.summary_path)
        return summary if isinstance(summary, dict) else None

    def write_summary(self, summary: dict) -> None:
        _write_json(self.summary_path, summary)

    def job_dirs(self) -> list[Path]:
        """Job folders (each a complete run directory), in job-number order."""
        jobs = [p for p in self.path.iterdir() if p.is_dir() and (p / CONFIG_NAME).is_file()]
        return sorted(jobs, key=_job_order)

    def comparison_plot_path(self) -> Path:
        return self.path / COMPARISON_PLOT_NAME

    @property
    def hydra_config_path(self) -> Path:
        """``multirun.yaml``: the composed config Hydra saves when a sweep starts."""
        return self.path / "multirun.yaml"


def _job_order(path: Path) -> tuple[int, str]:
    number = path.name.split("_", 1)[0]
    return (int(number), path.name) if number.isdigit() else (1 << 30, path.name)


def _write_json(path: Path, data: dict) -> None:
    text = json.dumps(json_safe(data), indent=2, allow_nan=False, default=str)
    atomic_write(path, text.encode("utf-8"))


def _read_json(path: Path):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def check_same_game(state: dict, metadata: GameMetadata, path: Path) -> None:
    """Refuse a checkpoint whose game or actions differ from the run's, saying why."""
    if metadata.module and state.get("module") and state["module"] != metadata.module:
        raise CheckpointError(
            f"{path} is from the game '{state['module']}', but this run plays "
            f"'{metadata.module}'. Use a checkpoint of this run."
        )
    if list(state.get("actions", [])) != list(metadata.actions):
        raise CheckpointError(
            f"{path} was trained with actions {state.get('actions')}, but this run has "
            f"{metadata.actions}; the network's outputs would not match."
        )


def load_torch_file(path: Path, what: str) -> dict:
    """Load a torch file as data only: a file that would run code is refused unread."""
    import torch  # imported here: commands that never touch a checkpoint start faster

    try:
        with warnings.catch_warnings():  # torch warns about pickle protocols: noise to a user
            warnings.simplefilter("ignore")
            state = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise CheckpointError(f"The {what} {path} does not exist.") from None
    except pickle.UnpicklingError:
        # Not torch's own text: it suggests weights_only=False, i.e. running the file's code.
        raise CheckpointError(
            f"{path} is not a readable retro-gamer {what}: it is corrupt, or it holds Python "
            "objects other than plain data (which could run code when loaded), so it was "
            "refused unread."
        ) from None
    except Exception as error:  # torch raises RuntimeError, EOFError ...
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise CheckpointError(
            f"{path} is not a readable retro-gamer {what} (truncated, corrupt, or not "
            f"plain data): {first[:200]}"
        ) from None
    if not isinstance(state, dict) or (what == "checkpoint" and "model" not in state):
        raise CheckpointError(f"{path} is a torch file but not a retro-gamer {what}.")
    return state


def _torch_bytes(state: dict) -> bytes:
    import torch

    buffer = io.BytesIO()
    torch.save(state, buffer)
    return buffer.getvalue()


def _saved_episode(path: Path) -> int:
    match = CHECKPOINT_NAME.match(path.name)
    if match and match.group(2):
        return int(match.group(2))
    with contextlib.suppress(OSError, ValueError):  # final.pt: the episode is inside
        state = peek(path)  # without importing torch, which info would wait a second for
        if isinstance(state, dict) and "model" in state and isinstance(state.get("episode"), int):
            return state["episode"]
    try:  # a file the peek cannot read: torch.load decides (and words the problem)
        return int(load_torch_file(path, "checkpoint").get("episode", 0))
    except CheckpointError:
        return -1


def _checkpoint_order(path: Path) -> tuple[int, int]:
    match = CHECKPOINT_NAME.match(path.name)
    return (1, 0) if match.group(1) == "final" else (0, int(match.group(2)))


def _commented_table(values: dict, schema: type, order) -> tomlkit.items.Table:
    table = tomlkit.table()
    helps = {f.name: f.metadata.get("help", "") for f in dataclasses.fields(schema)}
    for key in order:
        value = values.get(key)
        table.add(tomlkit.comment(helps[key]))
        if value is None:
            table.add(tomlkit.comment(f"{key} = (not set yet: filled in when training starts)"))
        else:
            table.add(key, value)
    return table


def config_from_document(doc: Any, source: str) -> tuple[GameMetadata, Hyperparameters]:
    """Validate a parsed config.toml and build the two dataclasses from it."""
    data = doc.unwrap() if hasattr(doc, "unwrap") else dict(doc)
    for required in ("game", "hyperparameters"):
        if not isinstance(data.get(required), dict):
            raise ConfigError(
                f"{source} has no [{required}] table. Re-create the run with "
                "'retro-gamer create', or restore the table."
            )
    extra = [k for k in data if k not in ("game", "hyperparameters")]
    if extra:
        raise ConfigError(
            f"{source}: unknown top-level entry '{extra[0]}'. Only [game] and "
            "[hyperparameters] belong in config.toml."
        )
    game = data["game"]
    try:
        metadata = GameMetadata.from_mapping(game, f"{source} [game]")
    except GameDescriptionError as error:
        raise ConfigError(str(error)) from None
    if not metadata.module:
        raise ConfigError(f"{source} [game]: 'module' is missing; it names the game's module.")
    hyper = data["hyperparameters"]
    for key, value in hyper.items():
        check_known(key, f"{source} [hyperparameters]")
        if isinstance(value, float) and math.isnan(value):
            raise ConfigError(f"{source} [hyperparameters]: {key} is nan; give a number.")
    try:
        return metadata, Hyperparameters(**hyper)
    except ConfigError as error:
        raise ConfigError(f"{source} [hyperparameters]: {error}") from None


__all__ = ["RunDirectory", "SweepDirectory", "is_sweep_directory", "episode_line", "eval_line",
           "atomic_write", "HYPERPARAMETER_FIELDS"]
