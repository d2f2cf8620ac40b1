"""The run directory: the only code that builds paths inside one or writes its files.

::

    RUN_DIR/
    ├── config.toml        game description + hyperparameters (tomlkit: comments survive)
    ├── training.log       architecture description, then one line per episode
    │                      (and '# ...' comment lines: evaluations, resumes)
    ├── checkpoints/
    │   ├── ep_0100.pt     weights, counters (the newest: optimizer, epsilon, RNG states too)
    │   ├── best.pt        the checkpoint with the best evaluation during training
    │   └── final.pt
    ├── replay/
    │   └── ep_0100.replay.pt   replay buffer of the newest checkpoint (for exact resume)
    ├── result.json        status and objective of the last training (sweep jobs too)
    ├── eval/final.json    what ``retro-gamer eval`` measured, one file per checkpoint
    ├── curve.png          ``retro-gamer plot``'s default output
    ├── tensorboard/       with tensorboard = true
    └── sweeps/<timestamp>/    a sweep (:class:`SweepDirectory`): sweep.json, multirun.yaml
        └── <n>_<overrides>/   and one complete run directory per job

One module per concern, :class:`RunDirectory` composing them:

- :mod:`.layout`: every name and path above (nothing else joins names onto a run folder);
- :mod:`.files`: atomic writes, regular-file reads, no writes through links, JSON records;
- :mod:`.lock`: one training per run at a time (``flock``);
- :mod:`.config_file`: ``config.toml``, written with comments, read and validated;
- :mod:`.training_log`: ``training.log``'s line formats and the episode-line digest;
- :mod:`.torch_io`: torch files as checksummed plain data (torch imported lazily);
- :mod:`.checkpoints`: saving, loading, ``latest``/``best`` resolution, the replay buffer;
- :mod:`.sweep_dir`: a sweep's folder and its jobs;
- :mod:`.directory`: :class:`RunDirectory`, the facade callers hold.

Runs made before ``replay/`` existed keep their replay buffer in
``checkpoints/ep_NNNN.replay.pt``; it is read from there, and the next save
writes the new buffer to ``replay/`` and retires the old file.
"""

from __future__ import annotations

from retro_gamer.run_dir.checkpoints import check_same_game
from retro_gamer.run_dir.config_file import config_from_document
from retro_gamer.run_dir.directory import RunDirectory
from retro_gamer.run_dir.files import atomic_write, read_regular
from retro_gamer.run_dir.layout import (
    CHECKPOINT_DIR,
    CONFIG_NAME,
    LOCK_NAME,
    LOG_NAME,
    REPLAY_DIR,
    REPLAY_SUFFIX,
    RESULT_NAME,
    SWEEP_SUMMARY_NAME,
    SWEEPS_DIR,
    shell_path,
)
from retro_gamer.run_dir.sweep_dir import SweepDirectory, is_sweep_directory
from retro_gamer.run_dir.torch_io import content_digest, load_torch_file, peek_checkpoint
from retro_gamer.run_dir.training_log import LogDigest, episode_digest, episode_line, eval_line

__all__ = ["RunDirectory", "SweepDirectory", "is_sweep_directory", "episode_line", "eval_line",
           "atomic_write", "read_regular", "shell_path", "check_same_game",
           "config_from_document", "content_digest", "load_torch_file", "peek_checkpoint",
           "LogDigest", "episode_digest", "CONFIG_NAME", "LOCK_NAME", "LOG_NAME",
           "CHECKPOINT_DIR", "REPLAY_DIR", "REPLAY_SUFFIX", "RESULT_NAME", "SWEEPS_DIR",
           "SWEEP_SUMMARY_NAME"]
