"""Running ``retro-gamer`` in tests: as a real subprocess, or through ``main()`` in-process.

The in-process runner is much faster (no torch import per command), for tests
that check many inputs. Everything a command changes process-wide -- cwd,
``sys.path``, the environment, the loggers Hydra disables, torch's thread
count -- is restored afterwards, and an exception escaping ``main()`` is
reported in stderr as the traceback a user would see.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import subprocess
import sys
import traceback
from pathlib import Path

from retro_gamer.cli import main


def process_state() -> tuple:
    """Process-wide state a command changes: Hydra's run disables every logger, a
    training sets torch's thread count. This test process keeps its own."""
    root = logging.getLogger()
    loggers = {name: (logger.disabled, logger.level)
               for name, logger in logging.Logger.manager.loggerDict.items()
               if isinstance(logger, logging.Logger)}
    torch = sys.modules.get("torch")  # a training's torch_threads is process-wide too
    return root.level, list(root.handlers), loggers, torch and torch.get_num_threads()


def restore_process_state(state: tuple) -> None:
    level, handlers, loggers, threads = state
    if threads:
        sys.modules["torch"].set_num_threads(threads)
    root = logging.getLogger()
    root.setLevel(level)
    root.handlers[:] = handlers
    for name, logger in logging.Logger.manager.loggerDict.items():
        if isinstance(logger, logging.Logger):
            logger.disabled, logger.level = loggers.get(name, (False, logger.level))


def run_in_process(*args, cwd: Path) -> subprocess.CompletedProcess:
    """``retro-gamer ARGS`` in this process; returns what the real command would."""
    out, err = io.StringIO(), io.StringIO()
    saved_path, saved_env, saved_cwd = list(sys.path), dict(os.environ), os.getcwd()
    saved_state = process_state()
    os.chdir(cwd)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main([str(a) for a in args])
    except SystemExit as exit_:
        code = exit_.code
    except Exception:  # noqa: BLE001 -- reported as the traceback a user would see
        err.write(traceback.format_exc())
        code = 1
    finally:
        os.chdir(saved_cwd)
        sys.path[:] = saved_path
        os.environ.clear()
        os.environ.update(saved_env)
        restore_process_state(saved_state)
    return subprocess.CompletedProcess(args, code, out.getvalue(), err.getvalue())


CLI = [sys.executable, "-m", "retro_gamer.cli"]


def environment(**extra: str) -> dict:
    """The environment for a real command: no debug switches, a wide terminal."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("RETRO_GAMER_DEBUG", "HYDRA_FULL_ERROR")}
    env["COLUMNS"] = "200"
    env.update(extra)
    return env


def start(*args, cwd: Path, env: dict | None = None) -> subprocess.Popen:
    """``retro-gamer ARGS`` as a real process, running in the background."""
    return subprocess.Popen([*CLI, *map(str, args)], cwd=cwd, env=env or environment(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(process: subprocess.Popen, timeout: float = 600) -> subprocess.CompletedProcess:
    out, err = process.communicate(timeout=timeout)
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)


def run_captured(capsys, *args) -> tuple[int, str, str]:
    """``retro-gamer ARGS`` through ``main()``, with pytest's ``capsys`` catching the output."""
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err
