"""Finding a game: its module, its ``create_game()`` and its ``[tool.retro-gamer]`` table."""

from __future__ import annotations

import contextlib
import dis
import importlib
import importlib.util
import io
import numbers
import pkgutil
import signal
import sys
import warnings
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

import tomlkit
from tomlkit.exceptions import TOMLKitError

from retro_gamer.config import GameMetadata
from retro_gamer.errors import GameCrashed, GameDescriptionError, GameWarning, closest

GameFactory = Callable[[], Any]

class _PlaysWhenImported(Exception):
    """Raised in place of ``Game.play()`` while a game module is being imported."""


@contextlib.contextmanager
def _no_interactive_play():
    """While importing a game module, let nothing take over the terminal or wait for keys.

    A module without an ``if __name__ == "__main__":`` guard (retro's own
    ``simple``, ``debug``, ``virus``) starts its game when imported: its
    ``Game.play()`` would switch the terminal to fullscreen and read keys forever.
    Here ``play()`` raises instead, and standard input reads as empty.
    """
    from retro.game import Game

    def refuse(self, *args, **kwargs):
        raise _PlaysWhenImported

    play, stdin = Game.play, sys.stdin
    Game.play, sys.stdin = refuse, io.StringIO()
    try:
        yield
    finally:
        Game.play, sys.stdin = play, stdin


def import_game_module(module: str):
    """Import ``module``, turning import failures into one clear message.

    The import never takes over the terminal: a module that starts its game
    when imported is reported (with how to wrap it) instead of run.
    """
    if not isinstance(module, str) or not module or module.startswith("."):
        raise GameDescriptionError(f"'{module}' is not a Python module name such as 'mygame'.")
    try:
        with _no_interactive_play():  # finding a submodule imports its packages
            try:
                spec = importlib.util.find_spec(module)
            except (ImportError, ValueError) as error:
                spec, reason = None, str(error)
            else:
                reason = ""
            if spec is None:
                raise GameDescriptionError(
                    f"Cannot find the game module '{module}'{': ' + reason if reason else ''}."
                    + _where_to_look(module))
            return importlib.import_module(module)
    except _PlaysWhenImported:
        raise GameDescriptionError(
            f"Importing '{module}' starts its game: the module calls play() when imported "
            "(it has no 'if __name__ == \"__main__\":' guard), so retro-gamer cannot use it "
            "as it is. " + wrapper_advice(module, has_factory=False)) from None
    except GameDescriptionError:
        raise
    except BaseException as error:  # the game's own code failed while importing
        if not raised_by_game(error):
            raise
        raise GameCrashed(
            f"Importing the game module '{module}' failed: {type(error).__name__}: {error}"
        ) from error


def _where_to_look(module: str) -> str:
    """What to do about a module name Python cannot find: a close name, or where to run."""
    parts = module.split(".")
    for i in range(len(parts) - 1, 0, -1):  # the innermost package that does exist
        package_name = ".".join(parts[:i])
        try:
            package = importlib.import_module(package_name)
        except Exception:  # noqa: BLE001 -- packages are only looked at for suggestions
            continue
        paths = getattr(package, "__path__", None)
        if paths is None:
            break
        names = _submodules(paths)
        close = closest(parts[i], names)
        suggestion = ".".join([package_name, close, *parts[i + 1:]]) if close else None
        return ((f" Did you mean '{suggestion}'?" if suggestion else "")
                + f" The package '{package_name}' holds: {', '.join(names) or 'nothing'}.")
    found = _modules_named(parts[-1], Path.cwd()) if len(parts) == 1 else []
    if found:
        hint = f" Did you mean '{found[0]}'?"
    else:
        close = closest(parts[0], _user_modules())
        hint = f" Did you mean '{'.'.join([close, *parts[1:]])}'?" if close else ""
    return (f"{hint} Run retro-gamer from the folder that holds your game's module (or its "
            "package folder), or install the game (pip install -e .) so Python can import it.")


def _user_modules() -> list[str]:
    """Top-level modules a game could be: the current folder's and installed ones, not
    Python's own (a standard-library module such as 'cmath' is never a game)."""
    stdlib = set(getattr(sys, "stdlib_module_names", ())) | set(sys.builtin_module_names)
    return [info.name for info in pkgutil.iter_modules()
            if info.name not in stdlib and not info.name.startswith("_")]


