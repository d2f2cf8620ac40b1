"""A run's checkpoints: saving, loading, naming (``latest``, ``best``, ``ep_0100``) and the
replay buffer saved with the newest one.

``checkpoints/`` holds only checkpoints (``ep_NNNN.pt``, ``final.pt``, ``best.pt``).
The newest checkpoint is *complete* (optimizer, target network, random states)
and its replay buffer is saved as ``replay/<checkpoint>.replay.pt``, so a resume
from it is exact; when a newer checkpoint is saved, the previous one drops what
only a resume needs, and its replay file goes. Runs made before ``replay/``
existed kept the buffer beside the checkpoint (``checkpoints/ep_NNNN.replay.pt``):
it is read from there, and superseded (slimmed away) at the next save like any other.
"""

from __future__ import annotations

import contextlib
import stat
from pathlib import Path

from retro_gamer.config import GameMetadata
from retro_gamer.errors import CheckpointError, did_you_mean
from retro_gamer.run_dir.files import atomic_write, refuse_links
from retro_gamer.run_dir.layout import (
    BEST_NAME,
    CHECKPOINT_NAME,
    REPLAY_SUFFIX,
    Layout,
    replay_candidates,
    replay_owner,
)
from retro_gamer.run_dir.torch_io import checksummed_bytes, load_torch_file, peek_checkpoint
from retro_gamer.run_dir.training_log import TrainingLog, episode_digest, episode_of


