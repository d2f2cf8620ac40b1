"""Sphinx configuration for retro-gamer's documentation.

The reference tables (game fields, hyperparameters) and the CLI reference are
generated from the code at build time, so they cannot drift from it.
"""

import dataclasses
import sys
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent))

project = "retro-gamer"
author = "the retro-gamer developers"
extensions = ["sphinx.ext.autodoc", "sphinx.ext.napoleon"]
exclude_patterns = ["_build", "benchmarks.md", "images"]
html_theme = "alabaster"
autodoc_member_order = "bysource"
autodoc_typehints = "description"
nitpicky = False


def _rst_table(header, rows):
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    line = " ".join("=" * w for w in widths)
    out = [line, " ".join(str(h).ljust(w) for h, w in zip(header, widths, strict=True)), line]
    out += [" ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
    out.append(line)
    return "\n".join(out)


def _generate():
    from retro_gamer.cli import build_parser
    from retro_gamer.config import GameMetadata, Hyperparameters, describe_range

    out = HERE / "_generated"
    out.mkdir(exist_ok=True)
    rows = []
    for f in dataclasses.fields(Hyperparameters):
        rows.append((f"``{f.name}``", f"``{f.default!r}``", describe_range(f.name),
                     f.metadata["help"]))
    (out / "hyperparameters.rst").write_text(
        _rst_table(("name", "default", "allowed", "meaning"), rows) + "\n")
    rows = []
    for f in dataclasses.fields(GameMetadata):
        default = f.default_factory() if f.default_factory is not dataclasses.MISSING \
            else f.default
        who = "game author" if f.name in GameMetadata.DESCRIPTION_FIELDS else "retro-gamer"
        required = "required" if f.name in ("actions", "reward") else f"``{default!r}``"
        rows.append((f"``{f.name}``", required, who, f.metadata["help"]))
    (out / "game_fields.rst").write_text(
        _rst_table(("field", "default", "written by", "meaning"), rows) + "\n")
    parser = build_parser()
    parts = []
    subparsers = next(a for a in parser._actions if a.dest == "command")
    parts.append("``retro-gamer --help``\n" + "-" * 22 + "\n\n.. code-block:: text\n\n"
                 + _indent(parser.format_help()))
    for name, sub in subparsers.choices.items():
        title = f"``retro-gamer {name}``"
        parts.append(f"{title}\n{'-' * len(title)}\n\n.. code-block:: text\n\n"
                     + _indent(sub.format_help()))
    (out / "cli.rst").write_text("\n\n".join(parts) + "\n")


def _indent(text):
    return "\n".join(("   " + line) if line.strip() else "" for line in text.splitlines())


_generate()
