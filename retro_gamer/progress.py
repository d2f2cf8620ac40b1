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

from retro_gamer.training_stats import EpisodeStats, TurnStats

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


def counted(n: float, noun: str) -> str:
    """``1 episode``, ``2 episodes``: a count with its noun in the right number."""
    return f"{n:g} {noun}" if n == 1 else f"{n:g} {noun}s"


# ------------------------------------------------------------------ training


def _format_eta(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "-:--:--"  # rich's own mark for a time not known yet
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def watched(console: Console) -> bool:
    """Whether a person watches ``console`` in a terminal, so a live display suits it.

    Colour variables (FORCE_COLOR, as CI services set) make rich treat any output as a
    terminal; a redrawn display written to a log file is hundreds of frames of noise,
    so the stream itself must be a terminal too.
    """
    isatty = getattr(console.file, "isatty", None)
    try:
        return bool(console.is_terminal and isatty and isatty())
    except ValueError:  # a closed stream
        return False


# ETA and rate: measured only once the agent learns (before, the turns are cheap and
# say nothing of the pace to come), and from at least this many episodes.
ETA_MIN_EPISODES = 3
RATE_MIN_SECONDS = 2.0
# Episodes the ETA's trend (how much longer each episode gets) is fitted over.
ETA_TREND_EPISODES = 200
# How often the live display's ETA follows an episode in progress.
LIVE_ETA_SECONDS = 1.0


class Pace:
    """How fast training goes, and how long the rest will take.

    Episodes usually grow longer as the agent improves (a snake that eats more
    lives longer), so a constant pace underestimates the time left. The ETA fits
    a straight line to the durations of the episodes trained since learning
    started (never a falling one: an estimate that errs late is the kinder one),
    and sums it over the episodes still to come.
    """

    def __init__(self):
        self.durations: deque[tuple[int, float]] = deque(maxlen=ETA_TREND_EPISODES)
        self.learning_since: tuple[float, int] | None = None  # (elapsed, env steps)
        self.last_end = 0.0  # elapsed seconds when the last episode ended

    def episode_done(self, stats: EpisodeStats) -> None:
        if self.learning_since is not None:
            self.durations.append((stats.episode, stats.elapsed - self.last_end))
        elif stats.train_steps > 0:
            self.learning_since = (stats.elapsed, stats.env_steps)
        self.last_end = stats.elapsed

    def steps_per_second(self, elapsed: float, env_steps: int) -> float:
        """Env steps per second since learning started; NaN until that means something."""
        if self.learning_since is None or elapsed - self.learning_since[0] < RATE_MIN_SECONDS:
            return math.nan
        return (env_steps - self.learning_since[1]) / (elapsed - self.learning_since[0])

    def episode_seconds(self, episode: float) -> float:
        """The expected duration of ``episode``: the recent level plus the trend."""
        points = list(self.durations)
        recent = points[-20:]
        level = sum(d for _, d in recent) / len(recent)
        centre = sum(e for e, _ in recent) / len(recent)
        mean_e = sum(e for e, _ in points) / len(points)
        mean_d = sum(d for _, d in points) / len(points)
        spread = sum((e - mean_e) ** 2 for e, _ in points)
        slope = sum((e - mean_e) * (d - mean_d) for e, d in points) / spread if spread else 0.0
        return level + max(slope, 0.0) * (episode - centre)

    def eta_seconds(self, episode: int, total: int, elapsed: float) -> float:
        """Seconds left after episode ``episode`` of ``total`` (NaN until known).

        ``elapsed`` may fall inside episode ``episode + 1``; its time so far counts.
        """
        if len(self.durations) < ETA_MIN_EPISODES:
            return math.nan
        left = total - episode
        if left <= 0:
            return 0.0
        mid = (episode + 1 + total) / 2
        remaining = left * self.episode_seconds(mid)
        return max(remaining - (elapsed - self.last_end), 0.0)


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
    :meth:`on_turn` (the trainer's ``on_turn`` callback) keeps both going during
    a long episode: the turn it has reached.
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
        self.turn: TurnStats | None = None  # the episode in progress, if it is a long one
        self.pace = Pace()
        self._last_line = -math.inf  # the first episode gets a line at once
        self._last_eta = -math.inf
        self._progress: _Dashboard | None = None
        self._task = None

    def __enter__(self) -> TrainingProgress:
        if watched(self.console):
            self._progress = _Dashboard(
                self,
                TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                TextColumn("episodes"), TimeElapsedColumn(), TextColumn("ETA {task.fields[eta]}"),
                console=self.console, transient=False, refresh_per_second=4)
            self._progress.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        if self._progress is not None:
            self._progress.__exit__(*exc)

    # -- numbers ------------------------------------------------------------

    @property
    def mean(self) -> float:
        return sum(self.recent) / len(self.recent) if self.recent else math.nan

    def steps_per_second(self, stats: EpisodeStats | TurnStats) -> float:
        """Env steps per second since learning started; NaN before that means anything."""
        return self.pace.steps_per_second(stats.elapsed, stats.env_steps)

    def eta_seconds(self, stats: EpisodeStats | TurnStats) -> float:
        """Seconds left, allowing for episodes that grow longer (NaN until known)."""
        done = stats.episode if isinstance(stats, EpisodeStats) else stats.episode - 1
        return self.pace.eta_seconds(done, stats.total_episodes, stats.elapsed)

    def rate_text(self, stats: EpisodeStats | TurnStats) -> str:
        rate = self.steps_per_second(stats)
        return f"{rate:,.0f}" if math.isfinite(rate) else "-"

    def stats_text(self, stats: EpisodeStats) -> str:
        return (f"return {stats.total_reward:g} mean({len(self.recent)}) {self.mean:.1f} "
                f"best {self.best:g} eps {stats.epsilon:.3f} lr {stats.learning_rate:.2e} "
                f"loss {stats.avg_loss:.4f} {self.rate_text(stats)} steps/s")

    def turn_text(self, turn: TurnStats) -> str:
        return f"episode {turn.episode}/{turn.total_episodes} in progress: turn {turn.turn:,}"

    # -- the live panel -------------------------------------------------------

    def panel(self) -> list:
        stats, turn = self.last, self.turn
        current = [Text(self.turn_text(turn), style="dim")] if turn is not None else []
        if stats is None:
            return current or [Text("waiting for the first episode...", style="dim")]
        grid = Table.grid(padding=(0, 2))
        for _ in range(8):
            grid.add_column(justify="right")
        grid.add_row(*(Text(name, style="dim") for name in (
            "return", f"mean of {len(self.recent)}", "best", "epsilon", "learning rate",
            "loss", "steps/s", "env steps")))
        grid.add_row(f"{stats.total_reward:g}", f"{self.mean:.2f}", f"{self.best:g}",
                     f"{stats.epsilon:.3f}", f"{stats.learning_rate:.2e}",
                     f"{stats.avg_loss:.4f}", self.rate_text(stats),
                     f"{stats.env_steps:,}")
        width = max(10, min(60, self.console.width - 14))
        returns = list(self.returns)
        title = Text(f"returns of the last {counted(len(returns), 'episode')} "
                     f"(bold: mean of {min(self.window, len(returns))})", style="dim")
        chart = chart_text(returns, width, self.chart_height,
                           moving_average(returns, self.window))
        return [grid, title, chart, *current]

    def note(self, text: str) -> None:
        """One line of information (the network's size) above the live display."""
        if self._progress is not None:
            self.console.print(text, highlight=False, soft_wrap=True)
        else:
            _write_line(f"{self.label}: {text}")

    def earlier(self, returns: Sequence[float]) -> None:
        """The returns of the episodes before this process's first (a resumed run's, from
        its log), so the mean, the best and the chart cover the whole run."""
        self.recent.extend(returns)
        self.returns.extend(returns)
        self.best = max([self.best, *returns])

    # -- the callback ---------------------------------------------------------

    def __call__(self, stats: EpisodeStats) -> None:
        self.last, self.turn = stats, None
        self.pace.episode_done(stats)
        self.recent.append(stats.total_reward)
        self.returns.append(stats.total_reward)
        self.best = max(self.best, stats.total_reward)
        eta = _format_eta(self.eta_seconds(stats))
        if self._progress is not None:
            if self._task is None:
                self._task = self._progress.add_task(
                    self.label, total=stats.total_episodes, completed=stats.episode - 1, eta=eta)
            self._progress.update(self._task, completed=stats.episode, eta=eta)
            return
        if self._line_due() or stats.episode == stats.total_episodes:
            _write_line(f"{self.label}: episode {stats.episode}/{stats.total_episodes} "
                        f"{self.stats_text(stats)} ETA {eta}")

    def on_turn(self, turn: TurnStats) -> None:
        """The trainer's ``on_turn`` callback: a long episode is still going.

        Called every few turns, so it does nothing costly unless it is time to show more.
        """
        self.turn = turn  # the live panel reads it when it next redraws
        if self._progress is not None:
            now = time.monotonic()
            if now - self._last_eta < LIVE_ETA_SECONDS:
                return
            self._last_eta = now
            eta = _format_eta(self.eta_seconds(turn))
            if self._task is None:
                self._task = self._progress.add_task(
                    self.label, total=turn.total_episodes, completed=turn.episode - 1, eta=eta)
            self._progress.update(self._task, eta=eta)
        elif self._line_due():
            _write_line(f"{self.label}: {self.turn_text(turn)} {self.rate_text(turn)} steps/s "
                        f"ETA {_format_eta(self.eta_seconds(turn))}")

    def _line_due(self) -> bool:
        """Whether ``every_seconds`` have passed since the last plain line (then it is now)."""
        now = time.monotonic()
        if now - self._last_line < self.every_seconds:
            return False
        self._last_line = now
        return True


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
        if watched(self.console):
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


__all__ = ["TrainingProgress", "TaskProgress", "counted", "watched", "sparkline",
           "braille_chart", "chart_text", "moving_average", "resample"]
