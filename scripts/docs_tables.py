"""Rewrite the generated blocks of docs/reference.rst and docs/cli.rst from the code.

The tables live in the pages themselves, between two comment lines, so that a page read in
the repository (on a forge, or in a clone) is complete without running Sphinx::

    .. generated: hyperparameters (python scripts/docs_tables.py rewrites this block)
    ...
    .. end generated: hyperparameters

Run ``python scripts/docs_tables.py`` after changing a field in retro_gamer/config.py or an
option of the CLI; ``--check`` exits 1 and names the stale blocks instead of writing.
tests/test_docs_tables.py fails while a block is stale.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import re
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parents[1] / "docs"
# The pages and the blocks each holds; a block's name picks its generator below.
PAGES = {"reference.rst": ("game_fields", "hyperparameters"), "cli.rst": ("cli",)}
# argparse wraps help at the terminal's width: a fixed one keeps the page the same everywhere.
HELP_COLUMNS = "88"


def _table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    """A reStructuredText simple table, each column as wide as its widest cell."""
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    rule = " ".join("=" * width for width in widths)

    def line(cells):
        return " ".join(cell.ljust(width) for cell, width in zip(cells, widths,
                                                                  strict=True)).rstrip()

    return "\n".join([rule, line(header), rule, *(line(row) for row in rows), rule])


def hyperparameters() -> str:
    from retro_gamer.config import Hyperparameters, describe_range

    rows = [(f"``{field.name}``", f"``{field.default!r}``", describe_range(field.name),
             field.metadata["help"]) for field in dataclasses.fields(Hyperparameters)]
    return _table(("name", "default", "allowed", "meaning"), rows)


def game_fields() -> str:
    from retro_gamer.config import GameMetadata

    rows = []
    for field in dataclasses.fields(GameMetadata):
        default = field.default_factory() if field.default_factory is not dataclasses.MISSING \
            else field.default
        who = "game author" if field.name in GameMetadata.DESCRIPTION_FIELDS else "retro-gamer"
        required = "required" if field.name in ("actions", "reward") else f"``{default!r}``"
        rows.append((f"``{field.name}``", required, who, field.metadata["help"]))
    return _table(("field", "default", "written by", "meaning"), rows)


def _indent(text: str) -> str:
    return "\n".join(("   " + line).rstrip() for line in text.splitlines())


def cli() -> str:
    from retro_gamer.cli import build_parser

    previous = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = HELP_COLUMNS
    try:
        parser = build_parser()
        commands = next(action for action in parser._actions if action.dest == "command")
        helps = [("retro-gamer --help", parser.format_help())]
        helps += [(f"retro-gamer {name} --help", sub.format_help())
                  for name, sub in commands.choices.items()]
    finally:
        if previous is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = previous
    parts = []
    for title, text in helps:
        title = f"``{title}``"
        parts.append(f"{title}\n{'-' * len(title)}\n\n.. code-block:: text\n\n{_indent(text)}")
    return "\n\n".join(parts)


GENERATORS = {"hyperparameters": hyperparameters, "game_fields": game_fields, "cli": cli}


def _block(name: str) -> re.Pattern:
    return re.compile(
        rf"(^\.\. generated: {name} \(.*?\)\n\n)(.*?)(\n\n\.\. end generated: {name}$)",
        re.DOTALL | re.MULTILINE)


def render(page: str, text: str) -> str:
    """`text` (the page `page`) with each of its generated blocks rewritten from the code.

    Raises:
        ValueError: the page lacks a block's two marker lines.
    """
    for name in PAGES[page]:
        pattern = _block(name)
        if not pattern.search(text):
            raise ValueError(f"docs/{page} has no generated block '{name}'")
        content = GENERATORS[name]()
        text = pattern.sub(lambda match, content=content: match.group(1) + content
                           + match.group(3), text)
    return text


def stale_pages() -> list[str]:
    """The pages whose generated blocks differ from what the code generates now."""
    return [page for page in PAGES
            if render(page, (DOCS / page).read_text()) != (DOCS / page).read_text()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report stale pages")
    args = parser.parse_args(argv)
    stale = stale_pages()
    if args.check:
        for page in stale:
            print(f"docs/{page} is stale: run python scripts/docs_tables.py", file=sys.stderr)
        return 1 if stale else 0
    for page in stale:
        path = DOCS / page
        path.write_text(render(page, path.read_text()))
        print(f"rewrote docs/{page}")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(DOCS.parent))
    sys.exit(main())
