"""A hyperparameter search with Optuna whose study lives in the sweep folder.

This is the engine of retro-gamer's Hydra sweeper (``hydra/sweeper=retro_optuna``,
registered by the ``hydra_plugins.retro_gamer_optuna_sweeper`` package):

* the study is kept in Optuna's journal file storage, ``SWEEP_DIR/optuna.journal``
  (append-only, safe for several processes, and survives a kill), so running the
  same command again continues the search: ``n_trials`` counts every finished
  trial of the study, not the trials of this invocation; ``optuna-dashboard
  SWEEP_DIR/optuna.journal`` shows it;
* each trial is one job of the launcher the user chose (basic, joblib, Slurm),
  and the job's folder is numbered by the trial (``hydra.job.num`` is the trial
  number), so a job finds its trial from its own Hydra config;
* the job reports the mean return of its recent episodes as the trial's
  intermediate value and asks the pruner (median, or successive halving:
  Li et al. 2018, "Hyperband"; Jamieson & Talwalkar 2016) whether to stop; a
  pruned job saves a checkpoint, keeps its folder and marks itself "pruned".

Search spaces use Hydra's sweep syntax: ``interval(a,b)`` (a float or int range),
``tag(log,interval(a,b))``, ``choice(a,b)`` or ``a,b`` (categories), and
``range(start,stop,step)``.
"""

from __future__ import annotations

import contextlib
import fcntl
import math
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from retro_gamer.errors import ConfigError, RunDirectoryError
from retro_gamer.sweep_stop import CommandStop

SWEEPER_TARGET = "hydra_plugins.retro_gamer_optuna_sweeper.sweeper.RetroOptunaSweeper"
JOURNAL_NAME = "optuna.journal"
LOCK_NAME = ".search.lock"
RESULTS_NAME = "optimization_results.yaml"
SAMPLERS = ("tpe", "random", "grid")
PRUNERS = ("median", "successive_halving", "none")
RECENT_EPISODES = 10  # the intermediate value is the mean return of this many last episodes
# User attribute that earlier versions set on a failed trial whose process died; such a
# trial does not count towards n_trials (now a stopped trial stays running and continues).
INTERRUPTED = "interrupted"


# --------------------------------------------------------------- the study itself


def storage_url(sweep_dir: str | os.PathLike, storage: str | None) -> str:
    """The study's storage: the user's URL, or the journal file in the sweep folder."""
    return storage or str(Path(sweep_dir).resolve() / JOURNAL_NAME)


def open_storage(url: str):
    """An Optuna storage for ``url``: a database URL (``sqlite:///...``) or a journal file."""
    import optuna
    from optuna.storages.journal import JournalFileBackend

    if "://" in url:
        return optuna.storages.RDBStorage(url)
    return optuna.storages.JournalStorage(JournalFileBackend(url))


def make_sampler(name: str, seed: int | None, grid: dict[str, list] | None):
    import optuna

    if name == "tpe":
        return optuna.samplers.TPESampler(seed=seed)
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if name == "grid":
        if grid is None:
            raise ConfigError("hydra.sweeper.sampler=grid needs every swept value listed: use "
                              "choice(...), a,b or range(...), not interval(...).")
        class Grid(optuna.samplers.GridSampler):
            # GridSampler ends study.optimize() with study.stop() once the grid is done, which
            # raises outside optimize(); this loop asks is_exhausted() instead.
            def after_trial(self, study, trial, state, values) -> None:
                pass

        return Grid(grid, seed=seed)
    raise ConfigError(f"Unknown sampler '{name}' (hydra.sweeper.sampler). Choose one of: "
                      f"{', '.join(SAMPLERS)}.")


