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

import contextlib
import hashlib
import importlib.util
import math
import os
import shlex
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
from retro_gamer import slurm
from retro_gamer.errors import (
    EXIT_INTERRUPTED,
    ConfigError,
    RetroGamerError,
    RunDirectoryError,
    TrainingInterrupted,
)
from retro_gamer.evaluation import evaluate_run, objective_checkpoint
from retro_gamer.hydra_conf import PRIMARY_NAME, planned_jobs, write_primary
from retro_gamer.optuna_search import JOURNAL_NAME, reporter_for_job, study_summary
from retro_gamer.progress import TrainingProgress, counted
from retro_gamer.run_dir import (
    SWEEP_SUMMARY_NAME,
    RunDirectory,
    SweepDirectory,
    atomic_write,
    shell_path,
)
from retro_gamer.runs import train_run
from retro_gamer.settings import RunConfig, RunConfigFile, read_run_config, resolve_settings
from retro_gamer.sweep_stop import CommandStop, JobStop, stop_file_exists

OPTIONAL_PLUGINS = {
    "joblib": "hydra-joblib-launcher",
    "submitit_local": "hydra-submitit-launcher",
    "submitit_slurm": "hydra-submitit-launcher",
    "retro_optuna": "optuna",
}
OPTUNA_SWEEPER = "retro_optuna"
# Hydra's own Optuna sweeper (hydra-optuna-sweeper) pins optuna < 3 and keeps its study in
# memory; its name now selects retro-gamer's sweeper, which takes the same main settings.
OLD_OPTUNA = "optuna"
JOB_NAME_BYTES = 100  # job folder names stay far below the file systems' 255-byte limit


def train_command(run_dir: str, overrides: list[str], *, resume: str | None = None,
                  multirun: bool = False, cfg: str | None = None, info: str | None = None,
                  console: Console | None = None) -> int:
    """Everything ``retro-gamer train`` does; returns the exit code."""
    console = console or Console()
    multirun = multirun or asks_multirun(overrides)
    run = RunDirectory(run_dir)
    base = read_run_config(run.path)  # the one read; a broken file is reported before Hydra
    metadata, hyper = base.metadata, base.hyperparameters
    override_rules.check(overrides, multirun)
    overrides = _renamed_sweeper(override_rules.portable_sweeps(overrides), console)
    _check_plugins(overrides)
    _check_resume(run, resume, multirun, bool(cfg or info))

    hydra_defaults = {
        "run": {"dir": literal(str(run.path.resolve()))},
        "sweep": {"dir": literal(str(run.sweeps_dir.resolve())) + "/${now:%Y-%m-%d_%H-%M-%S}",
                  "subdir": "${hydra.job.num}_${rg_job_name:${hydra.job.override_dirname}}"},
        "job": {"config": {"override_dirname": {"kv_sep": "=", "item_sep": ","}}},
        "callbacks": {"summary": {"_target_": "retro_gamer.sweep.SweepSummary"}},
        **slurm.hydra_settings(overrides, metadata.to_dict(), hyper.to_dict()),
    }
    argv = list(overrides)
    reserved = None
    if multirun and not (cfg or info):
        reserved = _choose_sweep_dir(run, argv, console)
    argv += (["--multirun"] if multirun else []) + (["--cfg", cfg] if cfg else []) + (
        ["--info", info] if info else [])
    task = TrainTask(str(run.path.resolve()), base, resume, multirun)
    with contextlib.ExitStack() as stack:
        # A sweep's jobs may run on other machines (Slurm): keep its primary config in the run.
        primary_dir = (run.sweeps_dir / ".config" if multirun
                       else Path(stack.enter_context(tempfile.TemporaryDirectory())))
        try:
            _run_with_primary(argv, task, primary_dir,
                              (metadata.to_dict(), hyper.to_dict(), hydra_defaults), multirun)
        except RetroGamerError:
            if reserved is not None:
                _remove_if_no_jobs(reserved)  # refused before any job: no orphan folder
            raise
        except KeyboardInterrupt:
            if not multirun:
                raise
            return _stopped_sweep(run, overrides, console)
        finally:
            stopped = CommandStop.uninstall()
    if multirun and stopped:  # the launcher's jobs stopped and returned
        return _stopped_sweep(run, overrides, console)
    if not multirun:
        if task.error is not None:
            raise task.error
        if not (cfg or info):
            _print_run_result(run, console)
        return 0
    summary = SweepSummary.last
    if summary is None:  # pragma: no cover - Hydra always calls the callback
        return 0
    _print_sweep_result(summary, console)
    return 1 if summary["failed"] else 0


