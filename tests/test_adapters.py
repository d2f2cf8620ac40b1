"""The private names of Hydra and retro that retro-gamer relies on, checked by name.

Each adapter module (:mod:`retro_gamer.hydra_adapter`, :mod:`retro_gamer.retro_adapter`)
lists the private names it uses. These tests fail, naming the missing piece, when a
release of either library moves, renames or changes one of them; and they check
that no other module reaches into a private part of either library.
"""

from __future__ import annotations

import ast
import importlib
import inspect
from pathlib import Path

import pytest
from hydra.core.override_parser.overrides_parser import OverridesParser

import retro_gamer
from retro_gamer import hydra_adapter, retro_adapter

PACKAGE = Path(retro_gamer.__file__).parent
ADAPTERS = {"hydra_adapter.py", "retro_adapter.py"}


def private_uses(path: Path) -> list[str]:
    """``module.name`` of every private (underscored) Hydra or retro name ``path`` imports."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and \
                node.module.split(".")[0] in ("hydra", "retro"):
            parts = node.module.split(".") + [alias.name for alias in node.names]
            if any(part.startswith("_") for part in parts):
                found.append(f"{node.module}: {', '.join(a.name for a in node.names)}")
    return found


def test_only_the_adapters_use_private_names_of_hydra_or_retro():
    users = {path.name: private_uses(path) for path in PACKAGE.rglob("*.py")}
    outside = {name: uses for name, uses in users.items() if uses and name not in ADAPTERS}
    assert not outside, f"private Hydra/retro names outside the adapters: {outside}"
    assert users["hydra_adapter.py"] and users["retro_adapter.py"]


@pytest.mark.parametrize("module, name", hydra_adapter.PRIVATE_NAMES)
def test_hydras_private_names_exist(module, name):
    assert hasattr(importlib.import_module(module), name), \
        f"Hydra no longer has {module}.{name}: update retro_gamer/hydra_adapter.py"


def test_hydras_private_functions_take_the_arguments_used():
    from hydra._internal.utils import _run_hydra

    assert {"args", "args_parser", "task_function", "config_path", "config_name"} <= set(
        inspect.signature(_run_hydra).parameters)


def test_basic_sweep_jobs_are_the_cartesian_product_in_hydras_order():
    overrides = OverridesParser.create().parse_overrides(["gamma=0.9,0.99", "seed=1,2", "lr=3"])
    assert hydra_adapter.basic_sweep_jobs(overrides) == [
        ["gamma=0.9", "seed=1", "lr=3"], ["gamma=0.9", "seed=2", "lr=3"],
        ["gamma=0.99", "seed=1", "lr=3"], ["gamma=0.99", "seed=2", "lr=3"]]


def test_group_options_lists_installed_launchers():
    assert "basic" in hydra_adapter.group_options("hydra/launcher")


@pytest.mark.parametrize("module, name, parameters", retro_adapter.PRIVATE_NAMES)
def test_retros_private_names_exist_with_the_parameters_used(module, name, parameters):
    function = getattr(importlib.import_module(module), name, None)
    assert function is not None, \
        f"retro no longer has {module}.{name}: update retro_gamer/retro_adapter.py"
    assert tuple(inspect.signature(function).parameters) == parameters


def test_agent_character_reads_each_row_of_a_multi_row_agent():
    class Block:
        position = (3, 4)
        character = ["ab", "cd"]
        size = (2, 2)

    class Dot:
        position = (0, 0)
        character = "@"

    assert [retro_adapter.agent_character(Block(), p) for p in [(3, 4), (4, 4), (3, 5), (4, 5)]] \
        == ["a", "b", "c", "d"]
    assert retro_adapter.agent_character(Dot(), (0, 0)) == "@"


def test_keystroke_is_what_retro_games_compare_against():
    arrow, letter = retro_adapter.keystroke("KEY_LEFT"), retro_adapter.keystroke("a")
    assert arrow.name == "KEY_LEFT" and arrow == ""
    assert letter == "a" and letter.name is None
