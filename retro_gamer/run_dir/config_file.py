"""``config.toml``: a run's game description and hyperparameters, as a commented TOML file.

Written with tomlkit, so a user's own comments, key order and formatting survive
every update; parsed and validated into :class:`GameMetadata` and
:class:`Hyperparameters`, every problem naming the file and the key.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any

import tomlkit
from tomlkit.exceptions import TOMLKitError

from retro_gamer.config import GameMetadata, Hyperparameters, check_known
from retro_gamer.errors import ConfigError, GameDescriptionError, RunDirectoryError
from retro_gamer.run_dir.files import atomic_write, read_regular
from retro_gamer.run_dir.layout import CONFIG_NAME, shell_path

GAME_ORDER = ("module", "board_size", "actions", "reward", "character_set", "spatial",
              "observe_state", "symmetries")
OMITTED_WHEN_EMPTY = ("symmetries",)  # optional tables a game without them need not show


class ConfigFile:
    """The ``config.toml`` of the run folder ``run_path``."""

    def __init__(self, run_path: Path):
        self.run_path = run_path
        self.path = run_path / CONFIG_NAME

    def require(self) -> None:
        """Refuse a folder that is not a run directory (missing, or without config.toml)."""
        if not self.run_path.is_dir():
            raise RunDirectoryError(
                f"{self.run_path} is not a run directory (it does not exist). Create one with "
                f"'retro-gamer create --game MODULE --output {shell_path(self.run_path)}'."
            )
        if not self.path.is_file():
            raise RunDirectoryError(
                f"{self.run_path} has no {CONFIG_NAME}, so it is not a run directory. Create "
                f"one with 'retro-gamer create --game MODULE --output DIR'."
            )

    def write_new(self, metadata: GameMetadata, hyper: Hyperparameters) -> None:
        """Write a fresh ``config.toml`` with every field and its description as a comment."""
        doc = tomlkit.document()
        doc.add(tomlkit.comment("retro-gamer training run. Edit values here before training;"))
        doc.add(tomlkit.comment("each key's comment says what it does. Docs: retro-gamer --help"))
        doc.add(tomlkit.nl())
        doc.add("game", _commented_table(metadata.to_dict(), GameMetadata, GAME_ORDER))
        doc.add(tomlkit.nl())
        names = [f.name for f in dataclasses.fields(Hyperparameters)]
        doc.add("hyperparameters", _commented_table(hyper.to_dict(), Hyperparameters, names))
        self.run_path.mkdir(parents=True, exist_ok=True)
        atomic_write(self.path, tomlkit.dumps(doc).encode("utf-8"))

    def read_document(self) -> tomlkit.TOMLDocument:
        """The parsed file, comments and all (a regular file only; UTF-8 TOML)."""
        self.require()
        try:
            text = read_regular(self.path, "configuration").decode("utf-8")
            return tomlkit.parse(text)
        except UnicodeDecodeError:
            raise ConfigError(f"{self.path} is not UTF-8 text.") from None
        except TOMLKitError as error:
            raise ConfigError(
                f"{self.path} is not valid TOML: {error}. Fix the line it names, "
                "or re-create the run."
            ) from None

    def read(self) -> tuple[GameMetadata, Hyperparameters]:
        """Parse and validate the file; every problem names the file and the key."""
        return config_from_document(self.read_document(), str(self.path))

    def update(self, game: dict | None = None, hyper: dict | None = None,
               document: tomlkit.TOMLDocument | None = None) -> None:
        """Set values, keeping the user's comments, order and other values (``None`` removes
        a key); the result is validated before it replaces the file."""
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
        config_from_document(doc, str(self.path))  # never write an invalid file
        atomic_write(self.path, tomlkit.dumps(doc).encode("utf-8"))


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


def _resolves_to(typed: Any, value: Any) -> bool:
    """True when ``typed`` is an OmegaConf interpolation (``${...}``) that resolves to ``value``."""
    if not isinstance(typed, str) or "${" not in typed:
        return False
    from omegaconf import OmegaConf

    try:
        return OmegaConf.create({"value": typed}).value == value
    except Exception:  # noqa: BLE001 -- an interpolation that fails to resolve is a change
        return False


def _commented_table(values: dict, schema: type, order) -> tomlkit.items.Table:
    table = tomlkit.table()
    helps = {f.name: f.metadata.get("help", "") for f in dataclasses.fields(schema)}
    for key in order:
        value = values.get(key)
        if key in OMITTED_WHEN_EMPTY and not value:
            continue
        table.add(tomlkit.comment(helps[key]))
        if value is None:
            table.add(tomlkit.comment(f"{key} = (not set yet: filled in when training starts)"))
        else:
            table.add(key, value)
    return table
