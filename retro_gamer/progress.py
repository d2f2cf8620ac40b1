"""Progress of long-running work: rich live displays in a terminal, plain lines elsewhere.

:class:`TrainingProgress` is the trainer's ``on_episode`` callback. In a
terminal it draws a progress bar with ETA, the recent statistics and a small
learning curve (braille dots, updated in place); when the output is not a
terminal (CI, a Slurm job, a sweep worker) it prints one plain line every few
seconds instead, each line starting with the job's label, written in one
``write`` so that parallel jobs sharing a log never interleave mid-line.

:class:`TaskProgress` is the same idea for a counted task (evaluation
episodes, recorded games). The text charts (:func:`sparkline`,
:func:`braille_chart`, :func:`chart_text`) are shared with ``retro-gamer info``.
"""

from __future__ import annotations

import math
import sys
import time
from collections import deque
from collections.abc import Iterable, Sequence

from rich.console import Console, Group
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from retro_gamer.trainer import EpisodeStats

SPARK_LEVELS = "▁▂▃▄▅▆▇█"
BRAILLE_BASE = 0x2800
# Bit of each dot in a braille cell, by [row][column] (rows top to bottom).
BRAILLE_DOTS = ((0x01, 0x08), (0x02, 0x10), (0x04, 0x20), (0x40, 0x80))


# ------------------------------------------------------------------ text charts


def moving_average(values: Sequence[float], window: int) -> list[float]:
    """Mean of each value and up to ``window - 1`` values before it (same length as input)."""
    out, total = [], 0.0
    for i, value in enumerate(values):
        total += value
        if i >= window:
            total -= values[i - window]
        out.append(total / min(i + 1, window))
    return out


