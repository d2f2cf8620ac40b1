"""Issue 27: the reference pages are complete as stored, and a stale table fails here.

docs/reference.rst and docs/cli.rst hold their generated tables (from retro_gamer/config.py
and the CLI's parser) in the page itself, so a reader of the repository or a clone sees them
without running Sphinx. `python scripts/docs_tables.py` rewrites them.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

from retro_gamer.config import GameMetadata, Hyperparameters

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "scripts" / "docs_tables.py"


def load_script():
    spec = importlib.util.spec_from_file_location("docs_tables", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_field_and_default_is_written_in_the_stored_reference_page():
    page = (REPO / "docs" / "reference.rst").read_text()
    assert ".. include::" not in page
    for field in dataclasses.fields(Hyperparameters):
        row = next((line for line in page.splitlines()
                    if line.startswith(f"``{field.name}`` ")), None)
        assert row, f"docs/reference.rst has no row for {field.name}"
        assert f"``{field.default!r}``" in row
    for field in dataclasses.fields(GameMetadata):
        assert f"``{field.name}``" in page


def test_no_page_includes_a_file_the_repository_lacks():
    for page in (REPO / "docs").glob("*.rst"):
        for line in page.read_text().splitlines():
            if line.startswith(".. include::"):
                assert (page.parent / line.split("::", 1)[1].strip()).is_file(), (page, line)


def test_the_reference_tables_match_retro_gamer_config():
    stale = load_script().stale_pages()
    if sys.version_info >= (3, 13) and stale == ["cli.rst"]:
        pytest.skip("Python 3.13's argparse lays out '-o, --output FILE' differently")
    assert stale == [], "run: python scripts/docs_tables.py"


def test_a_changed_default_makes_the_table_stale(monkeypatch):
    script = load_script()
    field = next(f for f in dataclasses.fields(Hyperparameters) if f.name == "gamma")
    monkeypatch.setattr(field, "default", 0.5)
    assert "reference.rst" in script.stale_pages()
    page = (REPO / "docs" / "reference.rst").read_text()
    assert "``0.5``" in script.render("reference.rst", page)


def test_check_mode_exits_non_zero_and_names_the_stale_page(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    for page in ("reference.rst", "cli.rst"):
        (docs / page).write_text((REPO / "docs" / page).read_text())
    reference = docs / "reference.rst"
    reference.write_text(reference.read_text().replace("``learning_rate``", "``lr``", 1))
    copy = tmp_path / "docs_tables.py"
    copy.write_text(SCRIPT.read_text().replace(
        'DOCS = Path(__file__).resolve().parents[1] / "docs"', f"DOCS = Path({str(docs)!r})"))
    result = subprocess.run([sys.executable, str(copy), "--check"], capture_output=True,
                            text=True, timeout=120, cwd=REPO)
    assert result.returncode == 1
    assert "docs/reference.rst is stale" in result.stderr
    assert "``lr``" in reference.read_text()  # --check writes nothing
