"""``retro-gamer info``: a run directory or a sweep summarised with rich.

Every report is built in two steps: a ``*_summary`` function gathers plain
data (what ``info --json`` prints), and a ``render_*`` function draws exactly
that data, so the two never disagree.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import statistics
from pathlib import Path

from rich.console import Console, Group
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from retro_gamer.config import Hyperparameters
from retro_gamer.errors import RetroGamerError, RunDirectoryError
from retro_gamer.json_values import json_safe
from retro_gamer.optuna_search import study_summary
from retro_gamer.overrides import shown
from retro_gamer.progress import chart_text, counted, moving_average, resample
from retro_gamer.run_dir import (
    CONFIG_NAME,
    REPLAY_SUFFIX,
    RunDirectory,
    SweepDirectory,
    is_sweep_directory,
    shell_path,
)

CHART_WIDTH = 60  # characters; the chart holds two points per character
CHART_HEIGHT = 6
STATUS_ORDER = ("done", "running", "pruned", "stopped", "failed", "not started")
STATUS_STYLE = {"done": "green", "running": "yellow", "pruned": "cyan", "stopped": "magenta",
                "failed": "red",
                "not started": "dim"}


# ------------------------------------------------------------------ gathering

# Two-sided 95% quantiles of Student's t for 1..30 degrees of freedom: with 3 seeds the
# interval is 4.3 standard errors wide each way, not the normal approximation's 1.96.
T_95 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201,
        2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074,
        2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042)
SEED_KEY = "seed"


def summarize_path(path: str | os.PathLike, recent: int = 10) -> dict:
    """The ``info`` data of a run directory (``kind: run``) or a sweep (``kind: sweep``)."""
    folder = Path(path)
    if (folder / CONFIG_NAME).is_file():
        return run_summary(folder, recent)
    if is_sweep_directory(folder):
        return sweep_summary(folder)
    if not folder.exists():
        raise RunDirectoryError(f"{folder} does not exist. Give a run directory (made by "
                                "'retro-gamer create') or a sweep folder (RUN_DIR/sweeps/...).")
    raise RunDirectoryError(
        f"{folder} is neither a run directory (it has no {CONFIG_NAME}) nor a sweep folder "
        "(no sweep.json and no job folders). Give a folder made by 'retro-gamer create', or "
        "one of RUN_DIR/sweeps/<timestamp>/.")


def run_summary(run_dir: str | os.PathLike, recent: int = 10, window: int = 20) -> dict:
    """Everything ``info`` shows about one run, as plain (JSON-ready) data."""
    run = RunDirectory(run_dir)
    metadata, hyper = run.read_config()
    values = hyper.to_dict()
    defaults = Hyperparameters().to_dict()
    non_default = sorted(k for k, v in values.items() if k != "seed" and v != defaults.get(k))
    episodes = run.episodes()
    return json_safe({
        "kind": "run",
        "run_dir": str(run.path),
        "game": metadata.to_dict(),
        "network": _network_kind(metadata.spatial, hyper),
        "hyperparameters": values,
        "non_default": non_default,
        "defaults": {k: defaults.get(k) for k in non_default},
        "episodes_done": episodes[-1]["episode"] if episodes else 0,
        "episodes_total": hyper.training_episodes,
        "statistics": _episode_statistics(episodes, window),
        "recent_episodes": episodes[-recent:],
        "learning_curve": _learning_curve(episodes, window),
        "result": run.read_result(),
        "checkpoints": _checkpoint_rows(run),
        "replay_buffers": _replay_rows(run),
        "not_files": [{"path": str(path.relative_to(run.path)), "is": kind}
                      for path, kind in run.not_files()],
        "training_evaluations": run.training_evaluations(),
        "folder_size_bytes": run.folder_size(),
        "evaluations": [_evaluation_row(record) for record in run.evaluations()],
        "sweeps": [_sweep_overview(path) for path in run.sweep_dirs()],
    })


def checkpoint_summary(run_dir: str | os.PathLike, name: str) -> dict:
    """``info --checkpoint NAME``: one checkpoint's counters and evaluations, as plain data.

    ``evaluation_during_training`` is the evaluation that made it ``best.pt`` (or
    that ran at its episode); ``evaluation`` is what ``retro-gamer eval`` kept for it.
    """
    run = RunDirectory(run_dir)
    run.read_config()  # a folder that is not a run is reported as such
    path = run.checkpoint_path(name)
    state = run.load_checkpoint(path)
    label = path.stem if path.parent == run.checkpoint_dir else path.name
    episode = int(state.get("episode", -1))
    during = state.get("best_evaluation")
    if not isinstance(during, dict) or during.get("episode") != episode:
        during = next((e for e in run.training_evaluations() if e["episode"] == episode), None)
    kept = next((r for r in run.evaluations() if r.get("checkpoint") == label
                 and r.get("checkpoint_episode") == episode), None)
    stat = path.stat()
    return json_safe({
        "kind": "checkpoint",
        "run_dir": str(run.path),
        "checkpoint": label,
        "path": str(path),
        "episode": episode,
        "env_steps": state.get("env_steps"),
        "train_steps": state.get("train_steps"),
        "epsilon": state.get("epsilon"),
        "learning_rate": state.get("learning_rate"),
        "seed": state.get("seed"),
        "size_bytes": stat.st_size,
        "modified": dt.datetime.fromtimestamp(stat.st_mtime).isoformat(timespec="seconds"),
        "evaluation_during_training": during,
        "evaluation": None if kept is None else _evaluation_row(kept),
    })


def _listed_checkpoints(run: RunDirectory) -> list[Path]:
    """ep_NNNN.pt and final.pt in order, then best.pt when there is one."""
    best = run.best_checkpoint_path
    return run.checkpoints() + ([best] if best.is_file() else [])


def sweep_summary(sweep_dir: str | os.PathLike) -> dict:
    """A sweep's leaderboard: one row per job, best objective first."""
    sweep = SweepDirectory(sweep_dir)
    sweep.require()
    saved = sweep.read_summary() or {}
    finished = saved.get("state") == "finished"
    jobs = [_job_row(path, finished) for path in sweep.job_dirs()]
    seen = {tuple(sorted(job["overrides"])) for job in jobs}
    for number, overrides in enumerate(_expected_jobs(sweep)):
        if tuple(sorted(overrides)) not in seen:
            jobs.append({"job": str(number), "run_dir": None, "overrides": overrides,
                         "status": "not started", "episodes_done": 0, "episodes_total": None,
                         "objective": None, "seconds": None, "error": None})
    jobs.sort(key=_rank_key)
    for rank, job in enumerate(jobs, 1):
        job["rank"] = rank
    counts = {status: sum(job["status"] == status for job in jobs) for status in STATUS_ORDER}
    best = next((job for job in jobs if job["objective"] is not None), None)
    return json_safe({
        "kind": "sweep",
        "sweep_dir": str(sweep.path),
        "command": saved.get("command"),
        "state": saved.get("state"),
        "objective": "mean greedy return over eval_episodes (higher is better)",
        "counts": counts,
        "best": None if best is None else {k: best[k] for k in ("job", "overrides",
                                                                  "objective")},
        "jobs": jobs,
        "configurations": seed_groups(jobs),
        "study": study_summary(sweep.path),
    })


