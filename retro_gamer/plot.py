"""``retro-gamer plot``: training curves as a PNG, drawn by matplotlib without a display.

A run gives four panels (return per episode with its moving average, turns per
episode, loss, epsilon); a sweep gives one chart comparing every job's moving
average return, beside a bar chart of the jobs' objectives. Figures are built
with matplotlib's object API and the Agg canvas, never ``pyplot``, so no GUI
backend is touched and nothing global changes.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

from retro_gamer.errors import ConfigError, RunDirectoryError
from retro_gamer.progress import counted, moving_average
from retro_gamer.run_dir import (
    CONFIG_NAME,
    RunDirectory,
    atomic_write,
    is_sweep_directory,
    shell_path,
)

DPI = 100
RUN_SIZE = (11.0, 7.5)  # inches: 1100 x 750 pixels
SWEEP_SIZE = (12.0, 6.0)  # 1200 x 600 pixels


def default_window(n: int) -> int:
    """A moving-average window that smooths without hiding the trend: ~5% of the run."""
    return max(1, min(100, n // 20 or 1))


def plot(path: str | os.PathLike, output: str | os.PathLike | None = None,
         window: int | None = None) -> Path:
    """Plot a run directory or a sweep folder; returns the PNG's path."""
    folder = Path(path)
    if (folder / CONFIG_NAME).is_file():
        return plot_run(folder, output, window)
    if is_sweep_directory(folder):
        return plot_sweep(folder, output, window)
    raise RunDirectoryError(
        f"{folder} is neither a run directory (no {CONFIG_NAME}) nor a sweep folder (no "
        "sweep.json). Give a folder made by 'retro-gamer create', or RUN_DIR/sweeps/<time>/.")


def plot_run(run_dir: str | os.PathLike, output: str | os.PathLike | None = None,
             window: int | None = None) -> Path:
    """Return, turns, loss and epsilon per episode; written to ``output`` (default
    ``RUN_DIR/curve.png``)."""
    run = RunDirectory(run_dir)
    metadata, _ = run.read_config()
    episodes = run.episodes()
    if not episodes:
        raise RunDirectoryError(f"{run.path} has no episodes to plot yet. Train it first: "
                                f"retro-gamer train {shell_path(run.path)}")
    window = window or default_window(len(episodes))
    x = [ep["episode"] for ep in episodes]
    figure, axes = _figure(RUN_SIZE, 2, 2)
    figure.suptitle(f"{run.path.name}: {metadata.module}", fontsize=13)
    panels = [
        (axes[0][0], "total_reward", "return per episode", "tab:blue"),
        (axes[0][1], "steps", "turns per episode", "tab:green"),
        (axes[1][0], "avg_loss", "mean training loss", "tab:red"),
        (axes[1][1], "epsilon", "epsilon (exploration rate)", "tab:purple"),
    ]
    for ax, key, title, color in panels:
        xs, y = x, [ep[key] for ep in episodes]
        if key == "avg_loss":  # episodes before the first training step have no loss
            first = next((i for i, v in enumerate(y) if v > 0), len(y))
            xs, y = x[first:], y[first:]
        smoothed = key in ("total_reward", "steps", "avg_loss")
        ax.plot(xs, y, color=color, alpha=0.3 if smoothed else 1.0, linewidth=1,
                label="per episode")
        if smoothed and window > 1 and len(y) > 1:
            ax.plot(xs, moving_average(y, window), color=color, linewidth=2,
                    label=f"moving average of {window}")
            ax.legend(loc="best", fontsize=8)
        if key == "avg_loss" and y and min(y) > 0 and max(y) / min(y) > 100:
            ax.set_yscale("log")
        ax.set_title(title, fontsize=11)
        _episode_axis(ax)
    return _save(figure, Path(output) if output else run.plot_path())


