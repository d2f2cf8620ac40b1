"""Creating a run directory from a game, and training the run a directory describes."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from retro_gamer.config import GameMetadata, Hyperparameters
from retro_gamer.errors import RetroGamerError, RunDirectoryError
from retro_gamer.games import find_create_game
from retro_gamer.memory import MemoryEstimate
from retro_gamer.run_dir import RunDirectory, shell_path
from retro_gamer.trainer import DQNTrainer, EpisodeStats, TrainingResult


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
    existed = run.path.exists()
    try:
        run.write_new_config(metadata, hyper)
    except RunDirectoryError:
        if not existed:  # a failed create (a full disk) leaves no empty folder behind
            with contextlib.suppress(OSError):
                run.path.rmdir()
        raise
    return run


def memory_estimate(run: RunDirectory) -> MemoryEstimate | None:
    """What training this run will allocate (see :mod:`retro_gamer.memory`), from its
    config and one instance of its game; ``None`` when the game cannot be created here.
    Characters not yet discovered count as eight input channels."""
    from retro_gamer.games import make_game
    from retro_gamer.memory import estimate

    metadata, hyper = run.read_config()
    try:
        board = metadata.board_size or make_game(find_create_game(metadata.module),
                                                 metadata.module).board_size
    except RetroGamerError:
        return None
    signature = dict(n_channels=len(metadata.character_set or "") or 8,
                     board_size=tuple(board), n_extras=len(metadata.observe_state),
                     n_actions=metadata.n_actions, n_layers=hyper.n_layers,
                     layer_size=hyper.layer_size, spatial=metadata.spatial,
                     first_conv_stride=hyper.first_conv_stride, dueling=hyper.dueling,
                     center_on=hyper.center_on, local_view=hyper.local_view,
                     # the view centres on the player's codes, discovered when training starts
                     center_codes=[1] if hyper.center_on and metadata.spatial else [])
    return estimate(signature, hyper.memory_capacity, hyper.batch_size,
                    hyper.prioritize_experiences)


def open_trainer(run_dir: str | os.PathLike,
                 on_episode: Callable[[EpisodeStats], None] | None = None,
                 config: tuple[GameMetadata, Hyperparameters] | None = None) -> DQNTrainer:
    """A trainer for the run described by ``run_dir/config.toml`` (or by ``config``, the
    validated values to train with, which the trainer then records there)."""
    run = RunDirectory(run_dir)
    metadata, hyper = config if config is not None else run.read_config()
    create_game = find_create_game(metadata.module)
    return DQNTrainer(create_game, metadata, Path(run_dir), on_episode=on_episode,
                      **hyper.to_dict())


def train_run(run_dir: str | os.PathLike, resume: str | None = None,
              on_episode: Callable[[EpisodeStats], None] | None = None,
              config: tuple[GameMetadata, Hyperparameters] | None = None) -> TrainingResult:
    """Train (or resume) the run in ``run_dir`` to its configured number of episodes.

    ``config`` replaces what ``config.toml`` says (it is written there once training
    has validated everything). With ``tensorboard = true`` the episodes also go to
    TensorBoard event files.
    """
    run = RunDirectory(run_dir)
    _, hyper = config if config is not None else run.read_config()
    if not hyper.tensorboard:
        return open_trainer(run_dir, on_episode, config).train(resume=resume)
    from retro_gamer.tensorboard_log import TensorBoardLogger

    board = TensorBoardLogger(run.tensorboard_dir)

    def both(stats: EpisodeStats) -> None:
        board(stats)
        if on_episode is not None:
            on_episode(stats)

    try:
        return open_trainer(run_dir, both, config).train(resume=resume)
    finally:
        board.close()
