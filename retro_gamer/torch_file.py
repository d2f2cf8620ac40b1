"""Plain values of a torch checkpoint, read without importing torch.

``retro-gamer info`` lists each checkpoint with the episode it was saved after;
for ``final.pt`` that number is only inside the file. Loading it with
``torch.load`` costs importing torch (over a second, most of ``info``'s time), so
:func:`peek` reads the file's pickle directly instead: a torch file written by
``torch.save`` is a zip archive whose ``<name>/data.pkl`` holds the object, with
every tensor's bytes in separate entries. The unpickler below never imports or
calls anything the file names: torch's classes and functions (tensors, storages,
dtypes) become inert :class:`Opaque` placeholders, tensor storages are not read,
and any other name makes it give up. So numbers, strings, lists and dicts come
back as they are, tensors as placeholders. Anything else (an old non-zip
format, a damaged file, a pickle naming other code) raises :class:`ValueError`;
callers then fall back to ``torch.load``, which decides (and refuses code).
"""

from __future__ import annotations

import pickle
import zipfile
from pathlib import Path
from typing import IO

PLAIN = {("collections", "OrderedDict")}  # containers torch.save writes for state dicts


class Opaque:
    """What the file names that is not plain data (a tensor, a dtype, a numpy array)."""

    def __new__(cls, *args, **kwargs):
        return object.__new__(cls)

    def __init__(self, *args, **kwargs):
        pass

    def __setstate__(self, state):
        pass

    def __call__(self, *args, **kwargs):
        return Opaque()


class _InertUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        if (module, name) in PLAIN:
            return super().find_class(module, name)
        if module == "torch" or module.startswith("torch."):
            return Opaque  # a tensor, storage or dtype: not needed, never imported
        # Anything else is not what retro-gamer writes: torch.load decides (and refuses code).
        raise pickle.UnpicklingError(f"names {module}.{name}")

    def persistent_load(self, pid):
        return None  # a tensor's storage: left in the archive, unread


# torch.save stores its entries uncompressed: what an archive expands to is about its own
# size. One that claims more (a "zip bomb", gigabytes from kilobytes) is refused unread.
EXPANSION_SLACK = 1 << 20  # bytes beyond the file's own size


def expansion_error(source: str | Path | IO[bytes], size: int) -> str | None:
    """Why the zip archive ``source`` (``size`` bytes) must not be expanded, or ``None``.

    Reads the archive's directory only (nothing is decompressed): the entries' declared
    sizes must add up to no more than the file's size plus :data:`EXPANSION_SLACK`;
    readers (zipfile, torch) never expand an entry past its declared size. ``None`` too
    for a file that is not a zip archive (the loader then says what it is).
    """
    try:
        with zipfile.ZipFile(source) as archive:
            declared = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        return None
    if declared <= size + EXPANSION_SLACK:
        return None
    return (f"its {size:,} bytes claim to expand to {declared:,} (a compressed archive, "
            "which torch.save never writes), so it was not expanded")


def peek(path: str | Path) -> object:
    """The object in the torch file ``path`` with tensors as :class:`Opaque` placeholders.

    Raises ValueError when the file is not a torch zip archive that this reader can
    read (callers fall back to ``torch.load``), OSError when it cannot be opened.
    """
    size = Path(path).stat().st_size
    if expansion_error(path, size):
        raise ValueError(f"{path}: {expansion_error(path, size)}")
    try:
        with zipfile.ZipFile(path) as archive:
            names = [n for n in archive.namelist() if n.endswith("/data.pkl")]
            if len(names) != 1:
                raise ValueError(f"{path}: not a torch archive (no single data.pkl)")
            with archive.open(names[0]) as data:
                return _InertUnpickler(data).load()
    except (zipfile.BadZipFile, pickle.UnpicklingError, EOFError, TypeError,
            AttributeError, IndexError, KeyError) as error:
        raise ValueError(f"{path}: {type(error).__name__}: {error}") from None


__all__ = ["Opaque", "expansion_error", "peek"]
