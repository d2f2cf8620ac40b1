"""Finding a game and reading its ``[tool.retro-gamer]`` description."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import CHAR_GAME_SOURCE

from retro_gamer import GameEnvironment, GameMetadata
from retro_gamer.errors import GameCrashed, GameDescriptionError, RetroGamerError
from retro_gamer.games import bundled_description, find_create_game, read_description

# The specification's complete example description (for Snake).
SPEC_SNAKE = {
    "actions": ["KEY_RIGHT", "KEY_UP", "KEY_LEFT", "KEY_DOWN"],
    "reward": "score",
    "character_set": ["@", "*", ">", "<", "^", "v"],
    "spatial": True,
    "observe_state": [],
}


# ----------------------------------------------------------------- retro's examples


# Snake's mirrors, declared beside the specification's fields (symmetric_experience uses them).
SNAKE_SYMMETRIES = {
    "left-right": {"actions": [["KEY_LEFT", "KEY_RIGHT"]], "characters": [["<", ">"]]},
    "up-down": {"actions": [["KEY_UP", "KEY_DOWN"]], "characters": [["^", "v"]]},
}


def test_bundled_snake_description_is_the_specifications_example_and_its_mirrors():
    for table in (bundled_description("retro.examples.snake"),
                  read_description("retro.examples.snake")[0]):
        assert {k: v for k, v in table.items() if k != "symmetries"} == SPEC_SNAKE
        assert table["symmetries"] == SNAKE_SYMMETRIES
    assert "bundled" in read_description("retro.examples.snake")[1]


def test_snake_metadata_reads_the_board_size_from_the_game():
    metadata = GameMetadata.from_pyproject("retro.examples.snake")
    for name, value in SPEC_SNAKE.items():
        assert getattr(metadata, name) == value
    assert metadata.board_size == [32, 16]
    assert metadata.module == "retro.examples.snake"
    assert metadata.n_actions == 5


def test_nav_description_comes_from_its_own_pyproject():
    table, source = read_description("retro.examples.nav")
    assert source.endswith(str(Path("retro", "examples", "nav", "pyproject.toml")))
    assert table["actions"] == ["KEY_LEFT", "KEY_RIGHT"]

    metadata = GameMetadata.from_pyproject("retro.examples.nav")
    assert metadata.actions == ["KEY_LEFT", "KEY_RIGHT"]
    assert metadata.reward == "score"
    assert metadata.character_set == ["^", "O"]
    assert metadata.spatial is True
    assert metadata.observe_state == []  # omitted in nav's pyproject: the default
    assert metadata.board_size == [25, 25]


def test_a_module_without_its_own_description_is_not_given_a_bundled_one(game_project):
    assert bundled_description("retro.examples.nav") is None
    project = game_project(pyproject=None)
    assert bundled_description(project.module) is None


# ------------------------------------------------------------- a user's own project


def test_character_key_game_works_end_to_end(game_project):
    project = game_project()
    metadata = GameMetadata.from_pyproject(project.module)
    assert metadata.actions == ["a", "d"]
    assert metadata.reward == "score"
    assert metadata.character_set == ["@", "$"]
    assert metadata.spatial is False
    assert metadata.observe_state == ["lives", "level"]
    assert metadata.board_size == [5, 1]
    assert metadata.module == project.module

    env = GameEnvironment(find_create_game(project.module), metadata)
    width, height, channels = 5, 1, 2

    def layout(obs):
        """The board as H x W x C (non-spatial layout) and the observed values."""
        board = obs[: width * height * channels].reshape(height, width, channels)
        return board, obs[width * height * channels :].tolist()

    obs = env.reset()
    assert obs.dtype == np.float32 and obs.shape == (width * height * channels + 2,)
    board, extras = layout(obs)
    assert board[0, :, 0].tolist() == [0, 0, 1, 0, 0]  # '@' at x=2
    assert board[0, :, 1].tolist() == [0, 0, 0, 0, 1]  # '$' at x=4
    assert extras == [3.0, 1.0]  # lives, level

    obs, reward, done = env.step("d")
    assert (reward, done) == (0.0, False)
    assert layout(obs)[0][0, :, 0].tolist() == [0, 0, 0, 1, 0]

    obs, reward, done = env.step("d")  # onto the coin: +10, next level, coin to x=0
    assert (reward, done) == (10.0, False)
    board, extras = layout(obs)
    assert board[0, :, 0].tolist() == [0, 0, 0, 0, 1]
    assert board[0, :, 1].tolist() == [1, 0, 0, 0, 0]
    assert extras == [3.0, 2.0]

    obs, reward, done = env.step(None)  # the no-op: nothing moves
    assert (reward, done) == (0.0, False)
    assert layout(obs)[0][0, :, 0].tolist() == [0, 0, 0, 0, 1]

    for lives_left in (2, 1):  # into the right wall
        obs, reward, done = env.step("d")
        assert (reward, done) == (0.0, False)
        assert layout(obs)[1] == [float(lives_left), 2.0]
    obs, reward, done = env.step("d")
    assert (reward, done) == (0.0, True)
    assert layout(obs)[1] == [0.0, 2.0]


def test_description_omitting_optional_fields_gets_the_defaults(game_project):
    project = game_project('[tool.retro-gamer]\nactions = ["a", "d"]\nreward = "score"\n')
    metadata = GameMetadata.from_pyproject(project.module)
    assert metadata.spatial is True
    assert metadata.observe_state == []
    assert metadata.character_set is None


def test_pyproject_above_a_package_folder_is_found(game_project):
    project = game_project(package=True)
    assert not (project.root / project.module / "pyproject.toml").exists()
    metadata = GameMetadata.from_pyproject(project.module)
    assert metadata.actions == ["a", "d"]
    assert metadata.board_size == [5, 1]
    _, source = read_description(project.module)
    assert str(project.pyproject.resolve()) in source


def test_non_ascii_characters_are_accepted(game_project):
    project = game_project(
        pyproject='[tool.retro-gamer]\nactions = ["a", "d"]\nreward = "score"\n'
        'character_set = ["@", "█"]\nspatial = false\n',
        source=CHAR_GAME_SOURCE.replace('COIN = "$"', 'COIN = "█"'),
    )
    metadata = GameMetadata.from_pyproject(project.module)
    assert metadata.character_set == ["@", "█"]
    env = GameEnvironment(project.create_game, metadata)
    board = env.reset().reshape(1, 5, 2)
    assert board[0, :, 1].tolist() == [0, 0, 0, 0, 1]  # the coin, drawn as '█', at x=4


# ------------------------------------------------------------ malformed descriptions

VALID_FIELDS = {
    "actions": '["a", "d"]',
    "reward": '"score"',
    "character_set": '["@", "$"]',
    "spatial": "false",
    "observe_state": '["lives", "level"]',
}


def described(**changes: str | None) -> str:
    """The coin walk's valid description with fields changed, added, or (None) removed."""
    fields = {**VALID_FIELDS, **changes}
    lines = [f"{name} = {value}" for name, value in fields.items() if value is not None]
    return "[tool.retro-gamer]\n" + "\n".join(lines) + "\n"