def mean_interval(values: list[float]) -> tuple[float | None, float | None]:
    """Mean and the half-width of its 95% interval (Student's t; ``None`` below 2 values)."""
    if not values:
        return None, None
    mean = statistics.fmean(values)
    if len(values) < 2:
        return mean, None
    t = T_95[len(values) - 2] if len(values) - 1 <= len(T_95) else 1.96
    return mean, t * statistics.stdev(values) / math.sqrt(len(values))


def seed_groups(jobs: list[dict]) -> list[dict]:
    """A sweep over seeds, one entry per configuration: the jobs that differ only in their
    ``seed=`` override, with the mean objective across seeds, its 95% interval and each
    seed's objective; best mean first. Empty when no configuration ran two seeds."""
    groups: dict[tuple, dict] = {}
    for job in jobs:
        seeds = [o.partition("=")[2] for o in job["overrides"] if o.startswith(SEED_KEY + "=")]
        rest = [o for o in job["overrides"] if not o.startswith(SEED_KEY + "=")]
        group = groups.setdefault(tuple(sorted(rest)), {"overrides": rest, "seeds": []})
        group["seeds"].append({"seed": seeds[0] if seeds else None, "job": job["job"],
                               "status": job["status"], "objective": job["objective"]})
    if not any(len({s["seed"] for s in g["seeds"]}) > 1 for g in groups.values()):
        return []
    rows = []
    for group in groups.values():
        group["seeds"].sort(key=lambda s: (s["seed"] is None, str(s["seed"]).isdigit() and
                                           int(s["seed"]) or 0, str(s["seed"])))
        values = [s["objective"] for s in group["seeds"]
                  if s["objective"] is not None and math.isfinite(s["objective"])]
        mean, half = mean_interval(values)
        rows.append({**group, "n": len(values), "mean": mean, "ci95": half})
    rows.sort(key=lambda g: (g["mean"] is None, -(g["mean"] or 0.0)))
    return rows


