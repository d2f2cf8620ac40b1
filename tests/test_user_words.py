"""Issue 27: words written for the user's game, and suggestions from what the user meant.

training.log's rationale and ``create``'s size line speak of the user's board, characters
and view (not Snake's head and food); a made-up key name such as ``KEY_SPACE`` is answered
with the character it names, and a missing game module with the user's own file.
"""

from __future__ import annotations

import subprocess
import sys

import pytest
from conftest import CHAR_GAME_SOURCE

from retro_gamer.errors import GameDescriptionError
from retro_gamer.games import load_metadata
from retro_gamer.networks import QNetwork, describe

CLI = [sys.executable, "-m", "retro_gamer.cli"]


def description(actions: str) -> str:
    return ('[project]\nname = "coin-walk"\n\n[tool.retro-gamer]\n'
            f'actions = {actions}\nreward = "score"\ncharacter_set = ["@", "$"]\n'
            'spatial = false\nobserve_state = ["lives", "level"]\n')


@pytest.mark.parametrize("key,meant", [("KEY_SPACE", " "), ("KEY_A", "a"),
                                       ("KEY_COMMA", ",")])
def test_a_key_name_for_a_character_is_answered_with_the_character(game_project, key, meant):
    project = game_project(pyproject=description(f'["{key}", "d"]'))
    with pytest.raises(GameDescriptionError) as caught:
        load_metadata(project.module)
    message = str(caught.value)
    assert f"'{key}'" in message and f"write {meant!r}" in message
    assert "Did you mean" not in message  # not KEY_SPACE -> 'KEY_SREPLACE'


def test_a_misspelled_key_name_still_gets_the_close_key(game_project):
    project = game_project(pyproject=description('["KEY_RIGTH", "d"]'))
    with pytest.raises(GameDescriptionError, match="Did you mean 'KEY_RIGHT'"):
        load_metadata(project.module)


def test_a_missing_module_suggests_the_users_file_not_the_standard_library(tmp_path):
    (tmp_path / "games").mkdir()
    (tmp_path / "games" / "catch.py").write_text(CHAR_GAME_SOURCE, encoding="utf-8")
    result = subprocess.run([*CLI, "create", "--game", "catch", "--output", "runs/catch"],
                            cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    assert "Did you mean 'games.catch'?" in result.stderr
    assert "cmath" not in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "runs").exists()
    alone = tmp_path / "empty"
    alone.mkdir()
    result = subprocess.run([*CLI, "create", "--game", "catch", "--output", "r"], cwd=alone,
                            capture_output=True, text=True, timeout=120)
    assert "cmath" not in result.stderr  # a standard-library module is never a game


def test_the_rationale_speaks_of_the_users_board_and_view():
    # A 12x7 board whose player is '&' among '#' walls and '*' coins, re-centred on '&'.
    network = QNetwork(3, (12, 7), 0, 3, 1, 8, True, center_on="auto", center_codes=[2])
    text = describe(network, ["KEY_LEFT", "KEY_RIGHT"], ["#", "&", "*"])
    why = text.split("why: ", 1)[1]
    assert "12x7 board" in why and "'&'" in why and "'#' just beside '&'" in why
    assert "next to the head" not in why and "food" not in why  # Snake's words
    flat = describe(QNetwork(2, (9, 1), 0, 3, 1, 8, False), ["a", "d"], ["@", "$"])
    assert "9x1 board is a flat vector of 18 one-hot inputs" in flat


def test_create_states_its_assumptions_in_the_users_terms(game_project, tmp_path):
    project = game_project(pyproject=description('["a", "d"]').replace(
        'character_set = ["@", "$"]\n', "").replace("spatial = false", "spatial = true"))
    result = subprocess.run([*CLI, "create", "--game", project.module, "--output",
                             str(tmp_path / "run")], cwd=project.root, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert ") (" not in result.stdout  # not "(1x the defaults on Snake) (if center_on ...)"
    assert ("(assuming center_on = auto finds your game's player and one character, until "
            "training discovers your game's characters)") in result.stdout