def make_pruner(name: str, n_startup_trials: int, n_warmup_steps: int):
    import optuna

    if name == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=n_startup_trials,
                                           n_warmup_steps=n_warmup_steps)
    if name == "successive_halving":
        return optuna.pruners.SuccessiveHalvingPruner()
    if name == "none":
        return optuna.pruners.NopPruner()
    raise ConfigError(f"Unknown pruner '{name}' (hydra.sweeper.pruner). Choose one of: "
                      f"{', '.join(PRUNERS)}.")


def repair_journal(url: str) -> str | None:
    """Drop the lines of a journal file that cannot be read, before anything appends to it.

    A process killed while writing leaves its last line cut off: Optuna skips such a
    line when it reads, but appends the next record right behind it, which turns the
    journal into one it can no longer read. Every line that parses is kept if the
    study still loads from them, else the lines before the first broken one; the
    damaged file is kept beside it as ``optuna.journal.damaged``. Returns a message
    for the user naming the dropped lines, or ``None`` when there was nothing to do
    (a database URL, no journal yet, or an intact one).
    """
    path = Path(url)
    if "://" in url or not path.is_file():
        return None
    lines = path.read_bytes().splitlines(keepends=True)
    broken = [number for number, line in enumerate(lines, 1) if not _readable(line)]
    if not broken:
        return None
    kept = [line for number, line in enumerate(lines, 1) if number not in broken]
    if not _loads(kept, path):
        kept = lines[:broken[0] - 1]  # later records may build on the broken one
    backup = path.with_name(path.name + ".damaged")
    backup.write_bytes(b"".join(lines))
    temporary = path.with_name(path.name + ".repaired")
    temporary.write_bytes(b"".join(kept))
    os.replace(temporary, path)
    dropped = len(lines) - len(kept)
    numbers = ", ".join(str(n) for n in broken)
    return (f"{path}: line{'s' if len(broken) > 1 else ''} {numbers} of {len(lines)} could not "
            f"be read (cut off by a crash while writing); dropped {dropped} line"
            f"{'s' if dropped != 1 else ''} and kept the study's other {len(kept)}. The "
            f"damaged file is kept as {backup}.")


def _readable(line: bytes) -> bool:
    import json

    if not line.endswith(b"\n"):
        return False
    try:
        return isinstance(json.loads(line), dict)
    except ValueError:
        return False


def _loads(lines: list[bytes], path: Path) -> bool:
    """Whether Optuna replays ``lines`` as a journal without an error."""
    trial = path.with_name(path.name + ".check")
    try:
        trial.write_bytes(b"".join(lines))
        storage = open_storage(str(trial))
        for study in storage.get_all_studies():
            storage.get_all_trials(storage.get_study_id_from_name(study.study_name),
                                   deepcopy=False)
        return True
    except Exception:  # any replay error: these lines do not make a study
        return False
    finally:
        trial.unlink(missing_ok=True)
        trial.with_name(trial.name + ".lock").unlink(missing_ok=True)


@contextlib.contextmanager
def search_lock(sweep_dir: Path) -> Iterator[None]:
    """One search process per sweep folder: a second one would fail the first one's trials."""
    sweep_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(sweep_dir / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RunDirectoryError(
                f"The search in {sweep_dir} is already running in another process. Wait for "
                "it, or stop it first.") from None
        yield
    finally:
        os.close(fd)  # closing releases the lock; the kernel releases it on any death


def finished_count(study) -> int:
    """Trials that count towards ``n_trials``: complete, pruned, or failed on their own."""
    from optuna.trial import TrialState

    return sum(t.state in (TrialState.COMPLETE, TrialState.PRUNED)
               or (t.state == TrialState.FAIL and not t.user_attrs.get(INTERRUPTED))
               for t in study.get_trials(deepcopy=False))


def trial_id(storage, study_name: str, number: int) -> int:
    """The storage's id of trial ``number`` (Optuna's public storage API)."""
    study_id = storage.get_study_id_from_name(study_name)
    return storage.get_trial_id_from_study_id_trial_number(study_id, number)


def interrupted_trials(study) -> list:
    """Trials left "running" by a search that was stopped (Ctrl+C, SIGTERM) or killed.

    The resumed search runs each of them again as the same trial: same number, same
    parameters, so the same job folder, where training continues from its checkpoint.
    """
    from optuna.trial import TrialState

    return study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))