MALFORMED = [
    pytest.param(
        '[project]\nname = "coin-walk"\n', ["no [tool.retro-gamer] section"], id="missing-section"
    ),
    pytest.param('[tool]\nretro-gamer = 3\n', ["must be a table"], id="section-not-a-table"),
    pytest.param(
        '[tool.retro-gamer]\nactions = ["a", "d"\nreward = "score"\n',
        ["is not valid TOML"],
        id="invalid-toml",
    ),
    pytest.param(described(actions=None), ["'actions' is missing"], id="missing-actions"),
    pytest.param(described(actions="[]"), ["'actions' must not be empty"], id="empty-actions"),
    pytest.param(described(actions='"a"'), ["'actions' must be a list"], id="actions-not-list"),
    pytest.param(
        described(actions='["a", 1]'), ["'actions' must be a list of"], id="action-not-string"
    ),
    pytest.param(
        described(actions='["KEY_LEFT", "KEY_RIGTH"]'),
        ["'KEY_RIGTH'", "Did you mean 'KEY_RIGHT'?"],
        id="misspelled-key-name",
    ),
    pytest.param(
        described(actions='["left"]'), ["'left'", "neither a key name"], id="word-as-key"
    ),
    pytest.param(
        described(actions='["a", "d", "a"]'), ["'a' more than once"], id="duplicate-action"
    ),
    pytest.param(described(reward=None), ["'reward' is missing"], id="missing-reward"),
    pytest.param(
        described(reward="3"), ["'reward' must be the name of a state key", "3"],
        id="reward-not-string",
    ),
    pytest.param(described(reward='""'), ["'reward' must be"], id="reward-empty"),
    pytest.param(
        described(reward='"points"'),
        ["reward key 'points' is not in the game's state", "level, lives, name, score"],
        id="reward-key-not-in-state",
    ),
    pytest.param(
        described(reward='"name"'),
        ["reward key 'name'", "'bob'", "not a number"],
        id="reward-key-not-numeric",
    ),
    pytest.param(
        described(character_set='["@", "$$"]'),
        ["'$$' is not a single character"],
        id="character-of-two-chars",
    ),
    pytest.param(
        described(character_set='["@", ""]'),
        ["'' is not a single character"],
        id="character-empty",
    ),
    pytest.param(
        described(character_set='"@$"'),
        ["'character_set' must be a list"],
        id="character-set-not-list",
    ),
    pytest.param(
        described(character_set='["@", "$", "@"]'),
        ["'character_set' lists '@' more than once"],
        id="duplicate-character",
    ),
    pytest.param(
        described(character_set='["@", " "]'), ["contains a space"], id="space-in-character-set"
    ),
    pytest.param(
        described(spatial='"yes"'), ["'spatial' must be true or false", "'yes'"],
        id="spatial-not-bool",
    ),
    pytest.param(
        described(observe_state='["lives", "score"]'),
        ["'observe_state' contains the reward key 'score'"],
        id="observe-state-has-reward",
    ),
    pytest.param(
        described(observe_state='["lives", "health"]'),
        ["observe_state key 'health' is not in the game's state"],
        id="observe-state-key-missing",
    ),
    pytest.param(
        described(observe_state='["name"]'),
        ["observe_state key 'name'", "'bob'", "not a number"],
        id="observe-state-not-numeric",
    ),
    pytest.param(
        described(observe_state='"lives"'),
        ["'observe_state' must be a list"],
        id="observe-state-not-list",
    ),
    pytest.param(
        described(actions=None, actoins='["a", "d"]'),
        ["unknown field 'actoins'", "Did you mean 'actions'?"],
        id="unknown-field-typo",
    ),
    pytest.param(
        described(module='"coin_walk"'),
        ["'module' is filled in by retro-gamer"],
        id="module-written-by-hand",
    ),
    pytest.param(
        described(board_size="[5, 1]"),
        ["'board_size' is filled in by retro-gamer"],
        id="board-size-written-by-hand",
    ),
]


