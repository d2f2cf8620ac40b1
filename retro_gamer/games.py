"""Finding a game: its module, its ``create_game()`` and its ``[tool.retro-gamer]`` table."""

from __future__ import annotations

import importlib
import importlib.util
import numbers
import sys
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

import tomlkit
from tomlkit.exceptions import TOMLKitError

from retro_gamer.config import GameMetadata
from retro_gamer.errors import GameCrashed, GameDescriptionError

GameFactory = Callable[[], Any]

SECTION = "tool.retro-gamer"


def import_game_module(module: str):
    """Import ``module``, turning import failures into one clear message."""
    if not isinstance(module, str) or not module or module.startswith("."):
        raise GameDescriptionError(f"'{module}' is not a Python module name such as 'mygame'.")
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError) as error:
        spec, reason = None, str(error)
    else:
        reason = ""
    if spec is None:
        raise GameDescriptionError(
            f"Cannot find the game module '{module}'{': ' + reason if reason else ''}. "
            "Run retro-gamer from the folder that contains it, or install the game "
            "(pip install -e .) so Python can import it."
        )
    try:
        return importlib.import_module(module)
    except Exception as error:  # the game's own code failed while importing
        raise GameCrashed(
            f"Importing the game module '{module}' failed: {type(error).__name__}: {error}"
        ) from error


def find_create_game(module: str) -> GameFactory:
    """Return the module's ``create_game`` function."""
    mod = import_game_module(module)
    factory = getattr(mod, "create_game", None)
    if not callable(factory):
        raise GameDescriptionError(
            f"The module '{module}' ({getattr(mod, '__file__', '?')}) has no create_game() "
            "function. Add one that returns a fresh retro Game, e.g.\n"
            "    def create_game():\n        return Game(agents, state, board_size=(10, 10))"
        )
    return factory


def make_game(factory: GameFactory, module: str = "the game"):
    """Call ``create_game()``, reporting a crash inside it as :class:`GameCrashed`."""
    try:
        game = factory()
    except Exception as error:
        raise GameCrashed(
            f"create_game() in {module} raised {type(error).__name__}: {error}"
        ) from error
    if not hasattr(game, "board_size") or not hasattr(game, "state"):
        raise GameDescriptionError(
            f"create_game() in {module} returned {type(game).__name__}, not a retro Game."
        )
    return game


def module_directory(module: str) -> Path:
    """The folder holding the module's source (a package's own folder)."""
    import_game_module(module)
    spec = importlib.util.find_spec(module)
    origin = spec.origin if spec else None
    if not origin or origin in ("built-in", "frozen"):
        raise GameDescriptionError(f"The module '{module}' has no source file to start from.")
    return Path(origin).resolve().parent


def find_pyproject(start: Path) -> Path | None:
    """The first ``pyproject.toml`` in ``start`` or above it, stopping at site-packages."""
    for folder in (start, *start.parents):
        candidate = folder / "pyproject.toml"
        if candidate.is_file():
            return candidate
        if folder.name in ("site-packages", "dist-packages") or folder.parent == folder:
            return None
    return None


def bundled_description(module: str) -> dict | None:
    """A description shipped with retro-gamer for retro examples that lack their own."""
    resource = resources.files("retro_gamer") / "bundled" / f"{module}.toml"
    if not resource.is_file():
        return None
    return tomlkit.parse(resource.read_text(encoding="utf-8")).unwrap()["tool"]["retro-gamer"]


def read_description(module: str) -> tuple[dict, str]:
    """Return the raw ``[tool.retro-gamer]`` table for ``module`` and where it came from."""
    pyproject = find_pyproject(module_directory(module))
    if pyproject is None:
        bundled = bundled_description(module)
        if bundled is not None:
            return bundled, f"retro-gamer's bundled description of {module}"
        raise GameDescriptionError(
            f"No pyproject.toml found in or above the folder of '{module}' "
            f"({module_directory(module)}). Create one next to your game with a "
            "[tool.retro-gamer] section, e.g.\n"
            '  [tool.retro-gamer]\n  actions = ["KEY_LEFT", "KEY_RIGHT"]\n  reward = "score"'
        )
    try:
        data = tomlkit.parse(pyproject.read_text(encoding="utf-8")).unwrap()
    except (TOMLKitError, UnicodeDecodeError) as error:
        raise GameDescriptionError(f"{pyproject} is not valid TOML: {error}") from None
    table = data.get("tool", {}).get("retro-gamer") if isinstance(data.get("tool"), dict) else None
    if table is None:
        raise GameDescriptionError(
            f"{pyproject} has no [tool.retro-gamer] section. Add one describing the game, e.g.\n"
            '  [tool.retro-gamer]\n  actions = ["KEY_LEFT", "KEY_RIGHT"]\n  reward = "score"'
        )
    return table, f"[tool.retro-gamer] in {pyproject}"


def load_metadata(module: str) -> GameMetadata:
    """Read, validate and complete a game's description (see GameMetadata.from_pyproject)."""
    table, source = read_description(module)
    for filled_in in ("module", "board_size"):
        if isinstance(table, dict) and filled_in in table:
            raise GameDescriptionError(
                f"{source}: '{filled_in}' is filled in by retro-gamer; remove it from the section."
            )
    metadata = GameMetadata.from_mapping(table, source)
    metadata.module = module
    game = make_game(find_create_game(module), module)
    check_against_game(metadata, game, source)
    metadata.board_size = list(game.board_size)
    return metadata


def check_against_game(metadata: GameMetadata, game: Any, source: str) -> None:
    """Check that the reward and observed keys exist in the game's state and are numbers."""
    state = dict(game.state)
    for role, key in [("reward", metadata.reward)] + [
        ("observe_state", k) for k in metadata.observe_state
    ]:
        if key not in state:
            raise GameDescriptionError(
                f"{source}: {role} key '{key}' is not in the game's state. "
                f"The state has: {', '.join(sorted(map(str, state))) or 'no keys'}."
            )
        if not is_number(state[key]):
            raise GameDescriptionError(
                f"{source}: {role} key '{key}' holds {state[key]!r}, which is not a number. "
                "Use a state key whose value is an int, float or bool."
            )
    width, height = game.board_size
    if not (isinstance(width, int) and isinstance(height, int) and width > 0 and height > 0):
        raise GameDescriptionError(f"The game's board_size {game.board_size!r} is not valid.")


def is_number(value: Any) -> bool:
    return isinstance(value, (numbers.Real, bool))


def ensure_cwd_importable() -> None:
    """Let a game author run retro-gamer next to their game module, as with ``python -m``."""
    if "" not in sys.path and str(Path.cwd()) not in sys.path:
        sys.path.insert(0, str(Path.cwd()))
