"""``training.log``: the architecture description, one line per episode, and ``#`` comments.

The episode line's format is the specification's
(``[EP NNNN] total_reward=F steps=N epsilon=F avg_loss=F``); evaluations and
resumes are comment lines that never look like episode lines. A running SHA-256
of the episode lines (:class:`LogDigest`) says which line of training a
checkpoint belongs to.

Beside it, ``metrics.csv`` holds one row per episode (``METRICS_COLUMNS``) and
``evaluations.csv`` one row per evaluation during training (``EVALUATION_COLUMNS``),
for ``pandas.read_csv``. They are written, started and cut back on resume
together with the log, so they hold exactly the log's episodes and evaluations.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from pathlib import Path

from retro_gamer.run_dir.files import append_line, atomic_write, read_regular

EPISODE_LINE = re.compile(r"^\[EP (\d+)\] ")
EVAL_LINE = re.compile(
    r"^# eval after episode (?P<episode>\d+): mean (?P<mean>\S+) median (?P<median>\S+) "
    r"max (?P<maximum>\S+) \((?P<episodes>\d+) greedy games, seed (?P<seed>\S+)\)"
    r"(?P<best>; new best)?"
)
EPISODE_FIELDS = re.compile(
    r"^\[EP (?P<episode>\d+)\] total_reward=(?P<total_reward>\S+) steps=(?P<steps>\d+) "
    r"epsilon=(?P<epsilon>\S+) avg_loss=(?P<avg_loss>\S+)$"
)


METRICS_COLUMNS = ("episode", "return", "steps", "epsilon", "loss", "learning_rate",
                   "env_steps", "seconds")
EVALUATION_COLUMNS = ("episode", "mean", "median", "maximum", "games", "seed", "best")


def csv_row(values) -> str:
    """One CSV line (no newline) of ``values``; floats keep every digit (``repr``)."""
    out = io.StringIO()
    csv.writer(out, lineterminator="").writerow(values)
    return out.getvalue()


def episode_line(episode: int, total_reward: float, steps: int, epsilon: float,
                 avg_loss: float) -> str:
    """One line of ``training.log`` in the specification's format."""
    return (f"[EP {episode:04d}] total_reward={total_reward:.4f} steps={steps} "
            f"epsilon={epsilon:.4f} avg_loss={avg_loss:.6f}")


def eval_line(episode: int, mean: float, median: float, maximum: float, episodes: int,
              seed: int | None, best: bool) -> str:
    """The ``training.log`` comment line of one evaluation during training."""
    return (f"# eval after episode {episode}: mean {mean:.6g} median {median:.6g} "
            f"max {maximum:.6g} ({episodes} greedy games, seed {seed})"
            + ("; new best, saved as checkpoints/best.pt" if best else ""))


class LogDigest:
    """Running SHA-256 of training.log's episode lines: which line of training a
    checkpoint is on (two lines that differ in one episode differ in their digests)."""

    def __init__(self, lines: list[str] = ()):
        self._digest = hashlib.sha256()
        for line in lines:
            self.add(line)

    def add(self, line: str) -> None:
        self._digest.update(line.encode("utf-8", "surrogateescape") + b"\n")

    def hexdigest(self) -> str:
        return self._digest.hexdigest()


def episode_digest(lines: list[str]) -> str:
    """The :class:`LogDigest` of these episode lines."""
    return LogDigest(lines).hexdigest()


def episode_of(line: str) -> int | None:
    """The episode number of an episode line, or ``None`` for any other line."""
    match = EPISODE_LINE.match(line)
    return int(match.group(1)) if match else None


