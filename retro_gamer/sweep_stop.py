"""Stopping a sweep whose jobs run in other processes (``hydra/launcher=joblib``, submitit_local).

A launcher that runs jobs in worker processes tears them down when the command's own
process gets ``KeyboardInterrupt``, and a worker whose command was killed trains on. So:

- In the command's process, while a sweep runs, the first Ctrl+C or SIGTERM does not
  interrupt the launcher: it writes :data:`STOP_NAME` into the sweep folder and lets the
  launcher wait for its jobs. A second one stops at once (the launcher ends its workers).
- A job in another process stops at the end of its current episode, with a checkpoint, when
  it gets SIGINT or SIGTERM itself (a terminal's Ctrl+C reaches the whole process group),
  when the stop file appears, or when the command's process is gone (``kill -9``); a job
  handed out after the stop does not start. A worker whose command is gone exits once its
  job has saved, so nothing is left training.

The watch uses only files and process ids, so it needs no launcher internals; jobs on other
hosts (Slurm) are left to the cluster's own signals (``scancel``).
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

STOP_NAME = "stop-requested"  # in the sweep folder: the user asked the sweep to stop
POLL_SECONDS = 0.5  # how often a worker looks for the stop file and the command's process
SIGNALS = (signal.SIGINT, signal.SIGTERM)


class CommandStop:
    """The command's side: the first Ctrl+C or SIGTERM during a sweep asks its jobs to stop."""

    requested = False
    sweep_dir: Path | None = None
    _previous: dict = {}

    @classmethod
    def install(cls, sweep_dir: Path) -> None:
        """Handle SIGINT and SIGTERM until :meth:`uninstall`; forget an earlier stop."""
        cls.requested, cls.sweep_dir = False, sweep_dir
        (sweep_dir / STOP_NAME).unlink(missing_ok=True)  # a re-run resumes the sweep
        if threading.current_thread() is threading.main_thread() and not cls._previous:
            cls._previous = {s: signal.signal(s, cls._request) for s in SIGNALS}

    @classmethod
    def _request(cls, signum, frame) -> None:
        if cls.requested:
            raise KeyboardInterrupt  # the second one: stop now
        cls.requested = True
        if cls.sweep_dir is not None:
            (cls.sweep_dir / STOP_NAME).touch()
        print("Stopping the sweep: each running job finishes its episode and saves a "
              "checkpoint (press Ctrl+C again to stop at once).", file=sys.stderr, flush=True)

    @classmethod
    def uninstall(cls) -> bool:
        """Restore the previous handlers, remove the stop file; whether a stop was asked."""
        for sig, handler in cls._previous.items():
            signal.signal(sig, handler)
        cls._previous = {}
        if cls.sweep_dir is not None:
            (cls.sweep_dir / STOP_NAME).unlink(missing_ok=True)
        requested, cls.requested, cls.sweep_dir = cls.requested, False, None
        return requested


def stop_file_exists(sweep_dir: Path) -> bool:
    return (sweep_dir / STOP_NAME).exists()


class JobStop:
    """A job's side, in a worker process: whether it should stop at the end of this episode."""

    _event = threading.Event()
    _busy = threading.Event()
    _watching: tuple | None = None

    @classmethod
    def requested(cls) -> bool:
        return cls._event.is_set()

    @classmethod
    @contextlib.contextmanager
    def watch(cls, sweep_dir: Path, command_pid: int, command_host: str) -> Iterator[None]:
        """Watch signals, the stop file and the command's process while a job runs here."""
        cls._event.clear()
        same_host = os.uname().nodename == command_host
        if same_host and threading.current_thread() is threading.main_thread():
            # Kept after the job: an idle worker must not die of the terminal's Ctrl+C
            # (its launcher would then end the pool, with the other jobs' episodes unsaved).
            # Elsewhere (Slurm) the cluster's signals keep their meaning (see slurm.py).
            for sig in SIGNALS:
                signal.signal(sig, cls._on_signal)
        if cls._watching != (sweep_dir, command_pid):
            cls._watching = (sweep_dir, command_pid)
            alive = _command_alive(command_pid, same_host)
            threading.Thread(target=cls._poll, args=(sweep_dir, alive), daemon=True,
                             name="retro-gamer sweep stop").start()
        cls._busy.set()
        try:
            yield
        finally:
            cls._busy.clear()

    @classmethod
    def _on_signal(cls, signum, frame) -> None:
        cls._event.set()

    @classmethod
    def _poll(cls, sweep_dir: Path, alive) -> None:
        while cls._watching is not None and cls._watching[0] == sweep_dir:
            if not alive():
                cls._event.set()
                if not cls._busy.is_set():
                    os._exit(0)  # nobody is left to hand this worker another job
            elif stop_file_exists(sweep_dir):
                cls._event.set()
            time.sleep(POLL_SECONDS)


def _command_alive(command_pid: int, same_host: bool):
    """A function telling whether the command's process still runs (always True elsewhere)."""
    if not same_host:
        return lambda: True
    if os.getppid() == command_pid:
        # Our parent: once it dies we are handed to another parent, even while it is
        # a zombie nobody has reaped yet (a pid test would still find it).
        return lambda: os.getppid() == command_pid

    def exists() -> bool:
        try:
            os.kill(command_pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return not _is_zombie(command_pid)
    return exists


def _is_zombie(pid: int) -> bool:
    """A killed process whose parent has not reaped it yet (Linux's /proc; False elsewhere)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[:1] == ["Z"]
