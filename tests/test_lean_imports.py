"""Commands that handle no tensors start without torch (or Hydra, for ``--help``).

Importing torch costs a second or more; ``info``, ``plot`` and ``--help`` are
what a user runs often and expects at once. Each check runs the command in a
fresh Python process (so nothing this test process imported counts) and asks
that process, after the command returned, which modules it loaded.
"""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from retro_gamer.torch_file import Opaque, peek

CHECK = """
import contextlib, io, json, sys
from retro_gamer.cli import main
code = 0
with contextlib.redirect_stdout(io.StringIO()):
    try:
        code = main(sys.argv[1:])
    except SystemExit as stop:  # --help
        code = stop.code or 0
print(json.dumps({"code": code,
                  "torch": "torch" in sys.modules, "hydra": "hydra" in sys.modules}))
"""


def loaded_by(*args: str, cwd: Path) -> dict:
    """Run ``retro-gamer ARGS`` in a fresh interpreter; what it returned and imported."""
    result = subprocess.run([sys.executable, "-c", CHECK, *args], cwd=cwd,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("args", [["info", "{run}"], ["info", "{run}", "--json"],
                                  ["plot", "{run}"]])
def test_info_and_plot_on_a_trained_snake_import_no_torch(trained_snake, args):
    loaded = loaded_by(*[a.format(run=trained_snake) for a in args], cwd=trained_snake.parent)
    assert loaded["code"] == 0
    assert not loaded["torch"], f"retro-gamer {' '.join(args)} imported torch"


@pytest.mark.parametrize("args", [["--help"], ["create", "--help"], ["train", "--help"],
                                  ["info", "--help"], ["plot", "--help"], ["play", "--help"]])
def test_help_imports_neither_torch_nor_hydra(tmp_path, args):
    loaded = loaded_by(*args, cwd=tmp_path)
    assert not loaded["torch"] and not loaded["hydra"], loaded


def test_info_still_reads_the_episode_inside_final_pt(trained_snake):
    import torch

    for path in sorted((trained_snake / "checkpoints").glob("*.pt")):
        if path.name.endswith(".replay.pt"):
            continue
        state = peek(path)
        saved = torch.load(path, map_location="cpu", weights_only=True)
        assert state["episode"] == saved["episode"] == (
            2 if path.stem == "final" else int(path.stem[3:]))
        assert set(state) == set(saved)
        assert all(isinstance(v, Opaque) for v in state["model"].values())


def test_peek_runs_nothing_a_file_names(tmp_path):
    """A pickle that would call os.system when loaded is refused, and nothing runs."""
    marker = tmp_path / "ran"

    class Payload:
        def __reduce__(self):
            import os
            return os.system, (f"touch {marker}",)

    bad = tmp_path / "bad.pt"
    with zipfile.ZipFile(bad, "w") as archive:
        archive.writestr("bad/data.pkl", pickle.dumps({"model": {}, "episode": Payload()}))
    with pytest.raises(ValueError, match="posix.system|os.system"):
        peek(bad)
    assert not marker.exists()


@pytest.mark.parametrize("content", [b"", b"not a zip", b"PK\x03\x04 truncated"])
def test_peek_refuses_what_it_cannot_read_with_value_error(tmp_path, content):
    path = tmp_path / "final.pt"
    path.write_bytes(content)
    with pytest.raises(ValueError):
        peek(path)