class Checkpoints:
    """The checkpoints of one run directory, on the line of training ``log`` records."""

    def __init__(self, layout: Layout, log: TrainingLog):
        self.layout = layout
        self.log = log
        self.folder = layout.checkpoint_dir

    def list(self) -> list[Path]:
        """Checkpoint files (regular files only), oldest episode first and ``final.pt`` last."""
        if not self.folder.is_dir():
            return []
        found = [p for p in self.folder.iterdir()
                 if CHECKPOINT_NAME.match(p.name) and p.is_file()]
        return sorted(found, key=_checkpoint_order)

    def resolve(self, name: str) -> Path:
        """Resolve ``final``, ``latest``, ``best``, ``ep_0100``, a path relative to
        ``checkpoints/``, or an absolute path, to an existing file.

        ``latest`` is the newest checkpoint of the current line of training: one whose
        episode lines (a digest saved in it) are those of ``training.log``. A checkpoint
        left behind when training resumed from an earlier one is *abandoned*: kept,
        never chosen as ``latest``. Raises :class:`CheckpointError` listing what exists.
        """
        if name == "latest":
            return self.latest()
        candidates = [Path(name)] if Path(name).is_absolute() else [
            self.folder / name, self.folder / f"{name}.pt", Path(name),
        ]
        for candidate in candidates:
            if candidate.is_file():
                return candidate
            if candidate.exists() and not candidate.is_dir():
                raise CheckpointError(f"{candidate} is not a regular file (a pipe or device), "
                                      "so it was not opened. Name a checkpoint file.")
        if name in (BEST_NAME, f"{BEST_NAME}.pt"):
            raise CheckpointError(
                f"{self.layout.path} has no best checkpoint yet: checkpoints/best.pt is saved "
                "by the evaluations during training, every eval_every episodes (eval_every > 0 "
                "and eval_episodes > 0 in config.toml). Use --checkpoint final or latest "
                "instead.")
        found = self.list()
        available = ", ".join(p.stem for p in found) or "none yet"
        hint = did_you_mean(name, [p.stem for p in found])
        if name == "final" and found:  # training stopped before its end
            hint = (" 'final' is written when training finishes; the newest checkpoint is "
                    f"'latest' ({found[-1].stem}): use --checkpoint latest.")
        raise CheckpointError(
            f"No checkpoint '{name}' in {self.folder}.{hint} Available: {available}."
        )

    def latest(self) -> Path:
        """The newest checkpoint on the current line of training (see :meth:`resolve`)."""
        found = self.list()
        if not found:
            raise CheckpointError(f"{self.layout.path} has no checkpoints yet to resume from.")
        lines = self.log.episode_lines()
        ordered = sorted(found, key=lambda p: (saved_episode(p), p.name == "final.pt"))
        if not lines:  # no log to follow (removed, or checkpoints made by the Python API)
            return ordered[-1]
        for path in reversed(ordered):
            if peek_checkpoint(path) is None:
                self.load(path)  # raises why it cannot be read
            elif self.on_line(path, lines):
                return path
        raise CheckpointError(
            f"None of the checkpoints in {self.folder} matches the episodes in "
            f"{self.log.path} (the log was edited, damaged or removed), so 'latest' is "
            "unknown. Name the checkpoint to continue from, e.g. --resume "
            f"{ordered[-1].stem} (available: {', '.join(p.stem for p in found)}).")

    def on_line(self, path: Path, lines: list[str] | None = None) -> bool:
        """True when ``path`` is on the current line of training (see :meth:`resolve`).

        A checkpoint saved before line digests existed counts when its episode is in the log.
        """
        info = peek_checkpoint(path)
        if info is None:
            return False
        lines = self.log.episode_lines() if lines is None else lines
        if not lines:  # no log to follow: every checkpoint counts (see latest)
            return True
        episode = int(info.get("episode", -1))
        upto = [line for line in lines if episode_of(line) <= episode]
        if episode < 0 or len(upto) < episode:
            return False
        saved = info.get("log_digest")
        return saved is None or saved == episode_digest(upto)

    def replay_path(self, checkpoint: Path) -> Path:
        """The replay file saved with ``checkpoint``: where it is (``replay/``, or beside the
        checkpoint in runs made before ``replay/`` existed), else where it would be written."""
        candidates = replay_candidates(checkpoint)
        return next((p for p in candidates if p.is_file()), candidates[0])

    def replay_files(self) -> list[Path]:
        """The saved replay buffers (regular files): in ``replay/``, then any an older
        retro-gamer left in ``checkpoints/``. Normally one, of the newest checkpoint."""
        return [path for folder in (self.layout.replay_dir, self.folder) if folder.is_dir()
                for path in sorted(folder.glob(f"*{REPLAY_SUFFIX}"))
                if path.is_file() and not path.is_symlink()]

    def not_files(self) -> list[tuple[Path, str]]:
        """Entries named like a checkpoint or replay buffer that are not regular files (a
        named pipe, a folder, a link), with what each is: every command ignores them, so
        ``info`` names them rather than leave a user wondering where a checkpoint went."""
        found = []
        for folder in (self.folder, self.layout.replay_dir):
            if not folder.is_dir() or folder.is_symlink():
                continue
            for path in sorted(folder.iterdir()):
                named = (CHECKPOINT_NAME.match(path.name) or path.name == f"{BEST_NAME}.pt"
                         or path.name.endswith(REPLAY_SUFFIX))
                if named and (path.is_symlink() or not path.is_file()):
                    found.append((path, _kind(path)))
        return found

    def save(self, path: Path, state: dict, replay: dict | None = None,
             resume_only: tuple[str, ...] = ()) -> None:
        """Write a checkpoint (and its replay buffer), atomically, with a checksum.

        The newest checkpoint is complete; ``resume_only`` names what only a resume needs
        (optimizer, target network, random states): it is dropped from the checkpoint
        that was newest before, with its replay file, so a run keeps it once.
        """
        refuse_links(self.layout.written_folders)
        if self.log.digest is not None:
            state = {**state, "log_digest": self.log.digest.hexdigest()}
        written = self.layout.replay_file(path)
        if replay is not None:
            atomic_write(written, checksummed_bytes(replay))
        try:
            atomic_write(path, checksummed_bytes(state))
        except BaseException:
            if replay is not None and not path.exists():  # no checkpoint owns it
                with contextlib.suppress(OSError):
                    written.unlink()
            raise
        if replay is None:
            return
        # Removed only now: a crash before this line leaves the previous complete
        # checkpoint and its replay file in place. The old place, checkpoints/, is
        # cleared too: a run made before replay/ existed moves over at its first save.
        for folder in (self.layout.replay_dir, self.folder):
            for old in folder.glob(f"*{REPLAY_SUFFIX}"):
                if old == written or old.is_symlink():
                    continue
                owner = self.folder / replay_owner(old)
                if resume_only and owner.is_file() and not owner.is_symlink():
                    self._slim(owner, resume_only)
                with contextlib.suppress(OSError):
                    old.unlink()

    def _slim(self, path: Path, drop: tuple[str, ...]) -> None:
        try:
            state = self.load(path)
        except CheckpointError:
            return  # damaged already: leave it for the user to see
        if any(key in state for key in drop):
            atomic_write(path, checksummed_bytes({k: v for k, v in state.items()
                                                  if k not in drop}))

    def load(self, path: Path) -> dict:
        """A checkpoint's contents, checked (see :func:`load_torch_file`)."""
        return load_torch_file(path, "checkpoint")

    def load_replay(self, checkpoint: Path) -> dict | None:
        """The replay buffer saved with ``checkpoint``, or ``None`` when there is none."""
        path = self.replay_path(checkpoint)
        return load_torch_file(path, "replay buffer") if path.is_file() else None


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


def saved_episode(path: Path) -> int:
    """The episode a checkpoint was saved after, from its name or (``final.pt``) from inside
    it; -1 when it cannot be read."""
    match = CHECKPOINT_NAME.match(path.name)
    if match and match.group(2):
        return int(match.group(2))
    info = peek_checkpoint(path)
    try:
        return int(info.get("episode", 0)) if info is not None else -1
    except (TypeError, ValueError):
        return -1


def _checkpoint_order(path: Path) -> tuple[int, int]:
    match = CHECKPOINT_NAME.match(path.name)
    return (1, 0) if match.group(1) == "final" else (0, int(match.group(2)))


def _kind(path: Path) -> str:
    """What a path that is not a regular file is, in words."""
    if path.is_symlink():
        return "a symbolic link"
    mode = path.lstat().st_mode
    for test, words in ((stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISDIR, "a folder"),
                        (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a character device"),
                        (stat.S_ISBLK, "a block device")):
        if test(mode):
            return words
    return "not a regular file"
