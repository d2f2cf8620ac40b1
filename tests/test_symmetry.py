"""Symmetric experience: a game's declared mirrors, checked against the game itself.

A declared symmetry is only worth anything if a transformed transition is one the game
could have produced. These tests play real Snake games side by side with their mirror
images and compare what retro-gamer's transform makes of one with what the other shows.
"""

from __future__ import annotations

import random
import subprocess
import sys

import numpy as np
import pytest
import retro.examples.snake as snake
from conftest import CHAR_GAME_SOURCE

from retro_gamer.config import GameMetadata
from retro_gamer.env import GameEnvironment
from retro_gamer.errors import GameDescriptionError
from retro_gamer.games import find_create_game, load_metadata
from retro_gamer.replay import Batch
from retro_gamer.symmetry import SymmetryGroup

HEAD_GLYPH = {snake.SnakeHead.RIGHT: ">", snake.SnakeHead.UP: "^",
              snake.SnakeHead.LEFT: "<", snake.SnakeHead.DOWN: "v"}


def mirrored_snake(game, flip_rows: bool, flip_columns: bool):
    """A fresh Snake game that is ``game``'s mirror image (head, direction and apple)."""
    width, height = game.board_size
    head, apple = game.get_agent_by_name("Snake head"), game.get_agent_by_name("Apple")
    other = snake.create_game()
    other_head, other_apple = other.get_agent_by_name("Snake head"), other.get_agent_by_name(
        "Apple")

    def mirror(position):
        x, y = position
        return (width - 1 - x if flip_columns else x, height - 1 - y if flip_rows else y)

    other_head.position, other_apple.position = mirror(head.position), mirror(apple.position)
    dx, dy = head.direction
    other_head.direction = (-dx if flip_columns else dx, -dy if flip_rows else dy)
    other_head.character = HEAD_GLYPH[other_head.direction]
    return other


@pytest.mark.parametrize("element", [1, 2, 3])
def test_a_mirrored_snake_transition_is_one_the_game_produces(element):
    """Play Snake and its mirror image with mirrored keys: every board of the mirror game
    is the transform of the original's, and every action maps to the key that made it."""
    metadata = load_metadata("retro.examples.snake")
    random.seed(element)
    original = snake.create_game()
    group_env = GameEnvironment(lambda: original, metadata)
    group = SymmetryGroup(metadata.symmetries, metadata.actions, group_env.encoder.codes, [])
    assert len(group) == 4
    symmetry = group.elements[element]
    mirror = mirrored_snake(original, symmetry.flip_rows, symmetry.flip_columns)
    env, mirror_env = group_env, GameEnvironment(lambda: mirror, metadata)
    env.start()
    mirror_env.start()
    rng = random.Random(element)
    compared = 0
    while not env.done and compared < 60:
        assert np.array_equal(symmetry.board(env.board), mirror_env.board)
        action = rng.randrange(env.n_actions)
        score = original.state["score"]
        env.act(action)
        mirror_env.act(int(symmetry.actions[action]))
        if original.state["score"] != score:
            break  # the apple moves to a random cell: the two games part there
        compared += 1
    assert compared >= 5
    assert env.done == mirror_env.done


def test_transform_batch_maps_boards_actions_and_signs_alike():
    codes = {"<": 1, ">": 2, "^": 3, "v": 4}
    symmetries = {"left-right": {"actions": [["L", "R"]], "characters": [["<", ">"]],
                                 "negate_state": ["dx"]}}
    group = SymmetryGroup(symmetries, ["L", "R", "U"], codes, ["dx", "dy"])
    assert len(group) == 2
    board = np.array([[1, 0, 3], [0, 2, 0]], dtype=np.uint8)
    batch = Batch(boards=np.stack([board] * 64), extras=np.tile([[0.5, 0.25, 7.0]], (64, 1)),
                  actions=np.zeros(64, dtype=np.int64), rewards=np.ones(64, np.float32),
                  next_boards=np.stack([board] * 64),
                  next_extras=np.tile([[0.5, 0.25, 7.0]], (64, 1)),
                  dones=np.zeros(64, np.float32), weights=np.ones(64, np.float32),
                  indices=np.arange(64))
    out = group.transform_batch(batch, np.random.default_rng(0))
    flipped = out.actions == 1
    assert 10 < flipped.sum() < 54  # the identity and the mirror, about half each
    assert np.array_equal(out.boards[flipped][0], [[3, 0, 2], [0, 1, 0]])
    assert np.array_equal(out.boards[~flipped][0], board)
    assert np.array_equal(out.next_boards, out.boards)
    assert np.allclose(out.extras[flipped][0], [-0.5, 0.25, 7.0])  # the summary part stays
    assert np.allclose(out.extras[~flipped][0], [0.5, 0.25, 7.0])
    assert np.array_equal(batch.boards[0], board)  # the replay buffer's rows are not touched