def asks_multirun(overrides: list[str]) -> bool:
    """Whether ``hydra.mode=MULTIRUN`` is among the overrides: Hydra's own way to write -m.

    Hydra then sweeps, so the command must too: without this the jobs would all
    train the base run itself.
    """
    for item in overrides:
        key, sep, value = item.partition("=")
        if sep and key.strip() == "hydra.mode" and value.strip().strip("'\"").upper() \
                == "MULTIRUN":
            return True
    return False


def _check_resume(run: RunDirectory, resume: str | None, multirun: bool,
                  printing: bool) -> None:
    if resume is not None and multirun:
        raise ConfigError("--resume continues one run; it cannot be combined with -m. To "
                          "continue a sweep job, train its own folder with --resume.")
    if resume is not None:
        run.checkpoint_path(resume)  # fail early, before anything is written
    elif not multirun and not printing:
        run.refuse_fresh_start()


def _choose_sweep_dir(run: RunDirectory, argv: list[str], console: Console) -> Path | None:
    """Add ``hydra.sweep.dir`` to ``argv``: the unfinished sweep of the same command, or a
    new folder reserved for this sweep alone. Returns the reserved folder, if any.
    A user's own ``hydra.sweep.dir`` wins."""
    if any(o.startswith("hydra.sweep.dir=") for o in argv):
        return None
    reserved = None
    sweep_dir = find_unfinished_sweep(run, argv)
    if sweep_dir is not None:
        console.print(f"Resuming the unfinished sweep in {sweep_dir} (finished jobs are "
                      "skipped, interrupted ones continue).", highlight=False)
    else:
        sweep_dir = reserved = reserve_sweep_dir(run)
    argv.append(f"hydra.sweep.dir={quoted_value(str(sweep_dir))}")
    return reserved


def literal(text: str) -> str:
    """``text`` for an OmegaConf value: a ``${`` in a folder's name is not an interpolation."""
    return text.replace("${", "\\${")


def quoted_value(text: str) -> str:
    """``text`` as one quoted value of a Hydra override (spaces, commas, ``${`` kept as is)."""
    return "'" + literal(text).replace("'", "\\'") + "'"


def _run_with_primary(argv: list[str], task: TrainTask, primary_dir: Path, values: tuple,
                      multirun: bool) -> None:
    """Write the primary config and run Hydra; a sweep refused before any job leaves no trace."""
    fresh = not primary_dir.exists()
    write_primary(primary_dir, *values)
    try:
        _run_hydra(argv, task, primary_dir)
    except RetroGamerError:
        if multirun and fresh:
            _remove_unused_primary(primary_dir)
        raise


def _remove_unused_primary(primary_dir: Path) -> None:
    """Remove a sweep's primary config, and ``sweeps/`` with it when nothing else is there."""
    with contextlib.suppress(OSError):
        (primary_dir / f"{PRIMARY_NAME}.yaml").unlink()
        primary_dir.rmdir()
        primary_dir.parent.rmdir()  # fails, and is kept, unless it is empty


def find_unfinished_sweep(run: RunDirectory, overrides: list[str]) -> Path | None:
    """The newest earlier sweep of the same command that has jobs not yet done.

    An Optuna search of the same command is always continued: its study counts
    ``n_trials`` over every run of the command, so a finished one just reports.
    """
    search = _uses_optuna(overrides)
    for folder in reversed(run.sweep_dirs()):
        summary = SweepDirectory(folder).read_summary()
        if summary is None or summary.get("command") != task_overrides(overrides):
            continue
        if search != (folder / JOURNAL_NAME).exists():
            continue
        if search or summary.get("state") != "finished" or any(
                job.get("status") != "done" for job in summary.get("jobs", [])):
            return folder.resolve()
    return None


