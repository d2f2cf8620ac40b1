""":class:`RunDirectory`: one training run's folder, composed of its parts.

Each part has one owner module (:mod:`~retro_gamer.run_dir.layout` for paths,
:mod:`~retro_gamer.run_dir.config_file`, :mod:`~retro_gamer.run_dir.training_log`,
:mod:`~retro_gamer.run_dir.checkpoints`, :mod:`~retro_gamer.run_dir.lock`, and
:mod:`~retro_gamer.run_dir.files` for safe reads and writes); this class hands
each call to the part that owns it, so callers hold one object per run.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path

import tomlkit

from retro_gamer.config import GameMetadata, Hyperparameters
from retro_gamer.errors import RunDirectoryError, RunHasProgress
from retro_gamer.run_dir import files
from retro_gamer.run_dir import lock as run_lock
from retro_gamer.run_dir.checkpoints import Checkpoints, saved_episode
from retro_gamer.run_dir.config_file import ConfigFile
from retro_gamer.run_dir.layout import Layout, shell_path
from retro_gamer.run_dir.sweep_dir import is_sweep_directory
from retro_gamer.run_dir.training_log import TrainingLog


class RunDirectory:
    """A training run's folder: its config, its log, its checkpoints and its records."""

    def __init__(self, path: str | os.PathLike):
        self.layout = Layout(Path(path))
        self.path = self.layout.path
        self.config_path = self.layout.config_path
        self.log_path = self.layout.log_path
        self.checkpoint_dir = self.layout.checkpoint_dir
        self.replay_dir = self.layout.replay_dir
        self.tensorboard_dir = self.layout.tensorboard_dir
        self.config = ConfigFile(self.path)
        self.log = TrainingLog(self.log_path, self.layout.metrics_path,
                               self.layout.evaluations_csv_path)
        self.store = Checkpoints(self.layout, self.log)

    def __repr__(self) -> str:
        return f"RunDirectory({str(self.path)!r})"

    # ------------------------------------------------------------ lock, file safety

    @contextlib.contextmanager
    def lock(self):
        """Hold the run exclusively while training: a second process is refused
        (see :mod:`retro_gamer.run_dir.lock`)."""
        self.refuse_links()
        with run_lock.hold(self.layout.lock_path, self.path):
            yield

    def lock_state(self) -> str:
        """``"held"``, ``"free"`` or ``"stale"`` (see :func:`.lock.lock_state`)."""
        return run_lock.lock_state(self.layout.lock_path)

    def refuse_links(self) -> None:
        """Refuse a run folder whose sub-folders (checkpoints/, replay/, eval/, ...) are links."""
        files.refuse_links(self.layout.written_folders)

    def remove_partial_writes(self) -> None:
        """Delete temporary files a killed process left behind mid-write."""
        self.refuse_links()
        files.remove_partial_writes((self.path, self.checkpoint_dir, self.replay_dir))

    def folder_size(self) -> int:
        """Bytes of every regular file in the run folder (links not followed)."""
        return files.folder_size(self.path)

    # ------------------------------------------------------------------ config.toml

    def require_config(self) -> None:
        self.config.require()

    def write_new_config(self, metadata: GameMetadata, hyper: Hyperparameters) -> None:
        self.config.write_new(metadata, hyper)

    def read_document(self) -> tomlkit.TOMLDocument:
        return self.config.read_document()

    def read_config(self) -> tuple[GameMetadata, Hyperparameters]:
        """Parse and validate ``config.toml``; every problem names the file and the key."""
        return self.config.read()

    def update_config(self, game: dict | None = None, hyper: dict | None = None,
                      document: tomlkit.TOMLDocument | None = None) -> None:
        """Set values in ``config.toml``, keeping the user's comments, order and other values."""
        self.config.update(game, hyper, document)

    # ------------------------------------------------------------------ training.log

    def log_lines(self) -> list[str]:
        return self.log.lines()

    def episode_lines(self) -> list[str]:
        return self.log.episode_lines()

    def episodes(self) -> list[dict]:
        """Episode lines parsed: episode, total_reward, steps, epsilon, avg_loss."""
        return self.log.episodes()

    def training_evaluations(self) -> list[dict]:
        """The evaluations during training (the log's ``# eval after episode`` lines)."""
        return self.log.evaluations()

    def start_log(self, header: str) -> None:
        self.log.start(header)

    def truncate_log_after(self, episode: int, marker: str) -> list[str]:
        return self.log.truncate_after(episode, marker)

    def append_log(self, line: str) -> None:
        self.log.append(line)

    def log_episode(self, episode: int, total_reward: float, steps: int, epsilon: float,
                    avg_loss: float, learning_rate: float, env_steps: int,
                    seconds: float) -> None:
        """One episode: its line in training.log and its row in metrics.csv."""
        self.log.append_episode(episode, total_reward, steps, epsilon, avg_loss,
                                learning_rate, env_steps, seconds)

    # ------------------------------------------------------------------ checkpoints

    def has_progress(self) -> bool:
        """True when training has saved a checkpoint here (something a resume can continue).

        Episode lines alone are not progress: a run killed before its first
        checkpoint has nothing to resume, and training it again starts over.
        """
        return bool(self.checkpoints())

    def how_to_continue(self) -> str:
        """The command that continues this run after a stop or a failure, with what to do:
        ``--resume latest`` once a checkpoint exists, else training it again from the start."""
        if self.has_progress():
            return f"resume with: retro-gamer train {shell_path(self.path)} --resume latest"
        return ("train it again (no checkpoint was saved yet, so it starts over): "
                f"retro-gamer train {shell_path(self.path)}")

    @contextlib.contextmanager
    def undone_unless_saved(self, config_text: str):
        """A training that fails or stops before its first checkpoint leaves the run as it
        was: ``config.toml``, ``training.log`` and its tables (``metrics.csv``,
        ``evaluations.csv``) get their bytes back (or are removed), and the folders it
        created are removed. Once a checkpoint exists nothing is undone (a resume
        continues from it). ``config_text`` is ``config.toml`` as the caller read it (a run's
        configuration is read once: see :mod:`retro_gamer.settings`)."""
        if self.has_progress():
            yield
            return
        saved = {path: path.read_bytes() if path.is_file() else None
                 for path in (self.log_path, self.layout.metrics_path,
                              self.layout.evaluations_csv_path)}
        saved[self.config_path] = config_text.encode("utf-8")
        created = [folder for folder in self.layout.written_folders if not folder.exists()]
        try:
            yield
        except BaseException:
            if not self.has_progress():
                self._undo(saved, created)
            raise

    def _undo(self, saved: dict[Path, bytes | None], created: list[Path]) -> None:
        for path, data in saved.items():
            with contextlib.suppress(OSError, RunDirectoryError):
                if data is not None:
                    files.atomic_write(path, data)
                elif path.is_file() and not path.is_symlink():
                    path.unlink()
        for folder in created:
            if folder.is_dir() and not folder.is_symlink():
                shutil.rmtree(folder, ignore_errors=True)

    def refuse_fresh_start(self) -> None:
        """Raise :class:`RunHasProgress` when training from scratch would lose progress."""
        if self.has_progress():
            raise RunHasProgress(self.path)

    def checkpoints(self) -> list[Path]:
        """Checkpoint files, oldest episode first and ``final.pt`` last."""
        return self.store.list()

    def checkpoint_path(self, name: str) -> Path:
        """Resolve a checkpoint's name (``latest``, ``best``, ``final``, ``ep_0100``, a path)."""
        return self.store.resolve(name)

    def latest_checkpoint(self) -> Path:
        return self.store.latest()

    def on_line(self, path: Path, lines: list[str] | None = None) -> bool:
        """True when ``path`` is on the current line of training (not abandoned)."""
        return self.store.on_line(path, lines)

    @property
    def best_checkpoint_path(self) -> Path:
        """``checkpoints/best.pt``: the checkpoint with the best evaluation during training."""
        return self.layout.best_checkpoint

    def named_checkpoint(self, episode: int | None) -> Path:
        """``checkpoints/ep_NNNN.pt``, or ``final.pt`` for ``None``."""
        return self.layout.checkpoint_file(episode)

    def checkpoint_episode(self, path: Path) -> int:
        """The episode a checkpoint was saved after (-1 when it cannot be read)."""
        return saved_episode(path)

    def replay_path(self, checkpoint: Path) -> Path:
        """The replay buffer file of ``checkpoint`` (in ``replay/``, or where old runs kept it)."""
        return self.store.replay_path(checkpoint)

    def not_files(self) -> list[tuple[Path, str]]:
        """Checkpoint and replay names held by something other than a regular file."""
        return self.store.not_files()

    def replay_files(self) -> list[Path]:
        """The saved replay buffers (normally one: the newest checkpoint's)."""
        return self.store.replay_files()

    def save_checkpoint(self, path: Path, state: dict, replay: dict | None = None,
                        resume_only: tuple[str, ...] = ()) -> None:
        """Write a checkpoint and its replay buffer (see :meth:`Checkpoints.save`)."""
        self.store.save(path, state, replay, resume_only)

    def load_checkpoint(self, path: Path) -> dict:
        return self.store.load(path)

    def load_replay(self, checkpoint: Path) -> dict | None:
        return self.store.load_replay(checkpoint)

    # ------------------------------------------- results, evaluations, plots, sweeps

    @property
    def result_path(self) -> Path:
        """``result.json``: a finished (or failed) training's status and objective."""
        return self.layout.result_path

    def read_result(self) -> dict | None:
        """``result.json`` as a dict, or ``None`` when it is missing or unreadable."""
        return files.read_json(self.result_path)

    def write_result(self, result: dict) -> None:
        """Replace ``result.json`` (non-finite numbers become null, as JSON has no NaN)."""
        files.write_json(self.result_path, result)

    def job_status(self) -> str:
        """The status of the last training, from facts rather than from what was written.

        ``result.json`` says "running" from the moment a job starts; once no live
        process holds the run's lock, that job was killed, and it is "stopped"
        (its checkpoints let ``--resume`` or a re-run sweep continue it).
        """
        status = (self.read_result() or {}).get("status") or "not started"
        if status == "running" and self.lock_state() != "held":
            return "stopped"
        return status

    @property
    def eval_dir(self) -> Path:
        return self.layout.eval_dir

    def eval_path(self, checkpoint: str) -> Path:
        """``eval/<checkpoint>.json``: the record of ``retro-gamer eval`` on that checkpoint."""
        return self.layout.eval_path(checkpoint)

    def evaluations(self) -> list[dict]:
        """Every evaluation record in ``eval/``, by file name."""
        if not self.eval_dir.is_dir():
            return []
        found = (files.read_json(p) for p in sorted(self.eval_dir.glob("*.json")))
        return [record for record in found if isinstance(record, dict)]

    def plot_path(self) -> Path:
        """Where ``retro-gamer plot`` puts the training curves unless told otherwise."""
        return self.layout.plot_path

    @property
    def sweeps_dir(self) -> Path:
        return self.layout.sweeps_dir

    def sweep_dirs(self) -> list[Path]:
        """The sweeps launched from this run (``sweeps/<timestamp>/``), oldest first."""
        if not self.sweeps_dir.is_dir():
            return []
        return sorted(p for p in self.sweeps_dir.iterdir()
                      if p.is_dir() and not p.name.startswith(".") and is_sweep_directory(p))
