"""The layers docs/architecture.rst draws, checked: what each layer may import.

A user who drives training from Python (the specification's ``DQNTrainer`` API, a
notebook, Stable-Baselines3 through the Gymnasium adapter) gets the learning core
without the command line's libraries, and a newcomer can trust the map in
docs/architecture.rst because these tests fail when the code drifts from it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# The learning core and the run directory (docs/architecture.rst, layers 1-3).
CORE = ["retro_gamer", "retro_gamer.config", "retro_gamer.games", "retro_gamer.env",
        "retro_gamer.encoding", "retro_gamer.rewards", "retro_gamer.networks",
        "retro_gamer.replay", "retro_gamer.trainer", "retro_gamer.agent",
        "retro_gamer.run_dir", "retro_gamer.runs", "retro_gamer.memory"]
# What only the commands and the Hydra bridge (layers 4-5) may bring in.
OUTER_LIBRARIES = ["hydra", "omegaconf", "rich", "matplotlib", "optuna", "submitit"]
OUTER_MODULES = ["retro_gamer.cli", "retro_gamer.sweep", "retro_gamer.hydra_conf",
                 "retro_gamer.hydra_adapter", "retro_gamer.report", "retro_gamer.plot",
                 "retro_gamer.play", "retro_gamer.progress", "retro_gamer.optuna_search"]


def imported_after(modules: list[str]) -> set[str]:
    """The top-level names in ``sys.modules`` of a fresh interpreter that imported ``modules``."""
    code = ("import importlib, json, sys\n"
            f"for name in {modules!r}:\n"
            "    importlib.import_module(name)\n"
            "print(json.dumps(sorted(sys.modules)))\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, check=True).stdout
    return set(json.loads(out))


@pytest.fixture(scope="module")
def core_imports() -> set[str]:
    return imported_after(CORE)


@pytest.mark.parametrize("library", OUTER_LIBRARIES)
def test_the_learning_core_imports_no_command_line_library(core_imports, library):
    assert library not in core_imports


@pytest.mark.parametrize("module", OUTER_MODULES)
def test_the_learning_core_imports_no_command_or_hydra_module(core_imports, module):
    assert module not in core_imports


def test_the_architecture_page_names_every_module():
    """docs/architecture.rst places every module in a layer: a new module must be placed."""
    page = (ROOT / "docs" / "architecture.rst").read_text(encoding="utf-8")
    package = ROOT / "retro_gamer"
    missing = []
    for path in sorted(package.rglob("*.py")):
        relative = path.relative_to(package)
        if relative.name == "__init__.py" or relative.parts[0] in ("conf", "bundled"):
            continue
        if relative.parts[0] == "suite" and relative.parts[1:2] == ("games",):
            continue  # the suite's small games are listed with the suite
        name = "/".join(relative.with_suffix("").parts)
        # A module of a package may be named by its short name under its package's entry.
        if f"``{name}``" not in page and f"``{relative.stem}``" not in page:
            missing.append(name)
    assert not missing, f"docs/architecture.rst does not place: {', '.join(missing)}"