def reserve_sweep_dir(run: RunDirectory) -> Path:
    """A new sweep folder named by the time, created here so that no other sweep can take it.

    Two sweeps started in the same second get ``<time>`` and ``<time>_2``: ``mkdir``
    either creates the folder or fails, atomically.
    """
    stamp = time.strftime("%Y-%m-%d_%H-%M-%S")
    run.sweeps_dir.mkdir(parents=True, exist_ok=True)
    for number in range(1, 1000):
        folder = run.sweeps_dir / (stamp if number == 1 else f"{stamp}_{number}")
        try:
            folder.mkdir()
        except FileExistsError:
            continue
        return folder.resolve()
    raise RunDirectoryError(f"Too many sweeps started at {stamp} in {run.sweeps_dir}.")


def _remove_if_no_jobs(sweep_dir: Path) -> None:
    """Remove a sweep folder this command created when no job folder was made in it."""
    if any(p.is_dir() for p in sweep_dir.iterdir()):
        return
    for name in (SWEEP_SUMMARY_NAME, "multirun.yaml", JOURNAL_NAME, ".search.lock"):
        with contextlib.suppress(OSError):
            (sweep_dir / name).unlink()
    with contextlib.suppress(OSError):
        sweep_dir.rmdir()
        sweep_dir.parent.rmdir()  # sweeps/ too, when this was its only content


def job_folder_name(override_dirname: str) -> str:
    """A job folder's name after its number: the overrides, bounded and without ``/``.

    Long floats are rounded (an Optuna trial's ``gamma=0.9433445741949895`` is named
    ``gamma=0.9433``: the job's number keeps names distinct); long lists are cut and end
    with a short hash of the whole. Each job's ``result.json`` and ``sweep.json`` keep
    the exact overrides.
    """
    name = ",".join(override_rules.shown(item) for item in override_dirname.split(","))
    name = name.replace("/", "_")
    data = name.encode("utf-8")
    if len(data) <= JOB_NAME_BYTES:
        return name
    digest = hashlib.sha1(data).hexdigest()[:8]
    cut = data[:JOB_NAME_BYTES - len(digest) - 1].decode("utf-8", errors="ignore")
    return f"{cut}-{digest}"


OmegaConf.register_new_resolver("rg_job_name", job_folder_name, replace=True)


def _uses_optuna(overrides: list[str]) -> bool:
    return f"hydra/sweeper={OPTUNA_SWEEPER}" in overrides


def _renamed_sweeper(overrides: list[str], console: Console) -> list[str]:
    """``hydra/sweeper=optuna`` (Hydra's plugin) runs retro-gamer's Optuna sweeper."""
    if f"hydra/sweeper={OLD_OPTUNA}" not in overrides:
        return overrides
    console.print(f"hydra/sweeper={OLD_OPTUNA} runs retro-gamer's own Optuna sweeper: write "
                  f"hydra/sweeper={OPTUNA_SWEEPER} (same n_trials, direction, study_name, "
                  "storage and params settings; it resumes and prunes).", highlight=False,
                  soft_wrap=True)
    return [f"hydra/sweeper={OPTUNA_SWEEPER}" if o == f"hydra/sweeper={OLD_OPTUNA}" else o
            for o in overrides]


def _stopped_sweep(run: RunDirectory, overrides: list[str], console: Console) -> int:
    """Ctrl+C or SIGTERM stopped a sweep: record it and say how to continue."""
    sweep_dir = SweepSummary.current
    if sweep_dir is not None:
        write_summary(sweep_dir, state="stopped")
    # Quoted for a shell: a search space such as tag(log,interval(0.0001,0.01)) has
    # parentheses, which bash would not take unquoted.
    command = shlex.join(["retro-gamer", "train", str(run.path), "-m", *overrides])
    console.print(f"Sweep stopped; each job saved a checkpoint. Resume it with: {command}",
                  highlight=False, soft_wrap=True)
    return EXIT_INTERRUPTED


def _print_run_result(run: RunDirectory, console: Console) -> None:
    result = run.read_result() or {}
    episodes = len(run.episode_lines())
    objective = result.get("objective")
    played = ("checkpoints/best.pt (the best evaluation during training)"
              if objective_checkpoint(run.path) == "best" else "after training")
    score = "" if objective is None else f" Greedy play {played}: mean return {objective:g}."
    console.print(f"Trained {counted(episodes, 'episode')}.{score} Watch the agent: "
                  f"retro-gamer play {shell_path(run.path)}", highlight=False, soft_wrap=True)


def task_overrides(overrides: list[str]) -> list[str]:
    """The overrides Hydra counts as the job's own (not hydra.* or hydra/ settings)."""
    return [o for o in override_rules.portable_sweeps(overrides)
            if not o.lstrip("+~").startswith("hydra")]


