"""A sweep's folder (``RUN_DIR/sweeps/<timestamp>/``): ``sweep.json``, Hydra's
``multirun.yaml``, ``comparison.png``, and one complete run directory per job."""

from __future__ import annotations

import os
from pathlib import Path

from retro_gamer.errors import RunDirectoryError
from retro_gamer.run_dir.files import read_json, write_json
from retro_gamer.run_dir.layout import (
    COMPARISON_PLOT_NAME,
    CONFIG_NAME,
    RESULT_NAME,
    SWEEP_SUMMARY_NAME,
)


def is_sweep_directory(path: str | os.PathLike) -> bool:
    """A sweep's folder: it holds ``sweep.json``, or job folders with config and result."""
    folder = Path(path)
    if not folder.is_dir() or (folder / CONFIG_NAME).is_file():
        return False
    if (folder / SWEEP_SUMMARY_NAME).is_file():
        return True
    return any((p / CONFIG_NAME).is_file() and (p / RESULT_NAME).is_file()
               for p in folder.iterdir() if p.is_dir())


class SweepDirectory:
    """A sweep's folder (``RUN_DIR/sweeps/<timestamp>/``): one run directory per job."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.summary_path = self.path / SWEEP_SUMMARY_NAME

    def __repr__(self) -> str:
        return f"SweepDirectory({str(self.path)!r})"

    def require(self) -> None:
        if not is_sweep_directory(self.path):
            raise RunDirectoryError(
                f"{self.path} is not a sweep directory (it has no {SWEEP_SUMMARY_NAME} and no "
                f"job folders holding {CONFIG_NAME} and {RESULT_NAME})."
            )

    def read_summary(self) -> dict | None:
        """``sweep.json`` as a dict, or ``None`` when it is missing or unreadable."""
        summary = read_json(self.summary_path)
        return summary if isinstance(summary, dict) else None

    def write_summary(self, summary: dict) -> None:
        write_json(self.summary_path, summary)

    def job_dirs(self) -> list[Path]:
        """Job folders (each a complete run directory), in job-number order."""
        jobs = [p for p in self.path.iterdir() if p.is_dir() and (p / CONFIG_NAME).is_file()]
        return sorted(jobs, key=_job_order)

    def comparison_plot_path(self) -> Path:
        return self.path / COMPARISON_PLOT_NAME

    @property
    def hydra_config_path(self) -> Path:
        """``multirun.yaml``: the composed config Hydra saves when a sweep starts."""
        return self.path / "multirun.yaml"


def _job_order(path: Path) -> tuple[int, str]:
    number = path.name.split("_", 1)[0]
    return (int(number), path.name) if number.isdigit() else (1 << 30, path.name)