def _network_kind(spatial: bool, hyper: Hyperparameters) -> str:
    body = "CNN (spatial)" if spatial else "MLP (non-spatial)"
    return f"{body}, {counted(hyper.n_layers, 'hidden layer')} x {hyper.layer_size}"


def _episode_statistics(episodes: list[dict], window: int) -> dict:
    if not episodes:
        return {"episodes": 0}
    returns = [ep["total_reward"] for ep in episodes]
    best = max(range(len(returns)), key=returns.__getitem__)
    last = returns[-window:]
    return {"episodes": len(episodes), "best_return": returns[best],
            "best_episode": episodes[best]["episode"], "window": len(last),
            "recent_mean_return": sum(last) / len(last),
            "env_steps": sum(ep["steps"] for ep in episodes),
            "last_epsilon": episodes[-1]["epsilon"]}


def _learning_curve(episodes: list[dict], window: int) -> dict:
    """The chart's own points: returns and their moving average, at most 2 per character."""
    returns = [ep["total_reward"] for ep in episodes]
    points = 2 * CHART_WIDTH
    return {"window": window,
            "first_episode": episodes[0]["episode"] if episodes else None,
            "last_episode": episodes[-1]["episode"] if episodes else None,
            "returns": resample(returns, points),
            "moving_average": resample(moving_average(returns, window), points)}


def _checkpoint_rows(run: RunDirectory) -> list[dict]:
    """One row per checkpoint; ``on_line`` is false for one a resume from an earlier
    checkpoint left behind (abandoned: kept, never chosen as ``latest``)."""
    lines = run.episode_lines()
    rows = []
    for path in _listed_checkpoints(run):
        stat = path.stat()
        rows.append({"name": path.stem, "episode": run.checkpoint_episode(path),
                     "on_line": run.on_line(path, lines), "size_bytes": stat.st_size,
                     "modified": dt.datetime.fromtimestamp(stat.st_mtime)
                     .isoformat(timespec="seconds")})
    return rows


def _replay_rows(run: RunDirectory) -> list[dict]:
    """The replay buffers kept for an exact resume: the checkpoint each belongs to,
    its path inside the run, its size."""
    return [{"checkpoint": path.name[: -len(REPLAY_SUFFIX)],
             "path": str(path.relative_to(run.path)), "size_bytes": path.stat().st_size}
            for path in run.replay_files()]