def _print_sweep_result(summary: dict, console: Console) -> None:
    jobs = summary["jobs"]
    done = [j for j in jobs if j["status"] == "done" and j.get("objective") is not None]
    pruned = sum(j["status"] == "pruned" for j in jobs)
    line = (f"Sweep finished: {counted(len(jobs), 'job')}, {len(done)} done, "
            + (f"{pruned} pruned, " if pruned else "")
            + f"{summary['failed']} failed. Summary: {summary['sweep_dir']}/{SWEEP_SUMMARY_NAME}")
    study = summary.get("study")
    if study is not None:
        counts = ", ".join(f"{n} {state}" for state, n in sorted(study["trials"].items()))
        line += f"\nOptuna study '{study['study_name']}': {counts}."
        if study["best"] is not None:
            best = study["best"]
            params = " ".join(override_rules.shown(f"{k}={v}")
                              for k, v in best["params"].items())
            line += f"\nBest trial {best['trial']}: objective {best['value']:g} with {params}"
        line += f"\nSee it in a browser: optuna-dashboard {shell_path(study['storage'])}"
    elif done:
        best = max(done, key=lambda j: j["objective"])
        line += f"\nBest objective {best['objective']:g}: {best['job']}"
    for job in jobs:
        if job["status"] == "failed":
            line += f"\nFailed: {job['job']}: {(job.get('error') or '').splitlines()[0]}"
    console.print(line, highlight=False, soft_wrap=True)


