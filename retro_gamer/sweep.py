"""The Hydra bridge: ``retro-gamer train RUN_DIR [OVERRIDE ...] [-m]``.

Overrides are checked against the schema first (:mod:`retro_gamer.overrides`),
then handed to Hydra's own entry point, so its override grammar, ``-m``,
``--cfg``, ``--info``, presets from ``conf/``, launchers (joblib, submitit) and
sweepers (Optuna) all work as Hydra documents them.

Hydra calls :class:`TrainTask` once per job with the composed config. A single
run patches ``RUN_DIR/config.toml`` and trains there; a sweep job copies the
base run's ``config.toml`` into its own folder
(``RUN_DIR/sweeps/<timestamp>/<job>/`` unless ``hydra.sweep.*`` say otherwise),
patches it and trains there, so every job is a complete run directory.
"""

from __future__ import annotations

import json
import math
import os
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf
from rich.console import Console

from retro_gamer import overrides as override_rules
from retro_gamer.config import SHAPE_FIELDS, GameMetadata, Hyperparameters
from retro_gamer.errors import ConfigError, RetroGamerError, RunDirectoryError
from retro_gamer.evaluation import evaluate_run
from retro_gamer.hydra_conf import PRIMARY_NAME, write_primary
from retro_gamer.progress import TrainingProgress
from retro_gamer.run_dir import CONFIG_NAME, RunDirectory, atomic_write
from retro_gamer.runs import train_run

RESULT_NAME = "result.json"
SUMMARY_NAME = "sweep.json"
OPTIONAL_PLUGINS = {
    "joblib": "hydra-joblib-launcher",
    "submitit_local": "hydra-submitit-launcher",
    "submitit_slurm": "hydra-submitit-launcher",
    "optuna": "hydra-optuna-sweeper",
}


def train_command(run_dir: str, overrides: list[str], *, resume: str | None = None,
                  multirun: bool = False, cfg: str | None = None, info: str | None = None,
                  console: Console | None = None) -> int:
    """Everything ``retro-gamer train`` does; returns the exit code."""
    console = console or Console()
    run = RunDirectory(run_dir)
    metadata, hyper = run.read_config()  # a broken config.toml is reported before Hydra runs
    override_rules.check(overrides, multirun)
    _check_plugins(overrides)
    if resume is not None and multirun:
        raise ConfigError("--resume continues one run; it cannot be combined with -m. To "
                          "continue a sweep job, train its own folder with --resume.")
    if resume is not None:
        run.checkpoint_path(resume)  # fail early, before anything is written
    elif run.has_progress() and not multirun and not (cfg or info):
        raise RunDirectoryError(
            f"{run.path} already holds training progress. Continue it with 'retro-gamer "
            f"train {run.path} --resume latest' (overrides such as training_episodes=2000 "
            "may be added), or create a new run with 'retro-gamer create'.")

    base_text = run.config_path.read_text(encoding="utf-8")
    game = metadata.to_dict()
    values = hyper.to_dict()
    # A sweep's jobs may run on other machines (Slurm): keep its primary config in the run.
    primary_dir = (run.path / "sweeps" / ".config" if multirun
                   else Path(tempfile.mkdtemp(prefix="retro-gamer-")))
    hydra_defaults = {
        "run": {"dir": str(run.path.resolve())},
        "sweep": {"dir": str((run.path / "sweeps").resolve()) + "/${now:%Y-%m-%d_%H-%M-%S}",
                  "subdir": "${hydra.job.num}_${hydra.job.override_dirname}"},
        "job": {"config": {"override_dirname": {"kv_sep": "=", "item_sep": ","}}},
        "callbacks": {"summary": {"_target_": "retro_gamer.sweep.SweepSummary"}},
    }
    write_primary(primary_dir, game, values, hydra_defaults)
    argv = list(overrides)
    if multirun:
        argv.append("--multirun")
    if cfg:
        argv += ["--cfg", cfg]
    if info:
        argv += ["--info", info]
    task = TrainTask(str(run.path.resolve()), base_text, resume, multirun)
    state = _run_hydra(argv, task, primary_dir)
    if not multirun and task.error is not None:
        raise task.error
    if multirun and state.get("failed"):
        return 1
    return 0


class TrainTask:
    """What Hydra runs for each job; picklable, so launchers can run it in other processes."""

    def __init__(self, base_run: str, base_config_text: str, resume: str | None,
                 multirun: bool):
        self.base_run = base_run
        self.base_config_text = base_config_text
        self.resume = resume
        self.multirun = multirun
        self.error: RetroGamerError | None = None
        self.__module__ = __name__

    def __call__(self, cfg: DictConfig) -> float:
        game, hyper = values_from(cfg)
        if not self.multirun:
            try:
                return self._train(RunDirectory(self.base_run), game, hyper, live=True)
            except RetroGamerError as error:
                self.error = error
                return math.nan
        job_dir = Path(HydraConfig.get().runtime.output_dir)
        overrides = list(HydraConfig.get().overrides.task)
        run = RunDirectory(job_dir)
        started = time.time()
        result: dict[str, Any] = {"overrides": overrides, "status": "running",
                                  "objective": None, "error": None, "started": started}
        try:
            if not run.config_path.exists():
                atomic_write(run.config_path, self.base_config_text.encode("utf-8"))
            _write_result(run, result)
            objective = self._train(run, game, hyper, live=False,
                                    label=job_dir.name or "job")
            result.update(status="done", objective=objective)
            return objective
        except Exception as error:  # one job's failure must not end the sweep
            message = str(error) if isinstance(error, RetroGamerError) else (
                f"{type(error).__name__}: {error}\n{traceback.format_exc()}")
            result.update(status="failed", error=message)
            print(f"job {job_dir.name} failed: {message.splitlines()[0]}", file=sys.stderr)
            return math.nan
        finally:
            result["seconds"] = round(time.time() - started, 3)
            _write_result(run, result)

    def _train(self, run: RunDirectory, game: dict, hyper: dict, live: bool,
               label: str = "training") -> float:
        console = Console(stderr=True) if live else Console(stderr=True, force_terminal=False)
        with run.lock():
            apply_values(run, game, hyper)
            with TrainingProgress(console, label=label) as progress:
                train_run(run.path, self.resume, on_episode=progress)
        objective = evaluate_run(run.path)
        if not self.multirun:
            _write_result(run, {"overrides": [], "status": "done", "objective": objective,
                                "error": None})
        return objective