def plot_sweep(sweep_dir: str | os.PathLike, output: str | os.PathLike | None = None,
               window: int | None = None) -> Path:
    """Every job's moving-average return on one chart, and the objectives side by side;
    written to ``output`` (default ``SWEEP_DIR/comparison.png``)."""
    from retro_gamer.report import shared_overrides, sweep_summary
    from retro_gamer.run_dir import SweepDirectory

    summary = sweep_summary(sweep_dir)
    shared = shared_overrides(summary["jobs"])
    jobs = [job for job in summary["jobs"] if job["run_dir"]]
    curves = []
    for job in sorted(jobs, key=lambda j: int(j["job"]) if j["job"].isdigit() else 0):
        episodes = RunDirectory(job["run_dir"]).episodes()
        if episodes:
            curves.append((job, episodes))
    if not curves:
        raise RunDirectoryError(f"No job of the sweep {sweep_dir} has trained an episode yet.")
    figure, axes = _figure(SWEEP_SIZE, 1, 2, width_ratios=(2, 1))
    curve_ax, bar_ax = axes[0]
    longest = max(len(episodes) for _, episodes in curves)
    window = window or max(1, min(100, longest // 10))  # comparing trends: smooth more
    colors: dict[str, str] = {}
    for job, episodes in curves:
        y = moving_average([ep["total_reward"] for ep in episodes], window)
        (line,) = curve_ax.plot([ep["episode"] for ep in episodes], y, linewidth=1.8,
                                label=_label(job, shared))
        colors[job["job"]] = line.get_color()
    curve_ax.set_title(f"return per episode (moving average of {window})", fontsize=11)
    _episode_axis(curve_ax)
    curve_ax.legend(loc="best", fontsize=8)

    scored = [job for job in summary["jobs"] if job["objective"] is not None]
    if scored:
        labels = [f"job {job['job']}" for job in reversed(scored)]
        values = [job["objective"] for job in reversed(scored)]
        bars = bar_ax.barh(range(len(values)), values,
                           color=[colors.get(job["job"], "tab:gray") for job in reversed(scored)])
        bars[-1].set_edgecolor("black")  # the best job (sorted best first)
        bars[-1].set_linewidth(2.5)
        bar_ax.bar_label(bars, labels=[f"{v:g}" for v in values], label_type="center",
                         color="white", fontsize=9)
        bar_ax.set_yticks(range(len(values)), labels, fontsize=9)
        bar_ax.axvline(0, color="black", linewidth=0.8)
        bar_ax.set_title("objective: mean greedy return (best outlined)", fontsize=11)
        bar_ax.grid(True, axis="x", alpha=0.3)
    else:
        bar_ax.text(0.5, 0.5, "no job has finished yet", ha="center", va="center")
        bar_ax.set_axis_off()
    title = f"sweep {Path(summary['sweep_dir']).name}: {counted(len(summary['jobs']), 'job')}"
    if shared:
        title += " (every job: " + " ".join(shared) + ")"
    figure.suptitle(title, fontsize=13)
    default = SweepDirectory(sweep_dir).comparison_plot_path()
    return _save(figure, Path(output) if output else default)


def _episode_axis(ax) -> None:
    from matplotlib.ticker import MaxNLocator

    ax.set_xlabel("episode")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(True, alpha=0.3)


def _label(job: dict, shared: list[str]) -> str:
    own = [o for o in job["overrides"] if o not in shared]
    return f"job {job['job']}: " + (" ".join(own) or "(no overrides)")


def _figure(size: tuple[float, float], rows: int, cols: int, **grid):
    from matplotlib.figure import Figure

    figure = Figure(figsize=size, dpi=DPI, layout="constrained")
    axes = figure.subplots(rows, cols, squeeze=False, gridspec_kw=grid or None)
    return figure, axes


def _save(figure, output: Path) -> Path:
    if output.suffix.lower() != ".png":
        raise ConfigError(f"The plot is written as PNG: give a file name ending in .png, "
                          f"not {output.name}.")
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI)  # a bare Figure draws on the Agg canvas
    atomic_write(output, buffer.getvalue())
    return output


__all__ = ["plot", "plot_run", "plot_sweep"]
