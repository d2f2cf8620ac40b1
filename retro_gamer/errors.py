"""The exceptions retro-gamer raises for problems a user can fix.

Every message is written to be printed as it is: it names the file or field,
the bad value, and what to do instead. The CLI prints ``str(error)`` and exits
non-zero; it never shows a traceback for these.
"""

from __future__ import annotations

import difflib
import shlex
from collections.abc import Iterable

# The command's exit codes: here, below both the CLI and the sweep code that return them.
EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT, what shells report for Ctrl+C


def shell_path(path) -> str:
    """``path`` quoted for a shell, so a command an error message suggests can be pasted."""
    return shlex.quote(str(path))


class RetroGamerError(Exception):
    """Base class for every error meant for the user rather than the developer."""


class GameDescriptionError(RetroGamerError):
    """A game module or its ``[tool.retro-gamer]`` description is unusable."""


class ConfigError(RetroGamerError):
    """A hyperparameter, override or ``config.toml`` value is invalid."""


class RunDirectoryError(RetroGamerError):
    """A run directory is missing, incomplete, locked or would lose progress."""


class RunHasProgress(RunDirectoryError):
    """Training from scratch was asked of a run that already holds progress (it would be lost)."""

    def __init__(self, path) -> None:
        super().__init__(
            f"{path} already holds training progress. Continue it with 'retro-gamer train "
            f"{shell_path(path)} --resume latest' (overrides such as training_episodes=2000 may "
            "be added), or train a new run in another directory (retro-gamer create --output "
            "NEW_DIR).")


class TrainingInterrupted(RunDirectoryError):
    """Training stopped on a signal after saving a checkpoint; the message says how to resume."""


class TrainingDiverged(RetroGamerError):
    """The loss stopped being a finite number: the network's weights are lost, so training
    stopped before any file could record them."""

    def __init__(self, episode: int, loss: float, path) -> None:
        super().__init__(
            f"The loss became {loss} during episode {episode}: the network's weights are no "
            "longer finite numbers, so training stopped without saving them (the checkpoints "
            "saved before are intact, the newest is the last good one). Lower learning_rate, "
            "set grad_clip or reward_scaling=true, then resume with 'retro-gamer train "
            f"{shell_path(path)} --resume latest', or start a new run.")


class CheckpointError(RetroGamerError):
    """A checkpoint file is missing, corrupt or does not match the run."""


class GameCrashed(RetroGamerError):
    """The game's own code raised an exception while being created or stepped."""


class GameWarning(UserWarning):
    """Something about a game that lets training run but keeps it from learning."""


def closest(name: str, candidates: Iterable[str]) -> str | None:
    """The candidate closest to ``name``, if any is close enough to be a typo of it."""
    close = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.6)
    return close[0] if close else None


def did_you_mean(name: str, candidates: Iterable[str]) -> str:
    """Return `` Did you mean 'x'?`` for the closest candidate, or an empty string."""
    close = closest(name, candidates)
    return f" Did you mean '{close}'?" if close else ""
