"""The two private names of the ``retro-games`` package (``import retro``) that retro-gamer uses.

Everything else comes from retro's public modules (``retro.game``,
``retro.input``, ``retro.views.terminal``). :data:`PRIVATE_NAMES` lists each
private name; ``tests/test_adapters.py`` checks that they exist with the
signatures used and behave as relied on, so a retro release that changes them
fails that test by name. Tested on retro-games 2.5.0 (``TESTED_VERSIONS``).
"""

from __future__ import annotations

from retro.input import _make_keystroke
from retro.views._util import get_agent_character

TESTED_VERSIONS = "retro-games 2.5.0 (pyproject.toml allows >=2.5)"

# module, name, parameters: every private name this module uses, as it is called.
PRIVATE_NAMES = (
    ("retro.views._util", "get_agent_character", ("agent", "position")),
    ("retro.input", "_make_keystroke", ("key_str",)),
)


def agent_character(agent, position: tuple[int, int]) -> str:
    """The character ``agent`` shows at board cell ``position`` (x, y).

    Why private: an agent may be drawn with several rows of characters; which one
    covers a cell is decided by ``retro.views._util.get_agent_character``, the rule
    retro's own views draw with. Using it keeps what the network sees equal to what
    a player sees on the terminal.
    """
    return get_agent_character(agent, position)


def keystroke(key: str):
    """The ``blessed`` keystroke retro's game loop expects for a key name (``"KEY_UP"``, ``"a"``).

    Why private: a custom :class:`retro.input.InputSource` must return keystrokes
    built exactly as retro's own ``ProgrammaticInput`` builds them, with
    ``retro.input._make_keystroke``.
    """
    return _make_keystroke(key)


__all__ = ["PRIVATE_NAMES", "TESTED_VERSIONS", "agent_character", "keystroke"]