BAD_DECLARATIONS = [
    ('[tool.retro-gamer.symmetries.left-rigth]\nactions = [["a", "d"]]\n',
     "unknown mirror 'left-rigth'. Did you mean 'left-right'?"),
    ('[tool.retro-gamer.symmetries.left-right]\nactions = [["a", "w"]]\n',
     "the action 'w' is not one of the game's actions"),
    ('[tool.retro-gamer.symmetries.left-right]\ncharacters = [["@", "#"]]\n',
     "the character '#' is not in the character_set"),
    ('[tool.retro-gamer.symmetries.left-right]\nactions = ["a", "d"]\n',
     "'actions' must be a list of pairs"),
    ('[tool.retro-gamer.symmetries.left-right]\nactions = [["a", "d"], ["d", "a"]]\n',
     "is in more than one pair"),
    ('[tool.retro-gamer.symmetries.left-right]\nnegate_state = ["score"]\n',
     "'negate_state' names 'score', which is not in observe_state"),
]


@pytest.mark.parametrize(("declaration", "message"), BAD_DECLARATIONS)
def test_an_invalid_declaration_is_one_clear_error_at_create_and_changes_nothing(
        game_project, tmp_path, declaration, message):
    from conftest import CHAR_GAME_PYPROJECT

    project = game_project(pyproject=CHAR_GAME_PYPROJECT + "\n" + declaration,
                           source=CHAR_GAME_SOURCE)
    out = tmp_path / "run"
    result = subprocess.run(
        [sys.executable, "-m", "retro_gamer.cli", "create", "--game", project.module,
         "--output", str(out)], cwd=project.root, capture_output=True, text=True)
    assert result.returncode != 0
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert not out.exists()


def test_a_declaration_is_checked_when_the_description_is_read():
    with pytest.raises(GameDescriptionError, match="unknown key 'action'. Did you mean"):
        GameMetadata.from_mapping(
            {"actions": ["a", "d"], "reward": "score",
             "symmetries": {"left-right": {"action": [["a", "d"]]}}}, "test")


# ------------------------------------------------------------------ a game with gravity
#
# The suite's Catch (retro_gamer/suite/games/catch) drops balls onto a paddle at the
# bottom: its rules keep the left-right mirror and not the up-down one, and its
# description declares only the first.

CATCH = "retro_gamer.suite.games.catch"


def mirrored_catch(game):
    """A fresh Catch game that is ``game``'s left-right mirror image (paddle and ball)."""
    from retro_gamer.suite.games import catch

    other = catch.create_game()
    for name in ("paddle", "ball"):
        x, y = game.get_agent_by_name(name).position
        other.get_agent_by_name(name).position = (catch.WIDTH - 1 - x, y)
    return other


def test_catch_declares_the_left_right_mirror_and_not_the_up_down_one():
    metadata = load_metadata(CATCH)
    assert set(metadata.symmetries) == {"left-right"}
    assert metadata.symmetries["left-right"]["actions"] == [["KEY_LEFT", "KEY_RIGHT"]]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_mirrored_catch_game_is_one_the_game_produces(seed):
    """Play Catch and its mirror image with mirrored keys through whole games: every board
    of the mirror game is the declared mirror's transform of the original's, and so is
    every score. Where a new ball appears at random, the mirror's is put in the mirrored
    column (the game draws every column alike, so that is a game it produces too)."""
    metadata = load_metadata(CATCH)
    random.seed(seed)
    original = find_create_game(CATCH)()
    env = GameEnvironment(lambda: original, metadata)
    group = SymmetryGroup(metadata.symmetries, metadata.actions, env.encoder.codes, [])
    assert len(group) == 2  # the identity and the left-right mirror
    symmetry = group.elements[1]
    assert symmetry.flip_columns and not symmetry.flip_rows
    mirror = mirrored_catch(original)
    mirror_env = GameEnvironment(lambda: mirror, metadata)
    env.start()
    mirror_env.start()
    rng = random.Random(seed)
    turns, balls = 0, 0
    while not env.done:
        # The mirror game as drawn now (its environment's board predates a moved ball).
        assert np.array_equal(symmetry.board(env.board), mirror_env.encoder.encode(mirror))
        assert original.state["score"] == mirror.state["score"]
        action = rng.randrange(env.n_actions)
        ball_row = original.get_agent_by_name("ball").position[1]
        env.act(action)
        mirror_env.act(int(symmetry.actions[action]))
        if original.get_agent_by_name("ball").position[1] < ball_row:  # a new ball
            x, y = original.get_agent_by_name("ball").position
            mirror.get_agent_by_name("ball").position = (original.board_size[0] - 1 - x, y)
            balls += 1
        turns += 1
    assert mirror_env.done and turns == 70 and balls == 10
    assert original.state["score"] == mirror.state["score"]


