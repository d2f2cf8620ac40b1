"""Torch files as plain data: checksummed bytes to save, a data-only load, a quick peek.

A checkpoint or replay file is loaded with ``weights_only=True`` only, so a file
crafted to run code is refused unread, and carries a SHA-256 of its contents
(:func:`content_digest`) that every load verifies. torch is imported inside the
functions that handle tensors: ``info`` and ``plot`` start without it.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import pickle
import warnings
from pathlib import Path
from typing import Any

from retro_gamer.errors import CheckpointError, RunDirectoryError
from retro_gamer.run_dir.files import read_regular
from retro_gamer.torch_file import expansion_error, peek

PEEKED = ("episode", "log_digest")  # the small fields info and 'latest' need


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


def checksummed_bytes(state: dict) -> bytes:
    """``state`` with its ``checksum`` added, as the bytes ``torch.save`` writes."""
    import torch

    buffer = io.BytesIO()
    torch.save({**state, "checksum": content_digest(state)}, buffer)
    return buffer.getvalue()


def load_torch_file(path: Path, what: str) -> dict:
    """Load a torch file as data only: a file that would run code is refused unread.

    Only a regular file is opened; a saved checksum (see :func:`content_digest`) is
    verified, so a file damaged on disk or in a copy is refused, naming it. Raises
    :class:`CheckpointError` saying what is wrong with the file.
    """
    import torch  # imported here: commands that never touch a checkpoint start faster

    try:
        data = read_regular(path, what)
        too_large = expansion_error(io.BytesIO(data), len(data))
        if too_large:
            raise CheckpointError(f"{path} is not a retro-gamer {what}: {too_large}. Use "
                                  "another file (retro-gamer info lists the checkpoints).")
        with warnings.catch_warnings():  # torch warns about pickle protocols: noise to a user
            warnings.simplefilter("ignore")
            state = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise CheckpointError(f"The {what} {path} does not exist.") from None
    except CheckpointError:
        raise
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
            return {k: state[k] for k in PEEKED if k in state}
    with contextlib.suppress(OSError):
        if expansion_error(path, path.stat().st_size):
            return None  # never expanded, not even by torch
    import torch  # a file the tensor-free reader cannot read: torch decides

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            state = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception:  # noqa: BLE001 -- any unreadable file is simply not peeked
        return None
    if not isinstance(state, dict):
        return None
    return {k: state[k] for k in PEEKED if k in state}
