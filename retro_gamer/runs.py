"""Creating a run directory from a game, and training the run a directory describes."""

from __future__ import annotations

import contextlib
import os
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from retro_gamer.config import AUTO, GameMetadata, Hyperparameters, check_center_on
from retro_gamer.errors import RetroGamerError, RunDirectoryError
from retro_gamer.games import find_create_game
from retro_gamer.memory import MemoryEstimate
from retro_gamer.run_dir import RunDirectory, shell_path
from retro_gamer.settings import ConfigWriter, RunConfigFile, read_run_config, resolve_settings
from retro_gamer.trainer import DQNTrainer, EpisodeStats, TrainingResult, TurnStats


def create_run(module: str, output: str | os.PathLike, hyperparameters: dict[str, Any]
               ) -> RunDirectory:
    """Read the game's description and write ``output/config.toml``.

    Refuses to touch a folder that already holds a run or other files, so that
    nothing a user has is overwritten.
    """
    run = RunDirectory(output)
    if run.config_path.exists():
        raise RunDirectoryError(
            f"{run.path} is already a run directory. Train it with 'retro-gamer train "
            f"{shell_path(run.path)}', or choose a new --output for a new run."
        )
    if run.path.exists() and (not run.path.is_dir() or any(run.path.iterdir())):
        raise RunDirectoryError(
            f"{run.path} already exists and is not empty. Choose a new --output folder."
        )
    hyper = Hyperparameters.from_mapping(hyperparameters, "the options")
    metadata = GameMetadata.from_pyproject(module)
    if metadata.character_set:  # otherwise training checks the characters it discovers
        check_center_on(hyper.center_on, metadata.character_set, metadata.spatial)
    existed = run.path.exists()
    try:
        run.write_new_config(metadata, hyper)
    except RunDirectoryError:
        if not existed:  # a failed create (a full disk) leaves no empty folder behind
            with contextlib.suppress(OSError):
                run.path.rmdir()
        raise
    return run


def planned_size(run: RunDirectory) -> str:
    """The size of the network ``run`` will train (:func:`~retro_gamer.networks.size_line`),
    from its config.toml; too large a network is also reported as a NetworkSizeWarning."""
    from retro_gamer.networks import planned_network, size_line, size_warning
    from retro_gamer.trainer import NetworkSizeWarning

    metadata, hyper = run.read_config()
    network = planned_network(metadata, hyper)
    too_big = size_warning(network)
    if too_big:
        warnings.warn(too_big, NetworkSizeWarning, stacklevel=2)
    assumed = []
    if metadata.spatial and hyper.center_on == AUTO:
        assumed.append("center_on = auto finds your game's player")
    if not metadata.character_set:
        assumed.append("one character, until training discovers your game's characters")
    return size_line(network) + (f" (assuming {' and '.join(assumed)})" if assumed else "")


def memory_estimate(run: RunDirectory) -> MemoryEstimate | None:
    """What training this run will allocate (see :mod:`retro_gamer.memory`), from its
    config and one instance of its game; ``None`` when the game cannot be created here.
    Characters not yet discovered count as eight input channels."""
    import dataclasses

    from retro_gamer.games import make_game
    from retro_gamer.memory import estimate
    from retro_gamer.networks import count_parameters, planned_network

    metadata, hyper = run.read_config()
    try:
        board = metadata.board_size or make_game(find_create_game(metadata.module),
                                                 metadata.module).board_size
    except RetroGamerError:
        return None
    metadata = dataclasses.replace(metadata, board_size=list(board),
                                   character_set=metadata.character_set or ["?"] * 8)
    network = planned_network(metadata, hyper)  # on torch's meta device: nothing allocated
    signature = network.shape_signature()
    signature["board_size"] = tuple(signature["board_size"])
    return estimate(signature, hyper.memory_capacity, hyper.batch_size,
                    hyper.prioritize_experiences, parameters=count_parameters(network))


def open_trainer(run_dir: str | os.PathLike,
                 on_episode: Callable[[EpisodeStats], bool | None] | None = None,
                 on_note: Callable[[str], None] | None = None,
                 on_turn: Callable[[TurnStats], None] | None = None,
                 config: tuple[GameMetadata, Hyperparameters] | None = None,
                 config_writer: ConfigWriter | None = None) -> DQNTrainer:
    """A trainer for the run in ``run_dir`` with ``config``, the validated settings
    (:func:`~retro_gamer.settings.resolve_settings`); without them, the run's
    ``config.toml`` is read and validated here, once. ``config_writer`` records what
    training discovers (by default into ``run_dir/config.toml``)."""
    if config is None:
        base = read_run_config(run_dir)
        config = resolve_settings(run_dir, base=base)
        config_writer = config_writer or RunConfigFile(run_dir, base.text)
    metadata, hyper = config
    create_game = find_create_game(metadata.module)
    return DQNTrainer(create_game, metadata, Path(run_dir), hyper, on_episode=on_episode,
                      on_note=on_note, on_turn=on_turn, config_writer=config_writer)


def train_run(run_dir: str | os.PathLike, resume: str | None = None,
              on_episode: Callable[[EpisodeStats], bool | None] | None = None,
              on_note: Callable[[str], None] | None = None,
              on_turn: Callable[[TurnStats], None] | None = None,
              config: tuple[GameMetadata, Hyperparameters] | None = None,
              config_writer: ConfigWriter | None = None) -> TrainingResult:
    """Train (or resume) the run in ``run_dir`` to its configured number of episodes.

    ``on_episode`` returning ``True`` stops the training as Ctrl+C does (a checkpoint,
    then :class:`~retro_gamer.errors.TrainingInterrupted`). ``config`` and
    ``config_writer`` are as for :func:`open_trainer`: the settings to train with (read
    from ``config.toml`` when not given), and where what training discovers is recorded.
    With ``tensorboard = true`` the episodes also go to TensorBoard event files.
    """
    trainer = open_trainer(run_dir, on_episode, on_note, on_turn, config, config_writer)
    if not trainer.hp.tensorboard:
        return trainer.train(resume=resume)
    from retro_gamer.tensorboard_log import TensorBoardLogger

    board = TensorBoardLogger(RunDirectory(run_dir).tensorboard_dir)

    def both(stats: EpisodeStats) -> bool | None:
        board(stats)
        return on_episode(stats) if on_episode is not None else None

    trainer.on_episode = both
    try:
        return trainer.train(resume=resume)
    finally:
        board.close()
