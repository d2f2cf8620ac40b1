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
import hashlib
import io
import json
import math
import os
import pickle
import re
import shlex
import stat
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
    """Replace ``path`` with ``data`` so that readers see the old file or the new, never half.

    A file system error (a full disk, a read-only folder) leaves the old file as it
    was and is raised as :class:`RunDirectoryError` naming the file.
    """
    created = not path.parent.exists()
    try:
        _atomic_write(path, data)
    except OSError as error:
        if created:  # a folder made for this file alone (eval/) goes again
            with contextlib.suppress(OSError):
                path.parent.rmdir()
        raise RunDirectoryError(
            f"Could not write {path}: {error.strerror or error}. Nothing was half-written; "
            "free some disk space (or fix the folder's permissions) and run the command again."
        ) from None


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o666 & ~_UMASK)  # mkstemp makes 0600; give the file normal permissions
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)  # replaces a symbolic link itself, never the file it points to
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


def read_regular(path: Path, what: str = "file") -> bytes:
    """The bytes of ``path``, refusing anything but a regular file (a FIFO would hang).

    Raises :class:`FileNotFoundError` when it is missing, and
    :class:`RunDirectoryError` naming the file for a FIFO, device or folder.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise RunDirectoryError(
                f"{path} is not a regular file (a pipe, device or folder), so the {what} was "
                "not read. Move it away, or restore the file.")
        with os.fdopen(os.dup(fd), "rb") as handle:
            return handle.read()
    finally:
        os.close(fd)


def shell_path(path: str | os.PathLike) -> str:
    """``path`` quoted for a shell, so a suggested command can be pasted as it is."""
    return shlex.quote(str(path))


def content_digest(value: Any) -> str:
    """SHA-256 of a checkpoint's contents: every tensor's bytes, shape and dtype, and every
    other value's type and ``repr``, in the order they are stored.

    Computed from the loaded data, not the file's bytes, so it checks exactly what a
    resume uses; a flipped byte anywhere that survives unpickling changes it.
    """
    import torch

    digest = hashlib.sha256()

    def walk(item: Any) -> None:
        if isinstance(item, torch.Tensor):
            flat = item.detach().cpu().contiguous().reshape(-1)
            digest.update(f"T{item.dtype}{tuple(item.shape)}".encode())
            digest.update(flat.view(torch.uint8).numpy().tobytes() if flat.numel() else b"")
        elif isinstance(item, dict):
            digest.update(f"D{len(item)}".encode())
            for key, inner in item.items():
                digest.update(repr(key).encode())
                walk(inner)
        elif isinstance(item, (list, tuple)):
            digest.update(f"L{len(item)}".encode())
            for inner in item:
                walk(inner)
        else:
            digest.update(f"{type(item).__name__}:{item!r};".encode())

    walk(value)
    return digest.hexdigest()


class LogDigest:
    """Running SHA-256 of training.log's episode lines: which line of training a
    checkpoint is on (two lines that differ in one episode differ in their digests)."""

    def __init__(self, lines: list[str] = ()):
        self._digest = hashlib.sha256()
        for line in lines:
            self.add(line)

    def add(self, line: str) -> None:
        self._digest.update(line.encode("utf-8", "surrogateescape") + b"\n")

    def hexdigest(self) -> str:
        return self._digest.hexdigest()


def episode_digest(lines: list[str]) -> str:
    return LogDigest(lines).hexdigest()


class RunDirectory:
    """A training run's folder: its config, its log and its checkpoints."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.config_path = self.path / CONFIG_NAME
        self.log_path = self.path / LOG_NAME
        self.checkpoint_dir = self.path / CHECKPOINT_DIR
        self.tensorboard_dir = self.path / "tensorboard"
        # Digest of the episode lines this process has written: stamped into each
        # checkpoint, so ``latest`` can tell the current line of training from an abandoned one.
        self.log_digest: LogDigest | None = None

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
        self.refuse_links()
        while True:
            try:  # O_NOFOLLOW: a link planted here must never aim the lock at another file
                fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK, 0o644)
            except OSError as error:
                raise RunDirectoryError(
                    f"{path} is a symbolic link or not a regular file ({error.strerror}). "
                    "retro-gamer never writes through a link in a run folder: delete it "
                    "(it only marks a training in progress) and run the command again."
                ) from None
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                os.close(fd)
                raise RunDirectoryError(
                    f"{path} is not a regular file. Delete it (it only marks a training in "
                    "progress) and run the command again.")
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

    def refuse_links(self) -> None:
        """Refuse a run folder whose sub-folders are symbolic links.

        Training creates and deletes files in ``checkpoints/`` (temporary files,
        replay buffers); through a link it would delete files in another folder.
        """
        for folder in (self.checkpoint_dir, self.eval_dir, self.tensorboard_dir,
                       self.sweeps_dir):
            if folder.is_symlink():
                raise RunDirectoryError(
                    f"{folder} is a symbolic link (to {os.readlink(folder)}). retro-gamer "
                    "creates and deletes files in it, and never does so through a link: "
                    f"replace the link by a real folder (copy its files in) and run again.")

    # ----------------------------------------------------------------- config.toml

    def require_config(self) -> None:
        if not self.path.is_dir():
            raise RunDirectoryError(
                f"{self.path} is not a run directory (it does not exist). Create one with "
                f"'retro-gamer create --game MODULE --output {shell_path(self.path)}'."
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
            text = read_regular(self.config_path, "configuration").decode("utf-8")
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
                elif _resolves_to(current.get(key), value):
                    continue  # an interpolation such as ${oc.env:HOME}: keep it as typed
                else:
                    table[key] = value
        config_from_document(doc, str(self.config_path))  # never write an invalid file
        atomic_write(self.config_path, tomlkit.dumps(doc).encode("utf-8"))

    # ---------------------------------------------------------------- training.log

    def log_lines(self) -> list[str]:
        """training.log's lines; a byte that is not UTF-8 is kept as it is, never fatal."""
        try:
            data = read_regular(self.log_path, "training log")
        except FileNotFoundError:
            return []
        return data.decode("utf-8", "surrogateescape").splitlines()

    def episode_lines(self) -> list[str]:
        return [line for line in self.log_lines() if EPISODE_LINE.match(line)]

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
        self.log_digest = LogDigest()

    def truncate_log_after(self, episode: int, marker: str) -> list[str]:
        """Drop episode and evaluation lines past ``episode`` (written after the checkpoint),
        then add ``marker``.

        Used on resume, so the log's episode lines are exactly those of an
        uninterrupted run. Returns the episode lines kept.
        """
        kept = [line for line in self.log_lines()
                if not ((match := EPISODE_LINE.match(line) or EVAL_LINE.match(line))
                        and int(match.group(1)) > episode)]
        text = "\n".join([*kept, marker]) + "\n"
        atomic_write(self.log_path, text.encode("utf-8", "surrogateescape"))
        episodes = [line for line in kept if EPISODE_LINE.match(line)]
        self.log_digest = LogDigest(episodes)
        return episodes

    def append_log(self, line: str) -> None:
        # O_NOFOLLOW: a link planted as training.log must not send lines into another file.
        fd = os.open(self.log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW,
                     0o666)
        with os.fdopen(fd, "a", encoding="utf-8", errors="surrogateescape") as handle:
            handle.write(line + "\n")
            handle.flush()
        if self.log_digest is not None and EPISODE_LINE.match(line):
            self.log_digest.add(line)

    # ---------------------------------------------------------------- checkpoints

    def checkpoints(self) -> list[Path]:
        """Checkpoint files (regular files only), oldest episode first and ``final.pt`` last."""
        if not self.checkpoint_dir.is_dir():
            return []
        found = [p for p in self.checkpoint_dir.iterdir()
                 if CHECKPOINT_NAME.match(p.name) and p.is_file()]
        return sorted(found, key=_checkpoint_order)

    def checkpoint_path(self, name: str) -> Path:
        """Resolve ``final``, ``latest``, ``ep_0100``, a path relative to ``checkpoints/``,
        or an absolute path, to an existing file.

        ``latest`` is the newest checkpoint of the current line of training: one whose
        episode lines (a digest saved in it) are those of ``training.log``. A checkpoint
        left behind when training resumed from an earlier one is *abandoned*: kept,
        never chosen as ``latest``.
        """
        if name == "latest":
            return self.latest_checkpoint()
        candidates = [Path(name)] if Path(name).is_absolute() else [
            self.checkpoint_dir / name, self.checkpoint_dir / f"{name}.pt", Path(name),
        ]
        for candidate in candidates:
            if candidate.is_file():
                return candidate
            if candidate.exists() and not candidate.is_dir():
                raise CheckpointError(f"{candidate} is not a regular file (a pipe or device), "
                                      "so it was not opened. Name a checkpoint file.")
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

    def latest_checkpoint(self) -> Path:
        found = self.checkpoints()
        if not found:
            raise CheckpointError(f"{self.path} has no checkpoints yet to resume from.")
        lines = self.episode_lines()
        ordered = sorted(found, key=lambda p: (_saved_episode(p), p.name == "final.pt"))
        if not lines:  # no log to follow (removed, or checkpoints made by the Python API)
            return ordered[-1]
        for path in reversed(ordered):
            if peek_checkpoint(path) is None:
                self.load_checkpoint(path)  # raises why it cannot be read
            elif self.on_line(path, lines):
                return path
        raise CheckpointError(
            f"None of the checkpoints in {self.checkpoint_dir} matches the episodes in "
            f"{self.log_path} (the log was edited, damaged or removed), so 'latest' is "
            "unknown. Name the checkpoint to continue from, e.g. --resume "
            f"{ordered[-1].stem} (available: {', '.join(p.stem for p in found)}).")

    def on_line(self, path: Path, lines: list[str] | None = None) -> bool:
        """True when ``path`` is on the current line of training (see :meth:`checkpoint_path`).

        A checkpoint saved before line digests existed counts when its episode is in the log.
        """
        info = peek_checkpoint(path)
        if info is None:
            return False
        lines = self.episode_lines() if lines is None else lines
        if not lines:  # no log to follow: every checkpoint counts (see latest_checkpoint)
            return True
        episode = int(info.get("episode", -1))
        upto = [line for line in lines if int(EPISODE_LINE.match(line).group(1)) <= episode]
        if episode < 0 or len(upto) < episode:
            return False
        saved = info.get("log_digest")
        return saved is None or saved == episode_digest(upto)

    def named_checkpoint(self, episode: int | None) -> Path:
        """``checkpoints/ep_NNNN.pt``, or ``final.pt`` for ``None``."""
        name = "final.pt" if episode is None else f"ep_{episode:04d}.pt"
        return self.checkpoint_dir / name

    def replay_path(self, checkpoint: Path) -> Path:
        return checkpoint.with_name(checkpoint.stem + ".replay.pt")

    def save_checkpoint(self, path: Path, state: dict, replay: dict | None = None,
                        resume_only: tuple[str, ...] = ()) -> None:
        """Write a checkpoint (and its replay companion), atomically, with a checksum.

        The newest checkpoint is complete; ``resume_only`` names what only a resume needs
        (optimizer, target network, random states): it is dropped from the checkpoint
        that was newest before, with its replay companion, so a run keeps it once.
        """
        self.refuse_links()
        if self.log_digest is not None:
            state = {**state, "log_digest": self.log_digest.hexdigest()}
        if replay is not None:
            atomic_write(self.replay_path(path), _torch_bytes(_with_checksum(replay)))
        atomic_write(path, _torch_bytes(_with_checksum(state)))
        if replay is None:
            return
        # Removed only now: a crash before this line leaves the previous complete
        # checkpoint and its companion in place.
        for old in self.checkpoint_dir.glob("*.replay.pt"):
            if old == self.replay_path(path) or old.is_symlink():
                continue
            owner = old.with_name(old.name[: -len(".replay.pt")] + ".pt")
            if resume_only and owner.is_file() and not owner.is_symlink():
                self._slim(owner, resume_only)
            with contextlib.suppress(OSError):
                old.unlink()

    def _slim(self, path: Path, drop: tuple[str, ...]) -> None:
        try:
            state = self.load_checkpoint(path)
        except CheckpointError:
            return  # damaged already: leave it for the user to see
        if any(key in state for key in drop):
            slim = {k: v for k, v in state.items() if k not in drop}
            atomic_write(path, _torch_bytes(_with_checksum(slim)))

    def remove_partial_writes(self) -> None:
        """Delete temporary files a killed process left behind mid-write."""
        self.refuse_links()
        for folder in (self.path, self.checkpoint_dir):
            if folder.is_dir():
                for leftover in folder.glob(".*.tmp"):
                    if leftover.is_file() and not leftover.is_symlink():
                        with contextlib.suppress(OSError):
                            leftover.unlink()

    def load_checkpoint(self, path: Path) -> dict:
        return load_torch_file(path, "checkpoint")

    def load_replay(self, checkpoint: Path) -> dict | None:
        path = self.replay_path(checkpoint)
        return load_torch_file(path, "replay buffer") if path.is_file() else None

    def folder_size(self) -> int:
        """Bytes of every regular file in the run folder (links not followed)."""
        total = 0
        for root, _, files in os.walk(self.path):
            for name in files:
                with contextlib.suppress(OSError):
                    info = os.lstat(os.path.join(root, name))
                    if stat.S_ISREG(info.st_mode):
                        total += info.st_size
        return total

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
            text = read_regular(self.path / LOCK_NAME).decode("utf-8", "replace").strip()
        except (OSError, RunDirectoryError):
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
    """Load a torch file as data only: a file that would run code is refused unread.

    Only a regular file is opened; a saved checksum (see :func:`content_digest`) is
    verified, so a file damaged on disk or in a copy is refused, naming it.
    """
    import torch  # imported here: commands that never touch a checkpoint start faster

    try:
        data = read_regular(path, what)
        with warnings.catch_warnings():  # torch warns about pickle protocols: noise to a user
            warnings.simplefilter("ignore")
            state = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise CheckpointError(f"The {what} {path} does not exist.") from None
    except RunDirectoryError as error:
        raise CheckpointError(str(error)) from None
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
    saved = state.pop("checksum", None)
    if saved is not None and saved != content_digest(state):
        raise CheckpointError(
            f"{path} is damaged: its contents no longer match the checksum saved in it (the "
            "disk or a copy changed it). Use another checkpoint (retro-gamer info lists them), "
            "or copy the file again from where it came from.")
    return state


def peek_checkpoint(path: Path) -> dict | None:
    """A checkpoint's small fields (episode, line digest), read without loading its tensors'
    data or checking its checksum; ``None`` when it cannot be read."""
    if not path.is_file():
        return None
    with contextlib.suppress(OSError, ValueError):
        state = peek(path)  # without importing torch, which info would wait a second for
        if isinstance(state, dict):
            return {k: state[k] for k in ("episode", "log_digest") if k in state}
    import torch  # a file the tensor-free reader cannot read: torch decides

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            state = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception:  # noqa: BLE001 -- any unreadable file is simply not peeked
        return None
    if not isinstance(state, dict):
        return None
    return {k: state[k] for k in ("episode", "log_digest") if k in state}


def _with_checksum(state: dict) -> dict:
    return {**state, "checksum": content_digest(state)}


def _torch_bytes(state: dict) -> bytes:
    import torch

    buffer = io.BytesIO()
    torch.save(state, buffer)
    return buffer.getvalue()


def _saved_episode(path: Path) -> int:
    match = CHECKPOINT_NAME.match(path.name)
    if match and match.group(2):
        return int(match.group(2))
    info = peek_checkpoint(path)  # final.pt: the episode it was saved at is inside
    try:
        return int(info.get("episode", 0)) if info is not None else -1
    except (TypeError, ValueError):
        return -1


def _resolves_to(typed: Any, value: Any) -> bool:
    """True when ``typed`` is an OmegaConf interpolation (``${...}``) that resolves to ``value``."""
    if not isinstance(typed, str) or "${" not in typed:
        return False
    from omegaconf import OmegaConf

    try:
        return OmegaConf.create({"value": typed}).value == value
    except Exception:  # noqa: BLE001 -- an interpolation that fails to resolve is a change
        return False


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