def resumed_seed(seed: int | None, trials_so_far: int) -> int | None:
    """The sampler's seed for a search that already holds ``trials_so_far`` trials.

    A sampler rebuilt with the user's seed would replay its first trials' parameters
    on every resume; offsetting it by the trials already asked for continues the
    search with new ones, and the same command stopped at the same point resumes the
    same way.
    """
    if seed is None:
        return None
    return (int(seed) + trials_so_far) % 2**32


def study_summary(sweep_dir: str | os.PathLike, storage: str | None = None,
                  study_name: str | None = None) -> dict | None:
    """The study's trial counts by state and its best trial; ``None`` when there is none."""
    url = storage_url(sweep_dir, storage)
    if "://" not in url and not Path(url).is_file():
        return None
    import optuna

    try:
        storage_ = open_storage(url)
        names = [s.study_name for s in storage_.get_all_studies()]
        if not names:
            return None
        study = optuna.load_study(study_name=study_name or names[0], storage=storage_)
    except Exception:  # an unreadable study must not hide the sweep's other facts
        return None
    trials = study.get_trials(deepcopy=False)
    counts: dict[str, int] = {}
    for trial in trials:
        key = trial.state.name.lower()
        counts[key] = counts.get(key, 0) + 1
    summary: dict[str, Any] = {"study_name": study.study_name, "storage": url,
                               "trials": counts, "best": None}
    if any(t.state.name == "COMPLETE" for t in trials):
        best = study.best_trial
        summary["best"] = {"trial": best.number, "value": best.value,
                           "params": dict(best.params)}
    return summary


def check_settings(settings: dict) -> None:
    """Refuse ``hydra.sweeper.*`` values that would run nothing, or something else than asked.

    Raises :class:`ConfigError` naming the setting and the values it takes.
    """
    least = {"n_trials": 1, "n_jobs": 1, "n_startup_trials": 0, "n_warmup_steps": 0}
    for name, minimum in least.items():
        value = settings.get(name)
        if value is None or int(value) < minimum:
            raise ConfigError(f"hydra.sweeper.{name}={value}: it must be a whole number of at "
                              f"least {minimum}.")
    seed = settings.get("seed")
    if seed is not None and not 0 <= int(seed) < 2**32:
        raise ConfigError(f"hydra.sweeper.seed={seed}: a sampler's seed is a whole number from "
                          f"0 to {2**32 - 1}, or null for a new one each time.")
    if settings.get("direction") not in ("maximize", "minimize"):
        raise ConfigError(f"hydra.sweeper.direction={settings.get('direction')}: choose "
                          "maximize (the objective is a return: higher is better) or minimize.")
    seeds = list(settings.get("seeds") or [])
    if any(not isinstance(s, int) or isinstance(s, bool) or not 0 <= s < 2**32
           for s in seeds) or len(set(seeds)) != len(seeds):
        raise ConfigError(f"hydra.sweeper.seeds={seeds}: give distinct whole numbers from 0 "
                          f"to {2**32 - 1}, e.g. hydra.sweeper.seeds=[1,2,3].")
    if not str(settings.get("study_name") or "").strip():
        raise ConfigError("hydra.sweeper.study_name is empty: give the study a name, e.g. "
                          "hydra.sweeper.study_name=retro-gamer.")


# ------------------------------------------------------------------- search spaces


