"""Choosing the torch device a run trains on.

Its own small module so that ``settings`` can check a run's ``device`` before anything is
written without importing the trainer (which imports ``settings``).
"""

from __future__ import annotations

import torch

from retro_gamer.errors import ConfigError


def select_device(name: str) -> torch.device:
    """``auto`` picks CUDA when torch sees a GPU, otherwise the CPU.

    Raises :class:`ConfigError` for a device this torch cannot use (checked before
    anything is written, so a refused run is left as it was).
    """
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    mps = getattr(torch.backends, "mps", None)
    usable = {"cuda": torch.cuda.is_available,
              "mps": lambda: mps is not None and mps.is_available()}.get(device.type)
    if usable is not None and not usable():
        raise ConfigError(
            f"device = {name!r}, but this installation of torch ({torch.__version__}) cannot "
            f"use a {device.type.upper()} device here. Set device=cpu (or device=auto, which "
            "picks a GPU when there is one).")
    return device


__all__ = ["select_device"]
