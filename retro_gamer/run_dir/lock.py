"""The run's lock: one training process at a time per run directory.

An OS-level ``flock`` is released by the kernel when its holder dies, even by
SIGKILL, so a stale lock can never block a resume. The lock file names its
holder (``process PID on HOST``) for the messages, and is removed on release.
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
from pathlib import Path

from retro_gamer.errors import RunDirectoryError
from retro_gamer.run_dir.files import read_regular


@contextlib.contextmanager
def hold(path: Path, run_path: Path):
    """Hold the lock file ``path`` of the run ``run_path``; a second holder is refused."""
    import fcntl

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
                f"{run_path} is being trained by {holder} right now. Wait for it to "
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


def lock_state(path: Path) -> str:
    """``"held"`` while a process holds the lock file ``path``, ``"free"`` otherwise, or
    ``"stale"`` when it was left by a killed process of this machine (its PID is gone).

    Read without taking the lock, so asking never gets in a trainer's way.
    """
    try:
        text = read_regular(path).decode("utf-8", "replace").strip()
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
