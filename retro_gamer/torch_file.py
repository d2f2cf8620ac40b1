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


def peek(path: str | Path) -> object:
    """The object in the torch file ``path`` with tensors as :class:`Opaque` placeholders.

    Raises ValueError when the file is not a torch zip archive that this reader can
    read (callers fall back to ``torch.load``), OSError when it cannot be opened.
    """
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


__all__ = ["Opaque", "peek"]