class TrainingLog:
    """The ``training.log`` at ``path``: read, started, appended to, cut back on resume."""

    def __init__(self, path: Path, metrics_path: Path | None = None,
                 evaluations_path: Path | None = None):
        self.path = path
        self.metrics_path = metrics_path
        self.evaluations_path = evaluations_path
        # metrics.csv's seconds count from the run's start: after a resume, the kept rows'
        # last figure is added to this process's clock.
        self.seconds_before = 0.0
        # Digest of the episode lines this process has written: stamped into each
        # checkpoint, so ``latest`` can tell the current line of training from an abandoned one.
        self.digest: LogDigest | None = None

    def lines(self) -> list[str]:
        """The log's lines; a byte that is not UTF-8 is kept as it is, never fatal."""
        try:
            data = read_regular(self.path, "training log")
        except FileNotFoundError:
            return []
        return data.decode("utf-8", "surrogateescape").splitlines()

    def episode_lines(self) -> list[str]:
        return [line for line in self.lines() if EPISODE_LINE.match(line)]

    def episodes(self) -> list[dict]:
        """Episode lines parsed: episode, total_reward, steps, epsilon, avg_loss."""
        parsed = []
        for line in self.episode_lines():
            match = EPISODE_FIELDS.match(line)
            if match:
                parsed.append({k: (int(v) if k in ("episode", "steps") else float(v))
                               for k, v in match.groupdict().items()})
        return parsed

    def evaluations(self) -> list[dict]:
        """The evaluations during training, from the ``# eval after episode`` lines:
        episode, mean, median, maximum, episodes, seed, best (True where best.pt was saved)."""
        if not self.path.is_file():
            return []
        found = []
        for line in self.path.read_text(encoding="utf-8", errors="replace").splitlines():
            match = EVAL_LINE.match(line)
            if match:
                values = match.groupdict()
                found.append({"episode": int(values["episode"]), "mean": float(values["mean"]),
                              "median": float(values["median"]),
                              "maximum": float(values["maximum"]),
                              "episodes": int(values["episodes"]),
                              "seed": None if values["seed"] == "None" else int(values["seed"]),
                              "best": values["best"] is not None})
        return found

    def start(self, header: str) -> None:
        """Begin a fresh log with ``header`` (the architecture description)."""
        atomic_write(self.path, (header.rstrip("\n") + "\n").encode("utf-8"))
        self.digest = LogDigest()
        self.seconds_before = 0.0
        self._rewrite_tables(0)

    def truncate_after(self, episode: int, marker: str) -> list[str]:
        """Drop episode and evaluation lines past ``episode`` (written after the checkpoint),
        then add ``marker``.

        Used on resume, so the log's episode lines are exactly those of an
        uninterrupted run. Returns the episode lines kept.
        """
        kept = [line for line in self.lines()
                if not ((match := EPISODE_LINE.match(line) or EVAL_LINE.match(line))
                        and int(match.group(1)) > episode)]
        text = "\n".join([*kept, marker]) + "\n"
        atomic_write(self.path, text.encode("utf-8", "surrogateescape"))
        episodes = [line for line in kept if EPISODE_LINE.match(line)]
        self.digest = LogDigest(episodes)
        self._rewrite_tables(episode)
        return episodes

    def _rewrite_tables(self, episode: int) -> None:
        """Keep the CSV rows up to ``episode`` (none: a fresh start), headers first."""
        for path, columns in ((self.metrics_path, METRICS_COLUMNS),
                              (self.evaluations_path, EVALUATION_COLUMNS)):
            if path is None:
                continue
            rows = [row for row in self._rows(path) if int(row[0]) <= episode]
            if path == self.metrics_path:
                self.seconds_before = float(rows[-1][-1]) if rows else 0.0
            text = "".join(csv_row(row) + "\n" for row in [columns, *rows])
            atomic_write(path, text.encode("utf-8"))

    @staticmethod
    def _rows(path: Path) -> list[list[str]]:
        """A CSV's data rows (an unreadable row, or one a kill cut short, is dropped)."""
        try:
            text = read_regular(path, "metrics table").decode("utf-8", "replace")
        except FileNotFoundError:
            return []
        rows = list(csv.reader(io.StringIO(text)))[1:]
        return [row for row in rows if row and row[0].isdigit() and len(row) > 1]

    def append_episode(self, episode: int, total_reward: float, steps: int, epsilon: float,
                       avg_loss: float, learning_rate: float, env_steps: int,
                       seconds: float) -> None:
        """The episode's line in the log, then its row in ``metrics.csv``.

        ``seconds`` is this process's training time; the row adds the time before a resume.
        """
        self.append(episode_line(episode, total_reward, steps, epsilon, avg_loss))
        if self.metrics_path is not None:
            append_line(self.metrics_path, csv_row(
                (episode, total_reward, steps, epsilon, avg_loss, learning_rate, env_steps,
                 round(self.seconds_before + seconds, 3))))

    def append(self, line: str) -> None:
        append_line(self.path, line)
        if self.digest is not None and EPISODE_LINE.match(line):
            self.digest.add(line)
        evaluation = EVAL_LINE.match(line)
        if evaluation and self.evaluations_path is not None:
            values = evaluation.groupdict()
            append_line(self.evaluations_path, csv_row(
                (values["episode"], values["mean"], values["median"], values["maximum"],
                 values["episodes"], "" if values["seed"] == "None" else values["seed"],
                 values["best"] is not None)))
