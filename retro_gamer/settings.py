"""A run's settings: read from ``config.toml`` once, validated, passed down as objects;
what training discovers is recorded there by one writer.

How ``learning_rate`` travels from ``retro-gamer train RUN learning_rate=3e-4`` to the
optimizer (one read of ``config.toml``, one write)::

    cli.main -> sweep.train_command
        read_run_config(RUN)                  the one read: a RunConfig (text + objects)
    -> Hydra composes the file's values with the overrides (type-checked by the schema)
    -> sweep.TrainTask.__call__(cfg) -> values_from(cfg)      plain dicts
        resolve_settings(RUN, hyper, game, base=RunConfig)    validated (GameMetadata,
                                                              Hyperparameters); no read
    -> runs.train_run(RUN, config=..., config_writer=RunConfigFile(RUN, text))
    -> runs.open_trainer -> DQNTrainer(create_game, metadata, RUN, hyperparameters)
    -> DQNTrainer.train -> _build -> torch.optim.Adam(lr=hyperparameters.learning_rate)
    -> DQNTrainer._start_writing -> config_writer.record(metadata, hyperparameters,
                                                         Discoveries(...))   the one write

The suite, the benchmark and :func:`~retro_gamer.runs.train_run` given only a folder
call :func:`resolve_settings` once themselves. The Python API's keyword form,
``DQNTrainer(create_game, metadata, RUN, gamma=0.9)``, starts from the folder's
``config.toml`` when it has one (:func:`keyword_hyperparameters`, the same reader);
given a :class:`~retro_gamer.config.Hyperparameters` object the trainer reads nothing.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import tomlkit

from retro_gamer.config import SHAPE_FIELDS, GameMetadata, Hyperparameters
from retro_gamer.errors import ConfigError, RetroGamerError
from retro_gamer.run_dir import RunDirectory, config_from_document


@dataclass(frozen=True)
class RunConfig:
    """What a run's ``config.toml`` held when it was read: its text (so that the writer
    keeps the user's comments without reading the file again) and its validated values."""

    metadata: GameMetadata
    hyperparameters: Hyperparameters
    text: str


def read_run_config(run_dir: str | os.PathLike) -> RunConfig:
    """Read and validate ``run_dir/config.toml``: the one place training reads it.

    Raises :class:`~retro_gamer.errors.RunDirectoryError` when the folder is not a
    run, :class:`~retro_gamer.errors.ConfigError` naming the file and key otherwise.
    """
    run = RunDirectory(run_dir)
    document = run.read_document()
    metadata, hyper = config_from_document(document, str(run.config_path))
    return RunConfig(metadata, hyper, tomlkit.dumps(document))


def resolve_settings(run_dir: str | os.PathLike, hyperparameters: Mapping[str, Any] = {},
                     game: Mapping[str, Any] = {}, *, base: RunConfig | None = None,
                     source: str = "the composed config"
                     ) -> tuple[GameMetadata, Hyperparameters]:
    """The run's settings with ``hyperparameters`` and ``game`` values laid over them,
    validated as training needs them; nothing is written.

    ``base`` is the run's config as an earlier :func:`read_run_config` gave it (the
    command read it before Hydra composed); without it the file is read here, once.
    Checks: every value's name, type and range (``source`` names where they came
    from); on a run with checkpoints, that no field the network's shape or the game
    depends on changes; that the reward and observed keys exist in a real game's
    state; that torch can use the device. Raises :class:`ConfigError` (or the game's
    own :class:`~retro_gamer.errors.RetroGamerError`) for the first problem.
    """
    from retro_gamer.device import select_device  # imports torch: only training needs it
    from retro_gamer.games import check_against_game, find_create_game, make_game

    run = RunDirectory(run_dir)
    base = base if base is not None else read_run_config(run.path)
    metadata, current = base.metadata, base.hyperparameters
    new_hyper = Hyperparameters.from_mapping({**current.to_dict(), **hyperparameters}, source)
    try:
        new_game = GameMetadata.from_mapping({**metadata.to_dict(), **game}, f"{source} [game]")
    except RetroGamerError as error:
        raise ConfigError(str(error)) from None
    if run.checkpoints():
        changed = [name for name in SHAPE_FIELDS
                   if getattr(new_hyper, name) != getattr(current, name)]
        changed += [f"game.{name}" for name in GameMetadata.DESCRIPTION_FIELDS
                    if getattr(new_game, name) != getattr(metadata, name)]
        if changed:
            raise ConfigError(
                f"{run.path} already has checkpoints, and {', '.join(changed)} would change "
                "the network's shape or the game the agent learned. Its weights cannot carry "
                "over. Start a new run instead: retro-gamer create --game "
                f"{metadata.module} --output NEW_DIR (then train it with your overrides).")
    # The reward and observed keys (perhaps overridden) must exist in the game's state.
    instance = make_game(find_create_game(metadata.module), metadata.module)
    check_against_game(new_game, instance, f"{run.config_path} with the overrides")
    select_device(new_hyper.device)
    # The description may be overridden; module, characters and board size stay the run's.
    described = {name: getattr(new_game, name) for name in GameMetadata.DESCRIPTION_FIELDS}
    return dataclasses.replace(metadata, **described), new_hyper


