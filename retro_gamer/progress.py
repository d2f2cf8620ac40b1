"""Progress of a training run: a rich live bar in a terminal, plain lines elsewhere."""

from __future__ import annotations

import sys
import time
from collections import deque

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from retro_gamer.trainer import EpisodeStats


class TrainingProgress:
    """An ``on_episode`` callback that shows how training goes.

    In a terminal: a progress bar with ETA and the recent mean return, best
    return, epsilon, learning rate, loss and steps per second. Otherwise (CI, a
    Slurm job, a sweep worker): one plain line every ``every_seconds``.
    """

    def __init__(self, console: Console | None = None, window: int = 20,
                 every_seconds: float = 10.0, label: str = "training"):
        self.console = console or Console(stderr=True)
        self.recent: deque[float] = deque(maxlen=window)
        self.best = float("-inf")
        self.every_seconds = every_seconds
        self.label = label
        self._last_line = 0.0
        self._progress: Progress | None = None
        self._task = None

    def __enter__(self) -> TrainingProgress:
        if self.console.is_terminal:
            self._progress = Progress(
                TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                TimeRemainingColumn(), TextColumn("{task.fields[stats]}"),
                console=self.console, transient=False)
            self._progress.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        if self._progress is not None:
            self._progress.__exit__(*exc)

    def __call__(self, stats: EpisodeStats) -> None:
        self.recent.append(stats.total_reward)
        self.best = max(self.best, stats.total_reward)
        mean = sum(self.recent) / len(self.recent)
        rate = stats.env_steps / max(stats.elapsed, 1e-9)
        text = (f"mean {mean:.1f} best {self.best:g} eps {stats.epsilon:.3f} "
                f"lr {stats.learning_rate:.2e} loss {stats.avg_loss:.4f} {rate:.0f} steps/s")
        if self._progress is not None:
            if self._task is None:
                self._task = self._progress.add_task(
                    self.label, total=stats.total_episodes, completed=stats.episode - 1,
                    stats="")
            self._progress.update(self._task, completed=stats.episode, stats=text)
            return
        now = time.monotonic()
        if now - self._last_line >= self.every_seconds or stats.episode == stats.total_episodes:
            self._last_line = now
            print(f"{self.label}: episode {stats.episode}/{stats.total_episodes} {text}",
                  file=sys.stderr, flush=True)
