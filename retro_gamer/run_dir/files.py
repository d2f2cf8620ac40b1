"""File safety in a run directory: whole-file replacement, regular-file reads, no links.

Every file is replaced atomically (written to a temporary file in the same
folder, flushed, fsynced, renamed), so a crash never leaves half a file. Reads
open regular files only (a FIFO named like a checkpoint would hang a reader),
and nothing is created, appended to or deleted through a symbolic link.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
import tempfile
from collections.abc import Iterable
from pathlib import Path

from retro_gamer.errors import RunDirectoryError
from retro_gamer.json_values import json_safe

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
        if created:  # a folder made for this file alone (eval/, replay/) goes again
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


def append_line(path: Path, line: str) -> None:
    """Add ``line`` to the end of a text file (created if missing), never through a link."""
    # O_NOFOLLOW: a link planted in the run folder must not send lines into another file.
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW, 0o666)
    with os.fdopen(fd, "a", encoding="utf-8", errors="surrogateescape") as handle:
        handle.write(line + "\n")
        handle.flush()


def refuse_links(folders: Iterable[Path]) -> None:
    """Refuse sub-folders that are symbolic links: files are created and deleted in them
    (temporary files, replay buffers), and through a link that would happen elsewhere."""
    for folder in folders:
        if folder.is_symlink():
            raise RunDirectoryError(
                f"{folder} is a symbolic link (to {os.readlink(folder)}). retro-gamer "
                "creates and deletes files in it, and never does so through a link: "
                f"replace the link by a real folder (copy its files in) and run again.")


def remove_partial_writes(folders: Iterable[Path]) -> None:
    """Delete the temporary files (``.NAME.*.tmp``) a killed process left mid-write (callers
    refuse linked sub-folders first: :func:`refuse_links`)."""
    for folder in folders:
        if folder.is_dir():
            for leftover in folder.glob(".*.tmp"):
                if leftover.is_file() and not leftover.is_symlink():
                    with contextlib.suppress(OSError):
                        leftover.unlink()


def folder_size(path: Path) -> int:
    """Bytes of every regular file under ``path`` (links not followed)."""
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):
                info = os.lstat(os.path.join(root, name))
                if stat.S_ISREG(info.st_mode):
                    total += info.st_size
    return total


def write_json(path: Path, data: dict) -> None:
    """Replace a JSON file (non-finite numbers become null, as JSON has no NaN)."""
    text = json.dumps(json_safe(data), indent=2, allow_nan=False, default=str)
    atomic_write(path, text.encode("utf-8"))


def read_json(path: Path):
    """A JSON file's value, or ``None`` when it is missing or unreadable."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
