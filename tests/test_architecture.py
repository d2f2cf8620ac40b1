"""The layers docs/architecture.rst draws, checked: what each layer may import.

A user who drives training from Python (the specification's ``DQNTrainer`` API, a
notebook, Stable-Baselines3 through the Gymnasium adapter) gets the learning core
without the command line's libraries, and a newcomer can trust the map in
docs/architecture.rst because these tests fail when the code drifts from it.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# The layers of docs/architecture.rst, lowest first. A module may import, at module level,
# only from its own layer or a lower one (imports inside functions are how a lower layer
# reaches up on purpose, e.g. evaluation's progress bar for the eval command).
LAYERS = {
    "foundations": ["retro_gamer", "config", "errors", "json_values", "torch_file", "conf",
                    "numerics"],
    "run directory": ["run_dir"],
    "game side": ["games", "encoding", "retro_adapter", "env", "record"],
    "DQN core": ["networks", "replay", "sumtree", "rewards", "memory", "training_stats",
                 "agent", "explain", "evaluation", "settings", "symmetry", "device", "learner",
                 "trainer", "tensorboard_log", "state_scaling", "exploration"],
    "runs and displays": ["runs", "progress", "suite", "gym"],
    "Hydra bridge": ["sweep", "hydra_conf", "hydra_adapter", "overrides", "sweep_stop",
                     "slurm", "optuna_search"],
    "commands": ["cli", "report", "plot", "play", "__main__"],
}
LAYER_OF = {name: rank for rank, names in enumerate(LAYERS.values()) for name in names}
CORE_TOP = LAYER_OF["trainer"]  # layers 0-3: what a Python user of DQNTrainer loads

CORE = ["retro_gamer." + name if name != "retro_gamer" else name
        for names in list(LAYERS.values())[:CORE_TOP + 1] for name in names]
# What only the upper layers may bring in.
OUTER_LIBRARIES = ["hydra", "omegaconf", "rich", "matplotlib", "optuna", "submitit"]
OUTER_MODULES = ["retro_gamer." + name for names in list(LAYERS.values())[CORE_TOP + 1:]
                 for name in names]


def _unit(dotted: str) -> str | None:
    """The layer-map name of a ``retro_gamer...`` module (its first part below the package)."""
    parts = dotted.split(".")
    if parts[0] != "retro_gamer":
        return None
    return parts[1] if len(parts) > 1 else "retro_gamer"


def module_level_imports(path: Path) -> list[str]:
    """The retro_gamer modules ``path`` imports when it is itself imported."""
    found = []
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "retro_gamer":  # from retro_gamer import memory
                found += [f"retro_gamer.{alias.name}" for alias in node.names
                          if alias.name in LAYER_OF]
            else:
                found.append(node.module)
    return [name for name in found if _unit(name)]


def test_each_module_imports_only_its_own_layer_or_lower_ones():
    package = ROOT / "retro_gamer"
    wrong = []
    for path in sorted(package.rglob("*.py")):
        unit = _unit(".".join(("retro_gamer", *path.relative_to(package).with_suffix("").parts)))
        unit = "retro_gamer" if unit == "__init__" else unit
        assert unit in LAYER_OF, f"{path} is in no layer of docs/architecture.rst"
        for imported in module_level_imports(path):
            if LAYER_OF[_unit(imported)] > LAYER_OF[unit]:
                wrong.append(f"{path.relative_to(ROOT)} ({unit}) imports {imported}")
    assert not wrong, "imports reaching up a layer:\n" + "\n".join(wrong)


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


def all_imports(path: Path) -> list[str]:
    """Every retro_gamer module ``path`` imports, at module level or inside a function."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found += ([f"retro_gamer.{alias.name}" for alias in node.names
                       if alias.name in LAYER_OF] if node.module == "retro_gamer"
                      else [node.module])
    return [name for name in found if _unit(name) not in (None, "retro_gamer")]


def import_circles() -> list[list[str]]:
    """The layer-map units that import one another round a circle (imports in functions
    count: a lower layer reaching up for a name is how the circles of issue 27 began)."""
    package = ROOT / "retro_gamer"
    graph: dict[str, set[str]] = {}
    for path in sorted(package.rglob("*.py")):
        unit = _unit(".".join(("retro_gamer", *path.relative_to(package).with_suffix("").parts)))
        for imported in all_imports(path):
            if _unit(imported) != unit:
                graph.setdefault(unit, set()).add(_unit(imported))

    def reaches(start: str) -> set[str]:
        seen, todo = set(), [start]
        while todo:
            for nxt in graph.get(todo.pop(), ()):
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        return seen

    reach = {unit: reaches(unit) for unit in graph}
    circles = {frozenset(u for u in graph if u == unit or (u in reach[unit] and unit in reach[u]))
               for unit in graph if unit in reach[unit]}
    return sorted(sorted(circle) for circle in circles)


# The one circle kept on purpose: GameMetadata.from_pyproject is the specification's API on
# the schema class, and reading a game's description is the game side's business.
ALLOWED_CIRCLES = [["config", "games"]]


def test_no_import_circles_but_the_one_kept_on_purpose():
    assert import_circles() == ALLOWED_CIRCLES


def test_the_circle_check_finds_a_circle(tmp_path, monkeypatch):
    # A lower layer reaching up for one name (errors -> run_dir, run_dir -> errors) is found.
    original = all_imports

    def with_reach_up(path: Path) -> list[str]:
        extra = ["retro_gamer.run_dir"] if path.name == "errors.py" else []
        return original(path) + extra

    monkeypatch.setitem(globals(), "all_imports", with_reach_up)
    assert any({"errors", "run_dir"} <= set(circle) for circle in import_circles())