def _evaluation_row(record: dict) -> dict:
    keys = ("checkpoint", "checkpoint_episode", "episodes", "mean", "median", "minimum",
            "maximum", "ci95", "seed", "evaluated_at", "reference", "normalised")
    row = {k: record.get(k) for k in keys}
    # Random play's mean on the same seeded games (absent from records before issue 27).
    row["random"] = (record.get("random") or {}).get("mean")
    return row


def _sweep_overview(path: Path) -> dict:
    summary = sweep_summary(path)
    return {"sweep_dir": summary["sweep_dir"], "name": path.name, "state": summary["state"],
            "jobs": len(summary["jobs"]), "counts": summary["counts"], "best": summary["best"]}


def _job_row(job_dir: Path, sweep_finished: bool) -> dict:
    run = RunDirectory(job_dir)
    result = run.read_result() or {}
    status = run.job_status()
    try:
        total = run.read_config()[1].training_episodes
    except RetroGamerError:
        total = None
    episodes = run.episode_lines()
    overrides = result.get("overrides")
    if not overrides:
        _, _, name = job_dir.name.partition("_")
        overrides = [item for item in name.split(",") if "=" in item]
    error = result.get("error")
    return {"job": job_dir.name.split("_", 1)[0], "run_dir": str(job_dir),
            "overrides": list(overrides), "status": status,
            "episodes_done": len(episodes), "episodes_total": total,
            "objective": result.get("objective"), "seconds": result.get("seconds"),
            "error": error.strip().splitlines()[0] if error and error.strip() else None}


def _expected_jobs(sweep: SweepDirectory) -> list[list[str]]:
    """Every job a basic-sweeper sweep will run, from the config Hydra saved at its start."""
    if not sweep.hydra_config_path.is_file():
        return []
    try:
        from omegaconf import OmegaConf

        from retro_gamer.hydra_conf import planned_jobs

        return planned_jobs(OmegaConf.load(sweep.hydra_config_path))
    except Exception:  # an unusual sweep: list the jobs that exist, nothing more
        return []


def _rank_key(job: dict) -> tuple:
    objective = job["objective"]
    has = objective is not None and math.isfinite(objective)
    number = int(job["job"]) if str(job["job"]).isdigit() else 1 << 30
    return (not has, -objective if has else 0.0, STATUS_ORDER.index(job["status"])
            if job["status"] in STATUS_ORDER else len(STATUS_ORDER), number)


# ------------------------------------------------------------------ drawing


def render(summary: dict, console: Console) -> None:
    """Draw what :func:`summarize_path` gathered."""
    if summary.get("kind") == "sweep":
        render_sweep(summary, console)
    elif summary.get("kind") == "checkpoint":
        render_checkpoint(summary, console)
    else:
        render_run(summary, console)


def _number(value, spec: str = "g") -> str:
    return "–" if value is None else format(value, spec)


def _size(n: int) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return str(n)


def render_run(summary: dict, console: Console) -> None:
    console.print(_game_panel(summary))
    console.print(_hyperparameter_table(summary))
    _print_episodes(summary, console)
    _print_checkpoints(summary, console)
    if summary.get("evaluations"):
        console.print(_evaluation_table(summary["evaluations"]))
        for ev in summary["evaluations"]:
            if ev.get("random") is not None:  # the yardstick, under the table that it fits
                console.print(f"{escape(str(ev['checkpoint']))}: random play on the same games "
                              + _yardstick(ev["random"], ev), highlight=False)
    if summary.get("sweeps"):
        console.print(_sweeps_table(summary["sweeps"]))
        console.print("Leaderboard of a sweep: retro-gamer info "
                      + escape(shell_path(summary["sweeps"][-1]["sweep_dir"])), highlight=False,
                      soft_wrap=True)