def values_from(cfg: DictConfig) -> tuple[dict, dict]:
    """Split a composed config into ``[game]`` and ``[hyperparameters]`` values."""
    data = OmegaConf.to_container(cfg, resolve=True)
    game = data.pop("game")
    return game, data


def apply_values(run: RunDirectory, game: dict, hyper: dict) -> None:
    """Validate the composed values and write them into the run's ``config.toml``."""
    metadata, current = run.read_config()
    new_hyper = Hyperparameters.from_mapping(hyper, "the composed config")
    try:
        new_game = GameMetadata.from_mapping(game, "the composed config [game]")
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
    game_changes = {k: v for k, v in new_game.to_dict().items()
                    if k in GameMetadata.DESCRIPTION_FIELDS and v != getattr(metadata, k)}
    run.update_config(game=game_changes, hyper=new_hyper.to_dict())


class SweepSummary(Callback):
    """Writes ``sweep.json`` (each job's overrides, status, objective) when a sweep ends."""

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        write_summary(Path(config.hydra.sweep.dir))


def write_summary(sweep_dir: Path) -> dict:
    jobs = []
    for job_dir in sorted(p for p in sweep_dir.iterdir() if (p / CONFIG_NAME).is_file()):
        result_path = job_dir / RESULT_NAME
        try:
            result = json.loads(result_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            result = {"status": "not started", "objective": None, "overrides": [],
                      "error": None}
        run = RunDirectory(job_dir)
        episodes = run.episode_lines()
        jobs.append({"job": job_dir.name, "run_dir": str(job_dir),
                     "episodes_done": len(episodes), **result})
    summary = {"sweep_dir": str(sweep_dir), "jobs": jobs,
               "failed": sum(j["status"] == "failed" for j in jobs)}
    atomic_write(sweep_dir / SUMMARY_NAME,
                 json.dumps(summary, indent=2, allow_nan=False, default=str).encode("utf-8"))
    return summary


def _write_result(run: RunDirectory, result: dict) -> None:
    clean = {k: (None if isinstance(v, float) and not math.isfinite(v) else v)
             for k, v in result.items()}
    atomic_write(run.path / RESULT_NAME, json.dumps(clean, indent=2).encode("utf-8"))


def _check_plugins(overrides: list[str]) -> None:
    """A launcher or sweeper that is not installed: say which package brings it."""
    for item in overrides:
        for group in ("hydra/launcher", "hydra/sweeper"):
            if not item.startswith(group + "="):
                continue
            name = item[len(group) + 1:]
            available = _installed_options(group)
            if name in available:
                continue
            kind = group.split("/")[1]
            if name in OPTIONAL_PLUGINS:
                raise ConfigError(
                    f"The {kind} '{name}' needs the package {OPTIONAL_PLUGINS[name]}: "
                    "pip install 'retro-gamer[sweep]'.")
            raise ConfigError(f"Unknown {kind} '{name}'. Available: {', '.join(available)}.")


def _installed_options(group: str) -> list[str]:
    """Options of a Hydra group (e.g. hydra/launcher) that installed plugins provide."""
    from hydra._internal.config_repository import ConfigRepository
    from hydra._internal.utils import create_config_search_path
    from hydra.core.plugins import Plugins

    Plugins.instance()  # registers the plugins' own config search paths
    repository = ConfigRepository(config_search_path=create_config_search_path(None))
    return sorted(repository.get_group_options(group))


def _run_hydra(argv: list[str], task: TrainTask, primary_dir: Path) -> dict:
    from hydra._internal.utils import _run_hydra as run_hydra
    from hydra._internal.utils import get_args_parser
    from hydra.core.global_hydra import GlobalHydra

    os.environ["HYDRA_FULL_ERROR"] = "1"  # errors come back as exceptions we can word
    args = get_args_parser().parse_args(argv)
    GlobalHydra.instance().clear()
    try:
        run_hydra(args=args, args_parser=get_args_parser(), task_function=task,
                  config_path=str(primary_dir.resolve()), config_name=PRIMARY_NAME)
    except RetroGamerError:
        raise
    except Exception as error:
        raise ConfigError(_hydra_message(error)) from None
    finally:
        GlobalHydra.instance().clear()
    return {"failed": False}


def _hydra_message(error: Exception) -> str:
    text = str(error).strip() or type(error).__name__
    return f"Hydra could not run this command: {text.splitlines()[0]}"
