"""Asciicast v2 recordings of a game, drawn from the board itself (no terminal needed).

An asciicast v2 file (https://docs.asciinema.org/manual/asciicast/v2/) is one
JSON header line, ``{"version": 2, "width": W, "height": H, "timestamp": T,
...}``, then one JSON array per output event, ``[seconds, "o", text]``. Each
event here is a whole frame: the cursor goes home and the board, inside a
border, is written over the previous one, so a player can start anywhere.
``asciinema play FILE.cast`` replays it in a terminal.
"""

from __future__ import annotations

import io
import json
import os
import time
from pathlib import Path

from retro_gamer.encoding import drawn_cells
from retro_gamer.errors import ConfigError
from retro_gamer.run_dir import atomic_write

HOME = "\x1b[H"
CLEAR = "\x1b[2J"
HIDE_CURSOR = "\x1b[?25l"
SHOW_CURSOR = "\x1b[?25h"
MIN_WIDTH = 48


class AsciicastWriter:
    """Collects output events in memory and writes the file atomically on :meth:`save`."""

    def __init__(self, width: int, height: int, title: str | None = None,
                 timestamp: int | None = None):
        self.header = {"version": 2, "width": int(width), "height": int(height),
                       "timestamp": int(time.time() if timestamp is None else timestamp),
                       "env": {"TERM": "xterm-256color", "SHELL": "/bin/sh"}}
        if title:
            self.header["title"] = title
        self.events: list[list] = []

    def output(self, at: float, text: str) -> None:
        """An ``"o"`` event: ``text`` written to the terminal ``at`` seconds in."""
        if self.events and at < self.events[-1][0]:
            raise ValueError("asciicast events must be in time order")
        self.events.append([round(float(at), 6), "o", text])

    def to_text(self) -> str:
        lines = [json.dumps(self.header, ensure_ascii=False)]
        lines += [json.dumps(event, ensure_ascii=False) for event in self.events]
        return "\n".join(lines) + "\n"

    def save(self, path: str | os.PathLike) -> Path:
        path = Path(path)
        atomic_write(path, self.to_text().encode("utf-8"))
        return path


def read_cast(path: str | os.PathLike) -> tuple[dict, list[list]]:
    """The header and events of an asciicast v2 file; a malformed file raises ConfigError."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
        header = json.loads(lines[0])
        events = [json.loads(line) for line in lines[1:] if line.strip()]
    except (OSError, ValueError, IndexError) as error:
        raise ConfigError(f"{path} is not an asciicast file: {error}") from None
    if not isinstance(header, dict) or header.get("version") != 2 or not all(
            isinstance(header.get(k), int) for k in ("width", "height")):
        raise ConfigError(f"{path} has no asciicast v2 header.")
    last = 0.0
    for event in events:
        if (not isinstance(event, list) or len(event) != 3 or event[1] not in "oirm"
                or not isinstance(event[2], str) or event[0] < last):
            raise ConfigError(f"{path} holds a malformed asciicast event: {event!r}")
        last = event[0]
    return header, events


class FrameRenderer:
    """Draws a game's visible board, its state and a status line as plain text rows.

    The layout follows retro's own terminal view: the board inside a border,
    the state below it in a second pane, then one status line. Characters keep
    their agent's color (a blessed color name such as ``"red_on_black"``).
    """

    def __init__(self, game, color: bool = True):
        self.view_width, self.view_height = (int(v) for v in game.view_size)
        show = getattr(game, "show_state", True)
        self.state_keys = (sorted(game.state.keys()) if show is True
                           else [k for k in (show or []) if k in game.state])
        self.width = max(self.view_width + 2, MIN_WIDTH)
        self.height = self.view_height + 2 + (len(self.state_keys) + 1
                                              if self.state_keys else 0) + 1
        self._styles: dict[str, str] = {}
        self._terminal = None
        if color:
            from blessed import Terminal

            self._terminal = Terminal(kind="xterm-256color", force_styling=True,
                                      stream=io.StringIO())

    def _colored(self, character: str, color: str | None) -> str:
        if not color or self._terminal is None:
            return character
        if color not in self._styles:
            style = getattr(self._terminal, color, "") if color.replace("_", "").isalnum() \
                else ""
            self._styles[color] = str(style) if isinstance(style, str) else ""
        style = self._styles[color]
        return f"{style}{character}\x1b[0m" if style else character

    def board_rows(self, game) -> list[str]:
        """The visible part of the board, one string per row (colors included)."""
        vx, vy = game.view_position
        rows = [[" "] * self.view_width for _ in range(self.view_height)]
        for (x, y), (agent, character) in drawn_cells(game).items():
            if vx <= x < vx + self.view_width and vy <= y < vy + self.view_height:
                rows[y - vy][x - vx] = self._colored(character, getattr(agent, "color", None))
        return ["".join(row) for row in rows]

    def frame(self, game, status: str, below: list[str] = ()) -> str:
        """One whole frame: cursor home, then every row padded to the full width.

        ``below``: rows after the status line (the explanation of ``play --explain``).
        """
        w = self.view_width
        lines = ["┌" + "─" * w + "┐"]
        lines += ["│" + row + "│" for row in self.board_rows(game)]
        if self.state_keys:
            lines.append("├" + "─" * w + "┤")
            for key in self.state_keys:
                lines.append("│" + f"{key}: {game.state.get(key)}"[:w].ljust(w) + "│")
        lines.append("└" + "─" * w + "┘")
        lines.append(status[:self.width])
        lines += [row[:self.width] for row in below]
        padded = [line + " " * max(0, self.width - _visible_width(line)) for line in lines]
        return HOME + "\r\n".join(padded)


def _visible_width(line: str) -> int:
    """Characters on screen, not counting ANSI escape sequences."""
    width, in_escape = 0, False
    for character in line:
        if in_escape:
            in_escape = not character.isalpha()
        elif character == "\x1b":
            in_escape = True
        else:
            width += 1
    return width


__all__ = ["AsciicastWriter", "FrameRenderer", "read_cast", "HOME", "CLEAR", "HIDE_CURSOR",
           "SHOW_CURSOR"]