def search_space(overrides: Sequence[Any]) -> tuple[dict, list[str], dict | None]:
    """Split parsed Hydra overrides into Optuna distributions and fixed overrides.

    Returns ``(distributions, fixed, grid)``: ``grid`` lists each parameter's values
    for the grid sampler, or is ``None`` when an ``interval`` makes a grid impossible.
    """
    from hydra.core.override_parser.types import ValueType

    from retro_gamer.overrides import value_text

    distributions: dict[str, Any] = {}
    grid: dict[str, list] | None = {}
    fixed: list[str] = []
    for override in overrides:
        key = override.get_key_element()
        if not override.is_sweep_override():
            fixed.append(f"{key}={value_text(override.value())}")
            continue
        distribution, values = _distribution(override, override.value_type == ValueType.
                                             INTERVAL_SWEEP)
        distributions[key] = distribution
        if values is None:
            grid = None
        elif grid is not None:
            grid[key] = values
    return distributions, fixed, grid


def _distribution(override, interval: bool) -> tuple[Any, list | None]:
    import optuna.distributions as dist
    from hydra.core.override_parser.types import QuotedString, RangeSweep

    sweep = override.value()
    log = "log" in getattr(sweep, "tags", set())
    if interval:
        start, end = sweep.start, sweep.end
        if all(isinstance(v, int) or float(v).is_integer() for v in (start, end)) \
                and _is_int_field(override.get_key_element()):
            return dist.IntDistribution(int(start), int(end), log=log), None
        return dist.FloatDistribution(float(start), float(end), log=log), None
    if isinstance(sweep, RangeSweep):
        values = list(override.sweep_iterator())
        if all(isinstance(v, int) for v in values):
            step = int(sweep.step)
            return dist.IntDistribution(values[0], values[-1], step=step, log=log), values
        return dist.CategoricalDistribution(values), values
    values = [v.text if isinstance(v, QuotedString) else v for v in override.sweep_iterator()]
    for value in values:
        if not (value is None or isinstance(value, (bool, int, float, str))):
            raise ConfigError(
                f"'{override.input_line}': Optuna's categories are single values (numbers, "
                "strings, true/false); a list or mapping cannot be one.")
    return dist.CategoricalDistribution(values), values


def _is_int_field(key: str) -> bool:
    from retro_gamer.config import HYPERPARAMETER_FIELDS, field_kind

    return key in HYPERPARAMETER_FIELDS and field_kind(key) is int


def trial_overrides(params: dict[str, Any], fixed: Sequence[str]) -> list[str]:
    """The job overrides for one trial's parameters, each written so that it parses back."""
    from retro_gamer.overrides import value_text

    return [*fixed, *(f"{key}={value_text(value)}" for key, value in params.items())]


def objective_value(returned: Any) -> float | None:
    """A job's return as the trial's value, or ``None`` when it has none to give."""
    try:
        value = float(returned)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


# ------------------------------------------------------------- inside a trial's job


class TrialReporter:
    """A job's handle on its own trial: report intermediate values, ask the pruner.

    The job may run in another process or on another machine (Slurm); it opens
    the study's storage itself, so the storage must be on a shared file system
    (the sweep folder is) or a database every node reaches.
    """

    def __init__(self, url: str, study_name: str, number: int, pruner):
        import optuna

        self.storage = open_storage(url)
        # The storage keeps trials, not the pruner: the job builds the sweeper's own.
        self.study = optuna.load_study(study_name=study_name, storage=self.storage,
                                       pruner=pruner)
        identifier = trial_id(self.storage, study_name, number)
        self.trial = optuna.trial.Trial(self.study, identifier)
        # A continued trial replays the episodes after its checkpoint: what it reported
        # before stands (Optuna would warn about each repeat and keep the first anyway).
        self.reported = set(self.storage.get_trial(identifier).intermediate_values)
        self.number = number
        self.returns: list[float] = []
        self.pruned_at: int | None = None
        self.by_evaluation = False  # report evaluations during training (set by the job)
        self.reporting = True  # report intermediate values and ask the pruner

    def episode(self, episode: int, total_reward: float,
                evaluation: float | None = None) -> bool:
        """Report after an episode; ``True`` when the pruner says to stop this trial.

        With evaluations during training (``eval_every``) the intermediate value is
        each evaluation's greedy mean, reported at its episode; without them, the mean
        return of the last ``RECENT_EPISODES`` episodes, after every episode.
        """
        self.returns.append(total_reward)
        if not self.reporting:
            return False
        if self.by_evaluation:
            if evaluation is None:
                return False
            value = evaluation
        else:
            recent = self.returns[-RECENT_EPISODES:]
            value = sum(recent) / len(recent)
        if episode not in self.reported:
            self.trial.report(value, step=episode)
            self.reported.add(episode)
        if self.trial.should_prune():
            self.pruned_at = episode
            return True
        return False

    def mark_pruned(self) -> None:
        from optuna.trial import TrialState

        self.study.tell(self.number, state=TrialState.PRUNED, skip_if_finished=True)