class TrainTask:
    """What Hydra runs for each job; picklable, so launchers can run it in other processes."""

    def __init__(self, base_run: str, base: RunConfig, resume: str | None, multirun: bool):
        self.base_run = base_run
        self.base = base  # the base run's config.toml as the command read it
        self.resume = resume
        self.multirun = multirun
        self.command_pid = os.getpid()  # the process of `retro-gamer train` itself
        self.command_host = os.uname().nodename
        self.error: RetroGamerError | None = None
        self.__module__ = __name__

    def __call__(self, cfg: DictConfig) -> float:
        game, hyper = values_from(cfg)
        if not self.multirun:
            try:
                return self._train(RunDirectory(self.base_run), self.base, game, hyper,
                                   live=True, resume=self.resume)
            except RetroGamerError as error:
                self.error = error
                return math.nan
        job_dir = _job_dir()
        overrides = list(HydraConfig.get().overrides.task)
        run = RunDirectory(job_dir)
        started = time.time()
        result: dict[str, Any] = {"overrides": overrides, "status": "running",
                                  "objective": None, "error": None, "started": started,
                                  "pid": os.getpid(), "host": os.uname().nodename,
                                  "slurm_job": slurm.job_id()}
        previous = run.read_result() or {}
        if previous.get("status") == "done":  # a re-run sweep skips what it finished
            objective = previous.get("objective")
            return math.nan if objective is None else float(objective)
        watching = self._stop_watch()
        if watching is None:  # handed out after the sweep was asked to stop: not started
            return math.nan
        reporter = None
        job_stack = contextlib.ExitStack()  # closed once its result is written
        job_stack.enter_context(watching)
        try:
            if run.config_path.exists():  # a job run before: its own config is the base
                job_base = read_run_config(run.path)
            else:  # the job's folder becomes a run directory: the base run's config
                job_base = self.base
                atomic_write(run.config_path, self.base.text.encode("utf-8"))
            # Evaluations during training feed the pruner when the run will have some.
            every = hyper.get("eval_every") or 0
            reporter = reporter_for_job(HydraConfig.get(), by_evaluation=bool(
                every and hyper.get("eval_episodes") and every <= hyper["training_episodes"]))
            if reporter is not None and not hyper.get("eval_episodes", 1):
                raise ConfigError("eval_episodes = 0 leaves an Optuna trial without its "
                                  "objective (the mean greedy return): set eval_episodes=10.")
            resume = "latest" if run.checkpoints() else None
            if resume is None and run.log_path.exists():
                run.log_path.unlink()  # killed before its first checkpoint: nothing to keep
            run.write_result(result)
            with slurm.requeue_on_notice():
                objective = self._train(run, job_base, game, hyper, live=False,
                                        label=job_dir.name or "job", resume=resume,
                                        reporter=reporter)
            result.update(status="done", objective=objective)
            return objective
        except TrainingInterrupted as stop:
            if reporter is not None and reporter.pruned_at is not None:
                reporter.mark_pruned()
                result.update(status="pruned", error=f"pruned by Optuna after episode "
                                                     f"{reporter.pruned_at}")
                return math.nan
            # Ctrl+C, SIGTERM or scancel: this job is stopped (saved, can continue), not failed.
            result.update(status="stopped", error=str(stop))
            if os.getpid() == self.command_pid:
                # The basic launcher runs jobs in the command's own process: stop the sweep
                # too. A job in another process (joblib, Slurm) ends alone.
                raise KeyboardInterrupt from None
            return math.nan
        except Exception as error:  # one job's failure must not end the sweep
            message = str(error) if isinstance(error, RetroGamerError) else (
                f"{type(error).__name__}: {error}\n{traceback.format_exc()}")
            result.update(status="failed", error=message)
            print(f"job {job_dir.name} failed: {message.splitlines()[0]}", file=sys.stderr)
            return math.nan
        finally:
            result["seconds"] = round(time.time() - started, 3)
            run.write_result(result)
            job_stack.close()  # a worker whose command is gone may exit now

    def _stop_watch(self) -> contextlib.AbstractContextManager | None:
        """How this job learns that the sweep is stopping; None: it must not start."""
        if os.getpid() == self.command_pid:  # the basic launcher: the trainer sees signals
            if CommandStop.requested:  # the stop came between two jobs
                raise KeyboardInterrupt
            return contextlib.nullcontext()
        sweep_dir = Path(HydraConfig.get().sweep.dir)
        if stop_file_exists(sweep_dir):
            return None
        return JobStop.watch(sweep_dir, self.command_pid, self.command_host)

    def _train(self, run: RunDirectory, base: RunConfig, game: dict, hyper: dict,
               live: bool, label: str = "training", resume: str | None = None,
               reporter=None) -> float:
        console = Console(stderr=True) if live else Console(stderr=True, force_terminal=False)
        # The lock is held through the evaluation too: a job whose lock is free is not running.
        with run.lock():
            run.remove_partial_writes()
            # Validated here; written (once, by the writer) when training has validated the rest.
            config = resolve_settings(run.path, hyper, game, base=base)
            # A single run that fails before its first checkpoint is left as it was (a sweep's
            # job folder is cleared at its next start instead).
            undo = (contextlib.nullcontext() if self.multirun
                    else run.undone_unless_saved(base.text))
            with undo, TrainingProgress(console, label=label) as progress:
                def on_episode(stats) -> bool:
                    if progress.last is None and stats.episode > 1:  # resumed: the log
                        progress.earlier([e["total_reward"] for e in run.episodes()
                                          if e["episode"] < stats.episode])
                    progress(stats)  # True asks the trainer to stop: the pruner or the user
                    pruned = reporter is not None and reporter.episode(
                        stats.episode, stats.total_reward, stats.evaluation)
                    return pruned or JobStop.requested()

                train_run(run.path, resume, on_episode=on_episode, on_note=progress.note,
                          on_turn=progress.on_turn, config=config,
                          config_writer=RunConfigFile(run.path, base.text))
            # eval_episodes = 0 skips the evaluation: such a run has no objective.
            objective = evaluate_run(run.path) if hyper.get("eval_episodes", 1) else math.nan
        if not self.multirun:
            run.write_result({"overrides": [], "status": "done", "objective": objective,
                                "error": None})
        return objective


def _job_dir() -> Path:
    """A sweep job's folder, from ``hydra.sweep.*`` rather than ``runtime.output_dir``:
    Hydra stores the latter as a new string, so a ``${`` in a folder's name would be
    interpolated a second time and the job would train somewhere else."""
    hydra = HydraConfig.get()
    return Path(hydra.sweep.dir) / str(hydra.sweep.subdir)


def values_from(cfg: DictConfig) -> tuple[dict, dict]:
    """Split a composed config into ``[game]`` and ``[hyperparameters]`` values."""
    data = OmegaConf.to_container(cfg, resolve=True)
    game = data.pop("game")
    return game, data