def _game_panel(summary: dict) -> Panel:
    game = summary["game"]
    size = game.get("board_size") or ["?", "?"]
    characters = (" ".join(game["character_set"]) if game.get("character_set") is not None
                  else "(discovered when training starts)")
    stats = summary.get("statistics", {})
    rows = [
        ("module", game["module"]),
        ("board", f"{size[0]} x {size[1]}"),
        ("actions", f"{', '.join(game['actions'])} + no-op "
                    f"({len(game['actions']) + 1} Q-values)"),
        ("reward", f"change of state['{game['reward']}'] each turn"),
        ("characters", characters),
        ("observe_state", ", ".join(game["observe_state"]) or "(none)"),
        ("network", summary["network"]),
        ("episodes", f"{summary['episodes_done']} of {summary['episodes_total']} trained"),
        ("folder", f"{_size(summary['folder_size_bytes'])} on disk"),
    ]
    if stats.get("episodes"):
        rows.append(("returns", f"best {stats['best_return']:g} (episode "
                                f"{stats['best_episode']}); mean of the last "
                                f"{stats['window']}: {stats['recent_mean_return']:g}"))
    best = next((e for e in reversed(summary.get("training_evaluations") or []) if e["best"]),
                None)
    if best is not None:
        rows.append(("best evaluation", f"mean {best['mean']:g} over {best['episodes']} games "
                                        f"after episode {best['episode']} (checkpoint best)"))
    result = summary.get("result") or {}
    if result.get("objective") is not None:
        of_best = (summary["hyperparameters"].get("objective_checkpoint") == "best"
                   and any(c["name"] == "best" for c in summary["checkpoints"]))
        rows.append(("objective", f"{result['objective']:g} (mean greedy return "
                                  f"{'of checkpoint best' if of_best else 'after training'})"))
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    for name, value in rows:
        grid.add_row(name, Text(str(value)))
    return Panel(grid, title=f"Run {escape(summary['run_dir'])}", title_align="left",
                 expand=False)


def _hyperparameter_table(summary: dict) -> Table:
    items = list(summary["hyperparameters"].items())
    changed = set(summary["non_default"])
    table = Table(title=f"Hyperparameters ({len(changed)} differ from the defaults: bold, "
                        "default in brackets)", title_justify="left", box=None,
                  padding=(0, 1))
    half = (len(items) + 1) // 2
    for _ in range(2):
        table.add_column("name", style="dim", no_wrap=True)
        table.add_column("value", no_wrap=True)
        table.add_column("", width=2)
    for i in range(half):
        cells: list = []
        for j in (i, i + half):
            if j < len(items):
                name, value = items[j]
                shown = "(none)" if value is None or value == "" else str(value)
                text = Text(shown, style="bold yellow" if name in changed else "")
                if name in changed:
                    text.append(f" [{summary['defaults'][name]}]", style="dim")
                cells += [name, text, ""]
        table.add_row(*cells)
    return table