def resample(values: Sequence[float], points: int) -> list[float]:
    """At most ``points`` values: bucket means when there are more, else the values."""
    n = len(values)
    if n <= points:
        return [float(v) for v in values]
    out = []
    for i in range(points):
        bucket = values[i * n // points:(i + 1) * n // points]
        out.append(sum(bucket) / len(bucket))
    return out


def sparkline(values: Sequence[float], width: int = 40) -> str:
    """One line of block characters, lowest value ``▁``, highest ``█``."""
    data = resample([v for v in values if math.isfinite(v)], width)
    if not data:
        return ""
    lo, hi = min(data), max(data)
    span = hi - lo
    top = len(SPARK_LEVELS) - 1
    return "".join(SPARK_LEVELS[0 if span == 0 else round((v - lo) / span * top)]
                   for v in data)


def _dot_rows(values: Sequence[float], lo: float, hi: float, dots_high: int) -> list[int]:
    """Dot row (0 = bottom) of each value; a flat series is drawn across the middle."""
    span = hi - lo
    if span == 0:
        return [dots_high // 2] * len(values)
    return [min(dots_high - 1, max(0, round((v - lo) / span * (dots_high - 1))))
            for v in values]


def braille_masks(values: Sequence[float], width: int, height: int, lo: float, hi: float
                  ) -> list[list[int]]:
    """Braille dot bits (``height`` rows of ``width`` cells) of a line through ``values``.

    Each cell holds 2 x 4 dots; consecutive points are joined by a vertical run so
    the line has no gaps.
    """
    masks = [[0] * width for _ in range(height)]
    data = resample(values, 2 * width)
    ys = _dot_rows(data, lo, hi, 4 * height)
    previous = None
    for x, y in enumerate(ys):
        low, high = (y, y) if previous is None else (min(y, previous), max(y, previous))
        for dot in range(low, high + 1):
            row_from_top = 4 * height - 1 - dot
            masks[row_from_top // 4][x // 2] |= BRAILLE_DOTS[row_from_top % 4][x % 2]
        previous = y
    return masks


def braille_chart(values: Sequence[float], width: int = 40, height: int = 4) -> list[str]:
    """``height`` lines of ``width`` braille characters drawing ``values`` as a line."""
    data = [v for v in values if math.isfinite(v)]
    if not data:
        return [" " * width] * height
    masks = braille_masks(data, width, height, min(data), max(data))
    return ["".join(chr(BRAILLE_BASE + bits) if bits else " " for bits in row)
            for row in masks]


def chart_text(values: Sequence[float], width: int = 40, height: int = 4,
               average: Sequence[float] | None = None) -> Text:
    """A braille line chart with its range on the left; ``average`` drawn bold over it."""
    data = [float(v) for v in values if math.isfinite(v)]
    text = Text()
    if not data:
        return text.append("(no data yet)", style="dim")
    lo, hi = min(data), max(data)
    raw = braille_masks(data, width, height, lo, hi)
    smooth = (braille_masks([float(v) for v in average], width, height, lo, hi)
              if average else [[0] * width for _ in range(height)])
    if hi == lo:  # one label, beside the flat line
        labels = {height - 1 - (4 * height // 2) // 4: f"{hi:.4g}"}
    else:
        labels = {0: f"{hi:.4g}", height - 1: f"{lo:.4g}"}
    label_width = max(len(s) for s in labels.values())
    for row in range(height):
        label = labels.get(row, "")
        text.append(label.rjust(label_width) + " ┤", style="dim")
        for cell in range(width):
            bits = raw[row][cell] | smooth[row][cell]
            style = "bold cyan" if smooth[row][cell] else "blue"
            text.append(chr(BRAILLE_BASE + bits) if bits else " ", style=style if bits else None)
        if row < height - 1:
            text.append("\n")
    return text


# ------------------------------------------------------------------ training


def _format_eta(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "?"
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class _Dashboard(Progress):
    """A rich Progress whose live display also holds the statistics and the curve."""

    def __init__(self, owner: TrainingProgress, *columns, **kwargs):
        self.owner = owner  # before Progress starts asking for renderables
        super().__init__(*columns, **kwargs)

    def get_renderables(self) -> Iterable:
        yield Group(self.make_tasks_table(self.tasks), *self.owner.panel())


class TrainingProgress:
    """An ``on_episode`` callback that shows how training goes.

    In a terminal: a progress bar with ETA, the recent mean return, best return,
    epsilon, learning rate, loss, env steps per second and a learning curve of
    the last ``chart_episodes`` returns. Otherwise (CI, a Slurm job, a sweep
    worker): one plain line every ``every_seconds``, prefixed by ``label``.
    """

    def __init__(self, console: Console | None = None, window: int = 20,
                 every_seconds: float = 10.0, label: str = "training",
                 chart_episodes: int = 200, chart_height: int = 3):
        self.console = console or Console(stderr=True)
        self.window = window
        self.recent: deque[float] = deque(maxlen=window)
        self.returns: deque[float] = deque(maxlen=chart_episodes)
        self.best = float("-inf")
        self.every_seconds = every_seconds
        self.label = label
        self.chart_height = chart_height
        self.last: EpisodeStats | None = None
        self._last_line = 0.0
        self._started_at: tuple[float, int] | None = None  # (monotonic time, episode)
        self._progress: _Dashboard | None = None
        self._task = None

    def __enter__(self) -> TrainingProgress:
        if self.console.is_terminal:
            self._progress = _Dashboard(
                self,
                TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                TextColumn("episodes"), TimeElapsedColumn(), TextColumn("ETA"),
                TimeRemainingColumn(), console=self.console, transient=False,
                refresh_per_second=4)
            self._progress.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        if self._progress is not None:
            self._progress.__exit__(*exc)

    # -- numbers ------------------------------------------------------------

    @property
    def mean(self) -> float:
        return sum(self.recent) / len(self.recent) if self.recent else math.nan

    def steps_per_second(self, stats: EpisodeStats) -> float:
        return stats.env_steps / max(stats.elapsed, 1e-9)

    def eta_seconds(self, stats: EpisodeStats) -> float:
        """Seconds left at the pace of the episodes this process has trained."""
        if self._started_at is None:
            return math.nan
        start, first = self._started_at
        done = stats.episode - first
        if done <= 0:
            return math.nan
        return (time.monotonic() - start) / done * (stats.total_episodes - stats.episode)

    def stats_text(self, stats: EpisodeStats) -> str:
        return (f"return {stats.total_reward:g} mean({len(self.recent)}) {self.mean:.1f} "
                f"best {self.best:g} eps {stats.epsilon:.3f} lr {stats.learning_rate:.2e} "
                f"loss {stats.avg_loss:.4f} {self.steps_per_second(stats):.0f} steps/s")

    # -- the live panel -------------------------------------------------------

    def panel(self) -> list:
        stats = self.last
        if stats is None:
            return [Text("waiting for the first episode...", style="dim")]
        grid = Table.grid(padding=(0, 2))
        for _ in range(8):
            grid.add_column(justify="right")
        grid.add_row(*(Text(name, style="dim") for name in (
            "return", f"mean of {len(self.recent)}", "best", "epsilon", "learning rate",
            "loss", "steps/s", "env steps")))
        grid.add_row(f"{stats.total_reward:g}", f"{self.mean:.2f}", f"{self.best:g}",
                     f"{stats.epsilon:.3f}", f"{stats.learning_rate:.2e}",
                     f"{stats.avg_loss:.4f}", f"{self.steps_per_second(stats):,.0f}",
                     f"{stats.env_steps:,}")
        width = max(10, min(60, self.console.width - 14))
        returns = list(self.returns)
        title = Text(f"returns of the last {len(returns)} episodes "
                     f"(bold: mean of {self.window})", style="dim")
        chart = chart_text(returns, width, self.chart_height,
                           moving_average(returns, self.window))
        return [grid, title, chart]

    def note(self, text: str) -> None:
        """One line of information (the network's size) above the live display."""
        if self._progress is not None:
            self.console.print(text, highlight=False, soft_wrap=True)
        else:
            _write_line(f"{self.label}: {text}")

    # -- the callback ---------------------------------------------------------

    def __call__(self, stats: EpisodeStats) -> None:
        if self._started_at is None:
            self._started_at = (time.monotonic(), stats.episode - 1)
        self.last = stats
        self.recent.append(stats.total_reward)
        self.returns.append(stats.total_reward)
        self.best = max(self.best, stats.total_reward)
        if self._progress is not None:
            if self._task is None:
                self._task = self._progress.add_task(
                    self.label, total=stats.total_episodes, completed=stats.episode - 1)
            self._progress.update(self._task, completed=stats.episode)
            return
        now = time.monotonic()
        if now - self._last_line >= self.every_seconds or stats.episode == stats.total_episodes:
            self._last_line = now
            line = (f"{self.label}: episode {stats.episode}/{stats.total_episodes} "
                    f"{self.stats_text(stats)} ETA {_format_eta(self.eta_seconds(stats))}")
            _write_line(line)


def _write_line(line: str) -> None:
    """One line to stderr in a single write, so parallel jobs' lines never interleave."""
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


# ------------------------------------------------------------------ counted tasks


class TaskProgress:
    """Progress of ``total`` steps (episodes evaluated, games recorded).

    A transient rich bar in a terminal; plain ``label: done/total`` lines every
    ``every_seconds`` elsewhere. Use as a context manager and call
    :meth:`advance` after each step, optionally with a short status text.
    """

    def __init__(self, label: str, total: int, console: Console | None = None,
                 every_seconds: float = 10.0):
        self.label, self.total = label, total
        self.console = console or Console(stderr=True)
        self.every_seconds = every_seconds
        self.done = 0
        self._progress: Progress | None = None
        self._task = None
        self._last_line = time.monotonic()

    def __enter__(self) -> TaskProgress:
        if self.console.is_terminal:
            self._progress = Progress(
                TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
                TextColumn("{task.fields[status]}"), console=self.console, transient=True)
            self._progress.__enter__()
            self._task = self._progress.add_task(self.label, total=self.total, status="")
        return self

    def __exit__(self, *exc) -> None:
        if self._progress is not None:
            self._progress.__exit__(*exc)

    def advance(self, status: str = "") -> None:
        self.done += 1
        if self._progress is not None:
            self._progress.update(self._task, completed=self.done, status=status)
            return
        now = time.monotonic()
        if now - self._last_line >= self.every_seconds or self.done == self.total:
            self._last_line = now
            _write_line(f"{self.label}: {self.done}/{self.total} {status}".rstrip())


__all__ = ["TrainingProgress", "TaskProgress", "sparkline", "braille_chart", "chart_text",
           "moving_average", "resample"]