def _modules_named(name: str, root: Path, depth: int = 3) -> list[str]:
    """Dotted names, from ``root``, of ``name.py`` files (or ``name/`` packages) in the
    folders below it: the game the user meant may sit in a sub-folder."""
    found = []
    folders = [(root, ())]
    budget = 2000  # folders looked into at most: a suggestion must not take long
    for _ in range(depth):
        deeper = []
        for folder, prefix in folders[:budget]:
            budget -= 1
            try:
                children = sorted(folder.iterdir())
            except OSError:
                continue
            for child in children:
                if prefix and child.name in (f"{name}.py", name) and (
                        child.is_file() or (child / "__init__.py").is_file()):
                    found.append(".".join([*prefix, name]))
                elif child.is_dir() and child.name.isidentifier():  # a package-like folder
                    deeper.append((child, (*prefix, child.name)))
        folders = deeper
    return found


def _submodules(paths) -> list[str]:
    """Module and package names in a package's folders, namespace packages included."""
    names = {info.name for info in pkgutil.iter_modules(paths)}
    names.update(folder.name for path in paths if Path(path).is_dir()
                 for folder in Path(path).iterdir()
                 if folder.is_dir() and folder.name.isidentifier() and any(folder.glob("*.py")))
    return sorted(name for name in names if not name.startswith("_"))


def is_installed(path: Path) -> bool:
    """Whether ``path`` lies inside an installed package (site-packages), not the user's own."""
    return any(part in ("site-packages", "dist-packages") for part in path.parts)


def wrapper_advice(module: str, has_factory: bool, reward: str = "score") -> str:
    """How to use ``module`` through a small project of one's own: the few lines it takes."""
    if has_factory:
        body = f"from {module} import create_game"
    else:
        body = ("from retro.game import Game\n"
                "      def create_game():\n"
                "          # the lines that build the game, returning it instead of playing it\n"
                "          return Game(agents, state, board_size=(WIDTH, HEIGHT))")
    return (
        "Make a small project of your own that wraps it: a folder (say my-game/) holding\n"
        f"  my-game/my_game.py:\n      {body}\n"
        "  my-game/pyproject.toml:\n"
        "      [tool.retro-gamer]\n"
        '      actions = ["KEY_LEFT", "KEY_RIGHT", "KEY_UP", "KEY_DOWN"]  # keys the game reads\n'
        f'      reward = "{reward}"  # the state key whose change is the reward\n'
        "then, in my-game/: retro-gamer create --game my_game --output runs/first"
    )


def find_create_game(module: str) -> GameFactory:
    """Return the module's ``create_game`` function."""
    mod = import_game_module(module)
    factory = getattr(mod, "create_game", None)
    if callable(factory):
        return factory
    if getattr(mod, "__file__", None) is None and not hasattr(mod, "__path__"):
        raise GameDescriptionError(
            f"The module '{module}' is built into Python: it has no source file and no "
            "create_game(). Name your game's module, e.g. --game mygame.")
    if getattr(mod, "__file__", None) is None:  # a folder without __init__.py
        raise GameDescriptionError(
            f"'{module}' is a folder of modules without an __init__.py (a namespace package), "
            "not a game module: it has no create_game(). "
            + wrapper_advice(module, has_factory=False))
    where = Path(mod.__file__)
    if is_installed(where):
        raise GameDescriptionError(
            f"The module '{module}' ({where}) has no create_game() function. "
            + wrapper_advice(module, has_factory=False))
    raise GameDescriptionError(
        f"The module '{module}' ({where}) has no create_game() "
        "function. Add one that returns a fresh retro Game, e.g.\n"
        "    def create_game():\n        return Game(agents, state, board_size=(10, 10))"
    )


def make_game(factory: GameFactory, module: str = "the game"):
    """Call ``create_game()``, reporting a crash inside it as :class:`GameCrashed`."""
    try:
        game = factory()
    except BaseException as error:
        if not raised_by_game(error):
            raise
        raise GameCrashed(
            f"create_game() in {module} raised {type(error).__name__}: {error}"
        ) from error
    if not hasattr(game, "board_size") or not hasattr(game, "state"):
        raise GameDescriptionError(
            f"create_game() in {module} returned {type(game).__name__}, not a retro Game."
        )
    return game


_RAISE = dis.opmap["RAISE_VARARGS"]