def reporter_for_job(hydra_config, by_evaluation: bool = False) -> TrialReporter | None:
    """The trial reporter when this job is a trial of retro-gamer's Optuna search;
    ``by_evaluation`` when the job evaluates during training (``eval_every``)."""
    sweeper = hydra_config.sweeper
    if sweeper.get("_target_") != SWEEPER_TARGET:
        return None
    url = storage_url(hydra_config.sweep.dir, sweeper.get("storage"))
    pruner = make_pruner(sweeper.pruner, int(sweeper.n_startup_trials),
                         int(sweeper.n_warmup_steps))
    seeds = list(sweeper.get("seeds") or [])
    job = int(hydra_config.job.num)
    # With seeds a trial's jobs are numbered trial * len(seeds) + i, one per seed.
    reporter = TrialReporter(url, sweeper.study_name, job // max(1, len(seeds)), pruner)
    reporter.by_evaluation = by_evaluation
    # The dashboard shows it: where this trial's run directory (one per seed) is.
    name = f"run_dir_seed_{seeds[job % len(seeds)]}" if seeds else "run_dir"
    reporter.trial.set_user_attr(name, str(hydra_config.runtime.output_dir))
    # Several jobs of one trial cannot share its learning curve: with seeds the trial is
    # judged on its mean at the end, and never pruned.
    reporter.reporting = not seeds
    return reporter


# ------------------------------------------------------------- the sweeper's loop


def run_search(settings: dict, config, launcher, arguments: Sequence[str]) -> list:
    """Run (or continue) the study until ``n_trials`` trials have finished.

    ``settings`` are ``hydra.sweeper.*``; each batch of ``n_jobs`` trials is one
    ``launcher.launch`` call. Returns the launched jobs' ``JobReturn`` objects.
    """
    import optuna
    from hydra.core.override_parser.overrides_parser import OverridesParser

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    check_settings(settings)
    params = settings.get("params") or {}
    parsed = OverridesParser.create().parse_overrides(
        [f"{key}={value}" for key, value in params.items()] + list(arguments))
    distributions, fixed, grid = search_space(parsed)
    if not distributions:
        raise ConfigError("The Optuna search has nothing to search: give a range such as "
                          "'gamma=interval(0.9,0.999)' or 'batch_size=choice(32,64)'.")
    seeds = [int(s) for s in settings.get("seeds") or []]
    if seeds and ("seed" in distributions or any(o.startswith("seed=") for o in fixed)):
        raise ConfigError("hydra.sweeper.seeds already gives each trial its seeds: leave "
                          "'seed' out of the overrides and the search space.")
    n_trials, n_jobs = int(settings["n_trials"]), max(1, int(settings["n_jobs"]))
    sweep_dir = Path(config.hydra.sweep.dir)
    url = storage_url(sweep_dir, settings.get("storage"))
    with search_lock(sweep_dir):
        repaired = repair_journal(url)  # before anything appends behind a broken line
        if repaired:
            print(repaired, file=sys.stderr, flush=True)
        storage = open_storage(url)
        study = optuna.create_study(
            study_name=settings["study_name"], storage=storage, load_if_exists=True,
            direction=settings["direction"],
            sampler=make_sampler(settings["sampler"], settings.get("seed"), grid),
            pruner=make_pruner(settings["pruner"], int(settings["n_startup_trials"]),
                               int(settings["n_warmup_steps"])))
        study.sampler = make_sampler(settings["sampler"], resumed_seed(
            settings.get("seed"), len(study.get_trials(deepcopy=False))), grid)
        returns: list = []
        stale = interrupted_trials(study)  # continued first, each as itself
        for start in range(0, len(stale), n_jobs):
            for batch in _consecutive(stale[start:start + n_jobs]):
                returns += _run_batch(study, storage, launcher, batch, fixed, seeds)
        grid_done = getattr(study.sampler, "is_exhausted", lambda _: False)
        while (todo := n_trials - finished_count(study)) > 0 and not grid_done(study):
            trials = [study.ask(distributions) for _ in range(min(n_jobs, todo))]
            for batch in _consecutive(trials):
                returns += _run_batch(study, storage, launcher, batch, fixed, seeds)
        write_results(sweep_dir, study)
    return returns


def _consecutive(trials: list) -> list[list]:
    """Trials split into runs of consecutive numbers (a job's number is its trial's)."""
    batches: list[list] = []
    for trial in trials:
        if batches and batches[-1][-1].number + 1 == trial.number:
            batches[-1].append(trial)
        else:
            batches.append([trial])
    return batches


def _run_batch(study, storage, launcher, trials: list, fixed: Sequence[str],
               seeds: list[int]) -> list:
    """Launch the jobs of consecutive ``trials`` together and tell the study their values.

    With ``seeds`` a trial is one job per seed, numbered ``trial * len(seeds) + i``;
    its value is the mean of its jobs' objectives (each kept in the trial's user
    attribute ``seed_objectives``), and it fails when one of them has none.
    """
    from optuna.trial import TrialState

    per_trial = max(1, len(seeds))
    overrides = [trial_overrides(trial.params, fixed) + ([f"seed={seed}"] if seed is not None
                                                          else [])
                 for trial in trials for seed in (seeds or [None])]
    returns = launcher.launch(overrides, initial_job_idx=trials[0].number * per_trial)
    stopping = CommandStop.requested  # Ctrl+C: the launcher's jobs saved and returned
    for index, trial in enumerate(trials):
        values = [_job_value(job) for job in returns[index * per_trial:(index + 1) * per_trial]]
        if stopping and None in values:
            continue  # left "running": the resumed search continues it (interrupted_trials)
        if seeds:
            storage.set_trial_user_attr(
                trial_id(storage, study.study_name, trial.number), "seed_objectives",
                {str(seed): value for seed, value in zip(seeds, values, strict=True)})
        value = None if None in values else sum(values) / len(values)
        state = TrialState.COMPLETE if value is not None else TrialState.FAIL
        # A pruned job has told the study itself; the first word stands.
        study.tell(trial.number, value, state=state, skip_if_finished=True)
    if stopping:
        raise KeyboardInterrupt  # no further trials; the command says how to resume
    return returns


def _job_value(job) -> float | None:
    try:
        return objective_value(job.return_value)
    except KeyboardInterrupt:
        raise
    except Exception:  # the job failed: its result.json says why
        return None


def write_results(sweep_dir: Path, study) -> None:
    """``optimization_results.yaml``: the best parameters and value so far."""
    from omegaconf import OmegaConf

    if not any(t.state.name == "COMPLETE" for t in study.get_trials(deepcopy=False)):
        return
    best = study.best_trial
    OmegaConf.save(OmegaConf.create({"name": "retro_optuna", "best_trial": best.number,
                                     "best_params": dict(best.params),
                                     "best_value": best.value}),
                   sweep_dir / RESULTS_NAME)