def _print_episodes(summary: dict, console: Console) -> None:
    episodes = summary["recent_episodes"]
    if not episodes:
        console.print("No episodes trained yet. Start with: retro-gamer train "
                      + escape(shell_path(summary["run_dir"])), highlight=False, soft_wrap=True)
        return
    curve = summary["learning_curve"]
    chart = chart_text(curve["moving_average"], CHART_WIDTH, CHART_HEIGHT)
    axis = Text(f"episode {curve['first_episode']}".ljust(CHART_WIDTH // 2)
                + f"episode {curve['last_episode']}".rjust(CHART_WIDTH // 2), style="dim")
    pad = len(chart.plain.splitlines()[0]) - CHART_WIDTH
    axis = Text(" " * pad) + axis
    console.print(Panel(Group(chart, axis), title="Learning curve: mean return of the last "
                        f"{curve['window']} episodes", title_align="left", expand=False))
    table = Table(title=f"Recent episodes ({summary['episodes_done']} done)",
                  title_justify="left")
    for column in ("episode", "return", "steps", "epsilon", "avg_loss"):
        table.add_column(column, justify="right")
    for ep in episodes:
        table.add_row(str(ep["episode"]), f"{ep['total_reward']:g}", str(ep["steps"]),
                      f"{ep['epsilon']:.4f}", f"{ep['avg_loss']:.6f}")
    console.print(table)


def _print_checkpoints(summary: dict, console: Console) -> None:
    for odd in summary.get("not_files") or []:
        console.print(f"[yellow]warning:[/] {escape(odd['path'])} is {odd['is']}, not a "
                      "checkpoint file; every command ignores it. Remove it or replace it "
                      "with the file it should be.", highlight=False)
    if not summary["checkpoints"]:
        console.print("No checkpoints yet." if not summary.get("not_files")
                      else "No readable checkpoints.")
        return
    table = Table(title="Checkpoints", title_justify="left")
    table.add_column("name")
    table.add_column("episode", justify="right")
    table.add_column("size", justify="right")
    table.add_column("saved")
    for cp in summary["checkpoints"]:
        episode = str(cp["episode"]) if cp["episode"] is not None and cp["episode"] >= 0 \
            else "?"
        name = cp["name"] if cp.get("on_line", True) else f"{cp['name']} (abandoned)"
        table.add_row(name, episode, _size(cp["size_bytes"]), cp["modified"].replace("T", " "))
    console.print(table)
    for replay in summary.get("replay_buffers") or []:
        console.print(f"Replay buffer of {replay['checkpoint']} (for an exact resume): "
                      f"{escape(replay['path'])}, {_size(replay['size_bytes'])}", highlight=False)
    if not all(cp.get("on_line", True) for cp in summary["checkpoints"]):
        console.print("Abandoned: left behind when training resumed from an earlier "
                      "checkpoint; kept, but never chosen by --resume latest.")


def _evaluation_table(evaluations: list[dict]) -> Table:
    table = Table(title="Evaluations (retro-gamer eval: greedy policy)", title_justify="left")
    for column in ("checkpoint", "games", "mean", "±95% CI", "median", "min", "max"):
        table.add_column(column, justify="left" if column == "checkpoint" else "right")
    table.add_column("when", no_wrap=True)
    for ev in evaluations:
        table.add_row(str(ev["checkpoint"]), _number(ev["episodes"]), _number(ev["mean"]),
                      _number(ev["ci95"], ".4g"), _number(ev["median"]),
                      _number(ev["minimum"]),
                      _number(ev["maximum"]),
                      str(ev.get("evaluated_at") or "").replace("T", " ")[:16])
    return table


def _status_counts(counts: dict) -> Text:
    text = Text()
    for status in STATUS_ORDER:
        if counts.get(status):
            if text:
                text.append(", ")
            text.append(f"{counts[status]} {status}", style=STATUS_STYLE[status])
    return text


def _sweeps_table(sweeps: list[dict]) -> Table:
    table = Table(title="Sweeps of this run", title_justify="left")
    table.add_column("sweep", no_wrap=True)
    table.add_column("state")
    table.add_column("jobs")
    table.add_column("best objective", justify="right")
    table.add_column("best job")
    for sweep in sweeps:
        best = sweep["best"] or {}
        table.add_row(escape(sweep["name"]), str(sweep["state"] or "?"),
                      _status_counts(sweep["counts"]), _number(best.get("objective")),
                      escape("\n".join(best.get("overrides") or [])))
    return table


def render_sweep(summary: dict, console: Console) -> None:
    counts = summary["counts"]
    header = Text(f"{counted(len(summary['jobs']), 'job')}: ") + _status_counts(counts)
    if summary.get("command"):
        header.append("\ncommand: " + " ".join(summary["command"]), style="dim")
    shared = shared_overrides(summary["jobs"])
    if shared:
        header.append("\nevery job: " + " ".join(shared), style="dim")
    header.append(f"\nobjective: {summary['objective']}", style="dim")
    study = summary.get("study")
    if study:  # an Optuna search: its trials' states, from the study itself
        trials = ", ".join(f"{n} {state}" for state, n in sorted(study["trials"].items()))
        header.append(f"\nOptuna study '{study['study_name']}': {trials}")
        if study["best"]:
            best = study["best"]
            params = " ".join(shown(f"{k}={v}") for k, v in best["params"].items())
            header.append(f"; best trial {best['trial']}: {_number(best['value'])} "
                          f"with {params}")
        header.append(f"\ndashboard: optuna-dashboard {shell_path(study['storage'])}",
                          style="dim")
    console.print(Panel(header, title=f"Sweep {escape(summary['sweep_dir'])}",
                        title_align="left", expand=False))
    table = Table(title="Leaderboard (best first)", title_justify="left")
    for column, justify in (("rank", "right"), ("job", "right"), ("overrides", "left"),
                            ("status", "left"), ("episodes", "right"),
                            ("objective", "right"), ("seconds", "right")):
        if column == "overrides":
            # The one column that gives way on a narrow terminal (or a pipe's 80
            # columns): its values fold; the objective is never the column that goes.
            table.add_column(column, overflow="fold")
        else:
            table.add_column(column, justify=justify, no_wrap=True)
    notes = []
    for job in summary["jobs"]:
        total = job["episodes_total"]
        episodes = f"{job['episodes_done']}/{total}" if total else str(job["episodes_done"])
        own = [shown(o) for o in job["overrides"] if o not in shared]
        table.add_row(str(job["rank"]), escape(str(job["job"])),
                      escape("\n".join(own) or "(none)"),
                      Text(job["status"], style=STATUS_STYLE.get(job["status"], "")),
                      episodes, _number(job["objective"]), _number(job["seconds"], ".1f"))
        if job["error"]:
            notes.append(Text.assemble(f"job {job['job']} ", (job["status"], STATUS_STYLE.get(
                job["status"], "")), f": {job['error']}"))
    console.print(table)
    if summary.get("configurations"):
        console.print(_seeds_table(summary["configurations"]))
    for note in notes:  # whole, below the table: a reason is never cut to fit a column
        console.print(note, highlight=False)


def _seeds_table(configurations: list[dict]) -> Table:
    table = Table(title="Across seeds (best mean first)", title_justify="left")
    table.add_column("rank", justify="right", no_wrap=True)
    table.add_column("configuration", overflow="fold")
    table.add_column("seeds", justify="right", no_wrap=True)
    table.add_column("mean ± 95%", justify="right", no_wrap=True)
    table.add_column("per seed", overflow="fold")
    for rank, group in enumerate(configurations, 1):
        mean = "–" if group["mean"] is None else f"{group['mean']:.4g}"
        if group["ci95"] is not None:
            mean += f" ± {group['ci95']:.2g}"
        per_seed = "\n".join(f"{'base' if s['seed'] is None else s['seed']}: "
                             f"{_number(s['objective'])}" for s in group["seeds"])
        table.add_row(str(rank), escape("\n".join(shown(o) for o in group["overrides"])
                                        or "(none)"),
                      f"{group['n']}/{len(group['seeds'])}", mean, escape(per_seed))
    return table


def shared_overrides(jobs: list[dict]) -> list[str]:
    """Overrides every job of a sweep has (shown once, above the leaderboard)."""
    lists = [job["overrides"] for job in jobs]
    if len(lists) < 2:
        return []
    return [o for o in lists[0] if all(o in other for other in lists[1:])]


def render_checkpoint(summary: dict, console: Console) -> None:
    """What ``info --checkpoint NAME`` prints."""
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    rows = [("file", summary["path"]),
            ("saved after episode", _number(summary["episode"])),
            ("env steps", _number(summary["env_steps"], ",")),
            ("training steps", _number(summary["train_steps"], ",")),
            ("epsilon", _number(summary["epsilon"], ".4f")),
            ("learning rate", _number(summary["learning_rate"], ".3g")),
            ("seed", str(summary["seed"])),
            ("size", _size(summary["size_bytes"])),
            ("saved", summary["modified"].replace("T", " "))]
    during = summary.get("evaluation_during_training")
    if during:
        rows.append(("evaluation during training",
                     f"mean {during['mean']:g}, median {during['median']:g}, max "
                     f"{during['maximum']:g} ({during['episodes']} greedy games, seed "
                     f"{during['seed']})"))
    kept = summary.get("evaluation")
    if kept:
        rows.append(("retro-gamer eval", f"mean {_number(kept['mean'])} ± "
                                         f"{_number(kept['ci95'], '.4g')}, median "
                                         f"{_number(kept['median'])}, max "
                                         f"{_number(kept['maximum'])} ({kept['episodes']} "
                                         f"games, seed {kept['seed']})"))
        if kept.get("random") is not None:
            rows.append(("random play, same games", _yardstick(kept["random"], kept)))
    for name, value in rows:
        grid.add_row(name, Text(str(value)))
    console.print(Panel(grid, title=f"Checkpoint {escape(summary['checkpoint'])} of "
                        f"{escape(summary['run_dir'])}", title_align="left", expand=False))


def _yardstick(random_mean: float, record: dict) -> str:
    text = f"mean {_number(random_mean)}"
    if record.get("reference") is not None:
        text += (f"; reference player {_number(record['reference'])}, normalised "
                 f"{_number(record.get('normalised'), '.2f')} (0 random, 1 reference)")
    return text


def _random_rows(record: dict) -> list[tuple[str, str]]:
    """The yardstick under the agent's figures: random play on the same seeded games."""
    random_play = record.get("random")
    if not random_play:
        return []
    ci = random_play["ci95"]
    rows = [("random play, same games", f"mean {_number(random_play['mean'])}"
             + ("" if ci is None else f" ± {ci:.4g}"))]
    if record.get("reference") is not None:
        rows += [("reference player", _number(record["reference"])),
                 ("normalised score", f"{_number(record.get('normalised'), '.2f')} "
                                      "(0 random play, 1 the reference)")]
    return rows


def render_evaluation(record: dict, console: Console) -> None:
    """What ``retro-gamer eval`` prints: the score's statistics over the games played."""
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column(justify="right")
    ci = record["ci95"]
    rows = [
        ("games", f"{record['episodes']}"),
        ("mean", _number(record["mean"])),
        ("95% CI of the mean", "n/a (one game)" if ci is None else
         f"{record['ci95_low']:.4g} to {record['ci95_high']:.4g} (± {ci:.4g})"),
        ("median", _number(record["median"])),
        ("min", _number(record["minimum"])),
        ("max", _number(record["maximum"])),
        ("std. deviation", _number(record["stdev"], ".4g")),
        ("turns per game", _number(sum(record["turns"]) / max(1, len(record["turns"])),
                                   ".1f")),
        *_random_rows(record),
        ("seed", str(record["seed"])),
        ("time", f"{record['seconds']:.1f} s ({_number(record['turns_per_second'], ',.0f')} "
                 "turns/s)"),
    ]
    for name, value in rows:
        grid.add_row(name, value)
    title = (f"Greedy score of {escape(record['checkpoint'])} (episode "
             f"{record['checkpoint_episode']})")
    console.print(Panel(grid, title=title, title_align="left", expand=False))
    if record.get("path"):
        console.print(f"Saved to {escape(record['path'])}", highlight=False,
                      soft_wrap=True)


__all__ = ["summarize_path", "run_summary", "sweep_summary", "checkpoint_summary", "render",
           "render_checkpoint", "render_run",
           "render_sweep", "render_evaluation", "shared_overrides"]