def raised_by_game(error: BaseException) -> bool:
    """Whether ``error``, caught around a call into the game's own code, is the game's
    crash rather than the user stopping the program.

    Every ``Exception`` is the game's, and so is ``SystemExit`` (``sys.exit()`` or
    ``exit()`` in the game: it must not end training as if it had succeeded). A
    ``KeyboardInterrupt`` is the game's when a ``raise`` statement in the game made it;
    one made by Ctrl+C or SIGTERM (Python's default handler, or a handler installed with
    :mod:`signal`, somewhere in the traceback) is the user's and is passed on. Anything
    else (``GeneratorExit``) is not the game's.
    """
    if isinstance(error, (Exception, SystemExit)):
        return True
    if not isinstance(error, KeyboardInterrupt) or error.__traceback__ is None:
        return False
    handlers = set()
    for number in (signal.SIGINT, signal.SIGTERM):
        handler = signal.getsignal(number)
        handlers.add(getattr(getattr(handler, "__func__", handler), "__code__", None))
    tb = error.__traceback__
    while True:
        if tb.tb_frame.f_code in handlers:
            return False
        if tb.tb_next is None:
            break
        tb = tb.tb_next
    # The default handler raises between two instructions of whatever code runs; only a
    # raise statement executes RAISE_VARARGS.
    code = tb.tb_frame.f_code.co_code
    return 0 <= tb.tb_lasti < len(code) and code[tb.tb_lasti] == _RAISE


def module_directory(module: str) -> Path:
    """The folder holding the module's source (a package's own folder)."""
    origin = getattr(import_game_module(module), "__file__", None)
    if not origin:  # a namespace package, or a module built into Python
        find_create_game(module)  # explains what the module lacks
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
        folder = module_directory(module)
        if is_installed(folder):  # not the user's to edit: describe it in a project of theirs
            raise GameDescriptionError(
                f"'{module}' is an installed game ({folder}) with no [tool.retro-gamer] "
                "description. " + wrapper_advice(module, has_factory=True))
        raise GameDescriptionError(
            f"No pyproject.toml found in or above the folder of '{module}' "
            f"({folder}). Create one next to your game with a "
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
    factory = find_create_game(module)  # first: what the module lacks comes before the rest
    table, source = read_description(module)
    for filled_in in ("module", "board_size"):
        if isinstance(table, dict) and filled_in in table:
            raise GameDescriptionError(
                f"{source}: '{filled_in}' is filled in by retro-gamer; remove it from the section."
            )
    metadata = GameMetadata.from_mapping(table, source)
    metadata.module = module
    game = make_game(factory, module)
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
        if not is_finite(state[key]):
            raise GameDescriptionError(
                f"{source}: {role} key '{key}' starts as {state[key]!r}, which is not a "
                f"finite number. {FINITE_ADVICE}"
            )
    if not any(hasattr(agent, "handle_keystroke") for agent in getattr(game, "agents", ())):
        warnings.warn(GameWarning(
            "No agent in the game takes keystrokes (none has a handle_keystroke method), so "
            "the agent's actions cannot affect the game: training will learn nothing useful. "
            "Give the player's agent a handle_keystroke(keystroke, game) method."), stacklevel=2)
    width, height = game.board_size
    if not (isinstance(width, int) and isinstance(height, int) and width > 0 and height > 0):
        raise GameDescriptionError(f"The game's board_size {game.board_size!r} is not valid.")


def is_number(value: Any) -> bool:
    return isinstance(value, (numbers.Real, bool))


# The observed values are stored as 32-bit floats: a larger one would become infinity.
FLOAT32_MAX = 3.4028234663852886e38
FINITE_ADVICE = ("The agent learns from the reward and observe_state keys, so each must hold "
                 "a finite number (not NaN or infinity, at most 3.4e38 in size) every turn: "
                 "fix the game's code that sets it.")


def is_finite(value: Any) -> bool:
    """Whether ``value`` (a number) is finite and fits a 32-bit float."""
    try:
        value = float(value)
    except (TypeError, ValueError, OverflowError):
        return False
    return -FLOAT32_MAX <= value <= FLOAT32_MAX  # False for NaN too


def ensure_cwd_importable() -> None:
    """Let a game author run retro-gamer next to their game module, as with ``python -m``."""
    if "" not in sys.path and str(Path.cwd()) not in sys.path:
        sys.path.insert(0, str(Path.cwd()))