def keyword_hyperparameters(run_dir: str | os.PathLike, overrides: Mapping[str, Any],
                            source: str) -> tuple[Hyperparameters, str | None]:
    """The Python API's keyword form: ``run_dir/config.toml``'s hyperparameters (when the
    folder has one) with ``overrides`` laid over them, and the file's text (``None``
    when there is no file yet). Unknown names are refused with a suggestion."""
    run = RunDirectory(run_dir)
    base = read_run_config(run.path) if run.config_path.is_file() else None
    values = base.hyperparameters.to_dict() if base is not None else {}
    values.update(overrides)
    return Hyperparameters.from_mapping(values, source), base.text if base else None


@dataclass(frozen=True)
class Discoveries:
    """What training found out that ``config.toml`` did not say: the characters the
    board shows (grown when ``unknown_character_strategy = "extend"`` meets new ones),
    the board's ``(width, height)``, the seed actually used, and the characters an
    egocentric view centres on (``center_on = "auto"`` finds them; empty without such a
    view). :class:`RunConfigFile` records the first three; ``center_on`` stays as the
    user wrote it, the checkpoints keep the player's codes."""

    character_set: tuple[str, ...]
    board_size: tuple[int, int]
    seed: int
    player_characters: tuple[str, ...] = ()


class ConfigWriter(Protocol):
    """Where a trainer records its settings and what it discovered (config.toml by
    default: :class:`RunConfigFile`). Called before the first episode, and again each
    time the character set grows; it must raise rather than record an invalid value."""

    def record(self, metadata: GameMetadata, hyperparameters: Hyperparameters,
               found: Discoveries) -> None: ...


class RunConfigFile:
    """The run directory's config writer: records into ``run_dir/config.toml``.

    ``text`` is the file as it was read (:attr:`RunConfig.text`): each record updates
    it, keeping the user's comments, order and formatting, and replaces the file
    atomically, without reading it again. Without ``text`` an existing file is read
    once, at the first record; a folder with no ``config.toml`` gets a fresh,
    commented one.
    """

    def __init__(self, run_dir: str | os.PathLike, text: str | None = None):
        self.run = RunDirectory(run_dir)
        self.text = text
        self.fresh = False  # the file is one this writer created: rewrite it whole

    def record(self, metadata: GameMetadata, hyperparameters: Hyperparameters,
               found: Discoveries) -> None:
        metadata = dataclasses.replace(metadata, character_set=list(found.character_set),
                                       board_size=list(found.board_size))
        hyperparameters = dataclasses.replace(hyperparameters, seed=found.seed)
        if self.fresh or (self.text is None and not self.run.config_path.is_file()):
            self.run.write_new_config(metadata, hyperparameters)
            self.fresh = True
            return
        document = (tomlkit.parse(self.text) if self.text is not None
                    else self.run.read_document())
        game = {name: getattr(metadata, name) for name in GameMetadata.DESCRIPTION_FIELDS}
        game.update(board_size=metadata.board_size, character_set=metadata.character_set)
        self.run.update_config(game=game, hyper=hyperparameters.to_dict(), document=document)
        self.text = tomlkit.dumps(document)


__all__ = ["RunConfig", "read_run_config", "resolve_settings", "keyword_hyperparameters",
           "Discoveries", "ConfigWriter", "RunConfigFile"]