def test_catch_seen_upside_down_is_a_board_the_game_never_draws():
    """Why up-down is not declared: flipped, the paddle is on the top row, and in no turn
    of any game is it anywhere but the bottom one (nor does a ball ever rise)."""
    metadata = load_metadata(CATCH)
    random.seed(3)
    game = find_create_game(CATCH)()
    env = GameEnvironment(lambda: game, metadata)
    paddle = env.encoder.codes["="]
    env.start()
    rng = random.Random(3)
    while not env.done:
        assert set(np.flatnonzero((env.board == paddle).any(axis=1))) == {env.board.shape[0] - 1}
        upside_down = env.board[::-1, :]
        assert not (upside_down[-1] == paddle).any()  # no paddle where the game keeps it
        env.act(rng.randrange(env.n_actions))


# ------------------------------------------------------------------ an open field
#
# The suite's field (retro_gamer/suite/games/field) is an open 64x24 board with one coin
# at a uniformly random cell: its rules keep both mirrors, and its description declares
# them (the mirrored start is a cell off the centre, a position the player reaches).

FIELD = "retro_gamer.suite.games.field"


@pytest.mark.parametrize("element", [1, 2, 3])
def test_a_mirrored_field_game_is_one_the_game_produces(element):
    """Play field and its mirror image with mirrored keys through a whole game: every
    board of the mirror game is the transform of the original's, and so is the score.
    Where a collected coin reappears at random, the mirror's is put in the mirrored cell
    (the game draws every cell alike, so that is a game it produces too)."""
    metadata = load_metadata(FIELD)
    assert set(metadata.symmetries) == {"left-right", "up-down"}
    random.seed(element)
    original = find_create_game(FIELD)()
    env = GameEnvironment(lambda: original, metadata)
    group = SymmetryGroup(metadata.symmetries, metadata.actions, env.encoder.codes, [])
    assert len(group) == 4
    symmetry = group.elements[element]
    width, height = original.board_size

    def mirrored(position):
        x, y = position
        return (width - 1 - x if symmetry.flip_columns else x,
                height - 1 - y if symmetry.flip_rows else y)

    mirror = find_create_game(FIELD)()
    for name in ("player", "coin"):
        mirror.get_agent_by_name(name).position = mirrored(
            original.get_agent_by_name(name).position)
    mirror_env = GameEnvironment(lambda: mirror, metadata)
    env.start()
    mirror_env.start()
    rng = random.Random(element)
    turns = 0
    # A walk that mostly heads for the coin, so that coins are collected and redrawn.
    while not env.done:
        assert np.array_equal(symmetry.board(env.board), mirror_env.encoder.encode(mirror))
        assert original.state["score"] == mirror.state["score"]
        player = original.get_agent_by_name("player").position
        coin = original.get_agent_by_name("coin").position
        toward = ([0] if coin[0] > player[0] else [2] if coin[0] < player[0] else []) + \
                 ([3] if coin[1] > player[1] else [1] if coin[1] < player[1] else [])
        action = rng.choice(toward) if toward and rng.random() < 0.9 else rng.randrange(4)
        score = original.state["score"]
        env.act(action)
        mirror_env.act(int(symmetry.actions[action]))
        if original.state["score"] != score:  # a new coin, drawn at random
            mirror.get_agent_by_name("coin").position = mirrored(
                original.get_agent_by_name("coin").position)
        turns += 1
    assert mirror_env.done and turns == 200 and original.state["score"] >= 2
    assert original.state["score"] == mirror.state["score"]