class SweepSummary(Callback):
    """Keeps ``sweep.json`` (the command, each job's overrides, status, objective) current.

    Written when the sweep starts (so an interrupted sweep can be found and
    resumed by running the same command again) and when it ends.
    """

    last: dict | None = None  # the summary of the sweep that ended last in this process
    current: Path | None = None  # the folder of the sweep running in this process

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        sweep_dir.mkdir(parents=True, exist_ok=True)
        SweepSummary.current = sweep_dir
        CommandStop.install(sweep_dir)  # Ctrl+C lets the launcher's jobs save, then stops
        write_summary(sweep_dir, command=_command(config), state="running",
                      planned=planned_jobs(config))

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        SweepSummary.last = write_summary(Path(config.hydra.sweep.dir), command=_command(config),
                                          state="finished")


def _command(config: DictConfig) -> list[str]:
    """The user's overrides as typed (Hydra keeps them), without our resume redirection."""
    return [o for o in config.hydra.overrides.task]


def write_summary(sweep_dir: Path, command: list[str] | None = None,
                  state: str = "finished", planned: list[list[str]] | None = None) -> dict:
    """Collect every job's ``result.json`` into ``sweep_dir/sweep.json`` and return it.

    A job's status is derived from facts (:meth:`RunDirectory.job_status`); jobs the
    sweep plans but has not started are listed as "not started"; an Optuna search
    adds its study (trial counts by state, best trial).
    """
    sweep = SweepDirectory(sweep_dir)
    saved = sweep.read_summary() or {}
    jobs = []
    for job_dir in sweep.job_dirs():
        job = RunDirectory(job_dir)
        result = job.read_result() or {"objective": None, "overrides": [], "error": None}
        jobs.append({"job": job_dir.name, "run_dir": str(job_dir),
                     "episodes_done": len(job.episode_lines()), **result,
                     "status": job.job_status()})
    planned = saved.get("planned", []) if planned is None else planned
    seen = {tuple(sorted(j.get("overrides") or [])) for j in jobs}
    for number, overrides in enumerate(planned):
        if tuple(sorted(overrides)) not in seen:
            jobs.append({"job": str(number), "run_dir": None, "episodes_done": 0,
                         "overrides": overrides, "status": "not started", "objective": None,
                         "error": None})
    if command is None:
        command = saved.get("command", [])
    summary = {"sweep_dir": str(sweep_dir), "command": command, "state": state,
               "planned": planned, "jobs": jobs,
               "failed": sum(j["status"] == "failed" for j in jobs)}
    study = study_summary(sweep_dir)
    if study is not None:
        summary["study"] = study
    sweep.write_summary(summary)
    return summary


def _check_plugins(overrides: list[str]) -> None:
    """A launcher or sweeper that is not installed: say which package brings it."""
    for item in overrides:
        if item.startswith("hydra/sweeper/"):
            raise ConfigError(
                f"'{item}': retro-gamer's Optuna sweeper takes its sampler and pruner as "
                "settings: hydra.sweeper.sampler=tpe|random|grid, "
                "hydra.sweeper.pruner=median|successive_halving|none.")
        for group in ("hydra/launcher", "hydra/sweeper"):
            if not item.startswith(group + "="):
                continue
            name = item[len(group) + 1:]
            available = _installed_options(group)
            if name == OPTUNA_SWEEPER and importlib.util.find_spec("optuna") is None:
                raise ConfigError(f"The sweeper '{name}' needs the package optuna: "
                                  "pip install -e '.[sweep]' in retro-gamer's source folder.")
            if name in available:
                continue
            kind = group.split("/")[1]
            if name in OPTIONAL_PLUGINS:
                raise ConfigError(
                    f"The {kind} '{name}' needs the package {OPTIONAL_PLUGINS[name]}: "
                    "pip install -e '.[sweep]' in retro-gamer's source folder.")
            raise ConfigError(f"Unknown {kind} '{name}'. Available: {', '.join(available)}.")


def _installed_options(group: str) -> list[str]:
    """Options of a Hydra group (e.g. hydra/launcher) that installed plugins provide."""
    from retro_gamer.hydra_adapter import group_options

    return group_options(group)


def _run_hydra(argv: list[str], task: TrainTask, primary_dir: Path) -> dict:
    from hydra.core.global_hydra import GlobalHydra

    from retro_gamer.hydra_adapter import run_hydra

    os.environ["HYDRA_FULL_ERROR"] = "1"  # errors come back as exceptions we can word
    GlobalHydra.instance().clear()
    try:
        run_hydra(argv, task, str(primary_dir.resolve()), PRIMARY_NAME)
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
