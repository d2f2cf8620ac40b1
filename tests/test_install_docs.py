"""Issue 27: every install line sends the user to this project, never to PyPI's other retro-gamer.

PyPI holds an unrelated program called retro-gamer (0.4.0) with the same command and import
package. A line such as ``pip install 'retro-gamer[sweep]'`` installs that one, so every
``pip install`` the docs and messages show must install this project from its source, with
extras this project declares, and this project's version must sort above the other's.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import tomlkit
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

import retro_gamer

REPO = Path(__file__).resolve().parents[1]
PYPROJECT = tomlkit.parse((REPO / "pyproject.toml").read_text()).unwrap()["project"]
# The unrelated PyPI project's release: ours must sort above it, so `pip install -U` keeps ours.
OTHER_PROJECTS_VERSION = Version("0.4.0")


def install_lines() -> list[tuple[str, int, str]]:
    """(file, line number, the words after `pip install`) for every doc page and message."""
    files = [REPO / "README.md", *sorted((REPO / "docs").glob("*.rst")),
             *sorted((REPO / "docs").glob("*.md")), *sorted((REPO / "retro_gamer").rglob("*.py"))]
    found = []
    for path in files:
        for number, line in enumerate(path.read_text().splitlines(), 1):
            for match in re.finditer(r"pip install (.*)", line):
                found.append((str(path.relative_to(REPO)), number, match.group(1)))
    return found


def requirements(words: str) -> list[str]:
    """The requirement arguments of one `pip install` (options dropped, the prose after cut)."""
    # The command ends where the prose or the markup around it begins.
    words = re.split(r"`|&&|#|\)|\(| in ", words)[0]
    found = []
    for token in re.findall(r"'[^']*'|\"[^\"]*\"|\S+", words):
        token = token.strip("'\"").rstrip(";,")
        if token and not token.startswith("-"):
            found.append(token)
    return found


def test_the_docs_have_install_lines_to_check():
    pages = {file for file, _, _ in install_lines()}
    assert {"README.md", "docs/getting-started.rst", "docs/hydra.rst",
            "docs/interop.rst"} <= pages


@pytest.mark.parametrize("file,number,words", install_lines(),
                         ids=lambda value: value if isinstance(value, str) else "")
def test_every_install_line_installs_this_project_from_its_source(file, number, words):
    extras = set(PYPROJECT["optional-dependencies"])
    targets = requirements(words)
    assert targets, f"{file}:{number}: nothing to install in 'pip install {words}'"
    for target in targets:
        where = f"{file}:{number}: 'pip install {words}'"
        if target.startswith("."):
            # This checkout: any extras named must be ones pyproject.toml declares,
            # since pip installs a missing extra silently.
            named = re.fullmatch(r"\.(?:\[([\w,-]+)\])?", target)
            assert named, f"{where}: cannot read the path {target!r}"
            wanted = set(filter(None, (named.group(1) or "").split(",")))
            assert wanted <= extras, f"{where}: no extra {sorted(wanted - extras)}"
            continue
        try:
            requirement = Requirement(target)
        except InvalidRequirement:
            pytest.fail(f"{where}: {target!r} is not a requirement")
        assert canonicalize_name(requirement.name) != canonicalize_name(PYPROJECT["name"]), (
            f"{where} installs PyPI's unrelated retro-gamer; install from the source (.)")


def test_the_version_sorts_above_the_unrelated_pypi_project():
    assert PYPROJECT["version"] == retro_gamer.__version__
    assert Version(retro_gamer.__version__) > OTHER_PROJECTS_VERSION


def test_version_says_which_program_it_is_and_where_it_is_installed():
    command = shutil.which("retro-gamer", path=str(Path(sys.executable).parent))
    assert command, "the retro-gamer command is not installed beside this Python"
    result = subprocess.run([command, "--version"], capture_output=True, text=True,
                            timeout=60, check=True)
    package = Path(retro_gamer.__file__).resolve().parent
    assert f"retro-gamer {retro_gamer.__version__}" in result.stdout
    assert "Deep Q-Network" in result.stdout
    assert f"installed at {package}" in result.stdout
