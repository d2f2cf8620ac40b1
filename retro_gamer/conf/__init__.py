"""The config groups retro-gamer ships (``preset/``, ``sweep/``), as YAML files Hydra composes.

Listing them needs no Hydra: ``--help`` lists them without paying Hydra's import.
"""

from __future__ import annotations

from importlib import resources


def group_names() -> tuple[str, ...]:
    """The config groups shipped in ``retro_gamer/conf`` (``preset``, ``sweep``)."""
    root = resources.files(__name__)
    return tuple(sorted(p.name for p in root.iterdir() if p.is_dir() and p.name != "__pycache__"))


def group_options(group: str) -> list[str]:
    """The options of one shipped group: its YAML files' names without ``.yaml``."""
    root = resources.files(__name__) / group
    return sorted(p.name[:-5] for p in root.iterdir() if p.name.endswith(".yaml"))