@pytest.mark.parametrize(("pyproject", "fragments"), MALFORMED)
def test_malformed_description_is_reported_with_field_and_file(game_project, pyproject, fragments):
    project = game_project(pyproject=pyproject)
    with pytest.raises(GameDescriptionError) as excinfo:
        GameMetadata.from_pyproject(project.module)
    message = str(excinfo.value)
    for fragment in fragments:
        assert fragment in message
    assert str(project.pyproject.resolve()) in message


def test_the_valid_description_used_above_is_accepted(game_project):
    # The malformed cases are each one change away from this description.
    project = game_project(pyproject=described())
    assert GameMetadata.from_pyproject(project.module).observe_state == ["lives", "level"]


def test_module_without_create_game(game_project):
    project = game_project(source="from retro.game import Game\n")
    with pytest.raises(GameDescriptionError) as excinfo:
        GameMetadata.from_pyproject(project.module)
    assert f"'{project.module}'" in str(excinfo.value)
    assert "has no create_game()" in str(excinfo.value)


def test_create_game_that_returns_something_else(game_project):
    project = game_project(source="def create_game():\n    return 42\n")
    with pytest.raises(GameDescriptionError, match="returned int, not a retro Game"):
        GameMetadata.from_pyproject(project.module)


def test_module_that_does_not_exist():
    with pytest.raises(GameDescriptionError) as excinfo:
        GameMetadata.from_pyproject("rg_no_such_game_module")
    assert "Cannot find the game module 'rg_no_such_game_module'" in str(excinfo.value)


def test_no_pyproject_anywhere(game_project):
    project = game_project(pyproject=None)
    if any((folder / "pyproject.toml").is_file() for folder in project.root.parents):
        pytest.skip("the temporary folder lies inside a project with a pyproject.toml")
    with pytest.raises(GameDescriptionError) as excinfo:
        GameMetadata.from_pyproject(project.module)
    assert "No pyproject.toml found" in str(excinfo.value)
    assert f"'{project.module}'" in str(excinfo.value)


# The game's own code failing is reported as GameCrashed (a RetroGamerError, not a
# GameDescriptionError): the description is fine, the game is not.


def test_create_game_that_raises(game_project):
    project = game_project(
        source="def create_game():\n    raise RuntimeError('the board is on fire')\n"
    )
    with pytest.raises(GameCrashed) as excinfo:
        GameMetadata.from_pyproject(project.module)
    assert isinstance(excinfo.value, RetroGamerError)
    assert "create_game()" in str(excinfo.value)
    assert "RuntimeError: the board is on fire" in str(excinfo.value)


def test_module_that_fails_to_import(game_project):
    project = game_project(source="raise ImportError('needs a missing library')\n")
    with pytest.raises(GameCrashed) as excinfo:
        GameMetadata.from_pyproject(project.module)
    assert f"'{project.module}'" in str(excinfo.value)
    assert "needs a missing library" in str(excinfo.value)
