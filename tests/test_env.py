"""GameEnvironment on real retro games: observation layout, rewards, episodes, crashes."""

from __future__ import annotations

import dataclasses
import os
import random
import signal
import sys

import numpy as np
import pytest
from retro.examples import snake
from retro.game import Game
from retro.views import HeadlessView

from retro_gamer import GameEnvironment, GameMetadata
from retro_gamer.errors import GameCrashed
from retro_gamer.games import find_create_game

SNAKE_WIDTH, SNAKE_HEIGHT = 32, 16
HEAD_CHARACTERS = {">", "<", "^", "v"}


@pytest.fixture
def snake_metadata() -> GameMetadata:
    return GameMetadata.from_pyproject("retro.examples.snake")


def rendered(game) -> list[list[str]]:
    """What retro's own HeadlessView shows for the game: ``board[y][x]``."""
    view = HeadlessView()
    view.on_game_start(game)
    view.render(game)
    return view.board_characters


def expected_one_hot(board: list[list[str]], characters: list[str]) -> np.ndarray:
    """``(H, W, C)`` one-hot built cell by cell from a rendered board."""
    height, width = len(board), len(board[0])
    expected = np.zeros((height, width, len(characters)), dtype=np.float32)
    for y in range(height):
        for x in range(width):
            for c, character in enumerate(characters):
                if board[y][x] == character:
                    expected[y, x, c] = 1.0
    return expected


def board_part(obs: np.ndarray, env: GameEnvironment) -> np.ndarray:
    """The observation's board as ``(H, W, C)``, whatever layout the game uses."""
    width, height = env.board_size
    channels = len(env.character_set)
    flat = obs[: channels * height * width]
    if env.metadata.spatial:
        return flat.reshape(channels, height, width).transpose(1, 2, 0)
    return flat.reshape(height, width, channels)


def fresh_snake_board(game) -> list[list[str]]:
    """A fresh Snake game's true board (head and apple only), from the agents' positions.

    retro's HeadlessView cannot be used before the first turn: Snake's create_game
    moves the apple after retro cached the positions, and the view draws the cache.
    """
    board = [[" "] * SNAKE_WIDTH for _ in range(SNAKE_HEIGHT)]
    for name in ("Snake head", "Apple"):
        agent = game.get_agent_by_name(name)
        x, y = agent.position
        board[y][x] = agent.character
    return board


def place(env: GameEnvironment, head: tuple[int, int], apple: tuple[int, int]) -> None:
    """Move Snake's head and apple (a fresh game: no body yet)."""
    env.game.get_agent_by_name("Snake head").position = head
    env.game.get_agent_by_name("Apple").position = apple


# ------------------------------------------------------------------ observation layout


@pytest.mark.parametrize("spatial", [True, False], ids=["spatial-CHW", "flat-HWC"])
def test_one_hot_matches_the_rendered_board_cell_by_cell(snake_metadata, spatial):
    random.seed(20240601)
    rng = random.Random(7)
    metadata = dataclasses.replace(snake_metadata, spatial=spatial)
    env = GameEnvironment(snake.create_game, metadata)
    characters = metadata.character_set
    size = len(characters) * SNAKE_HEIGHT * SNAKE_WIDTH
    seen: set[str] = set()

    def check(obs, board=None):
        assert obs.dtype == np.float32 and obs.shape == (size,)
        board = rendered(env.game) if board is None else board
        seen.update(c for row in board for c in row)
        np.testing.assert_array_equal(board_part(obs, env), expected_one_hot(board, characters))

    obs = env.reset()
    check(obs, fresh_snake_board(env.game))
    place(env, head=(10, 8), apple=(11, 8))
    obs, reward, _ = env.step("KEY_RIGHT")  # eats the apple and grows a '*' segment
    assert reward == 50.0
    check(obs)
    for _ in range(150):
        obs, _, done = env.step(rng.choice([*metadata.actions, None]))
        check(obs)
        if done:
            obs = env.reset()
            check(obs, fresh_snake_board(env.game))
    # The comparison covered the apple, the body and several head directions.
    assert {"@", "*"} <= seen
    assert len(seen & HEAD_CHARACTERS) >= 2


def test_spatial_layout_is_channel_first(snake_metadata):
    env = GameEnvironment(snake.create_game, snake_metadata)
    env.reset()
    place(env, head=(10, 8), apple=(20, 3))
    obs, _, _ = env.step("KEY_RIGHT")
    board = obs.reshape(len(snake_metadata.character_set), SNAKE_HEIGHT, SNAKE_WIDTH)
    apple, head = snake_metadata.character_set.index("@"), snake_metadata.character_set.index(">")
    assert board[apple, 3, 20] == 1.0 and board[apple].sum() == 1.0
    assert board[head, 8, 11] == 1.0 and board[head].sum() == 1.0
    assert obs.sum() == 2.0


def test_flat_layout_is_height_width_channel(snake_metadata):
    env = GameEnvironment(snake.create_game, dataclasses.replace(snake_metadata, spatial=False))
    env.reset()
    place(env, head=(10, 8), apple=(20, 3))
    obs, _, _ = env.step("KEY_RIGHT")
    channels = len(snake_metadata.character_set)
    apple, head = snake_metadata.character_set.index("@"), snake_metadata.character_set.index(">")
    assert obs[(3 * SNAKE_WIDTH + 20) * channels + apple] == 1.0
    assert obs[(8 * SNAKE_WIDTH + 11) * channels + head] == 1.0
    assert obs.sum() == 2.0


def test_first_observation_shows_the_apple_where_it_is(snake_metadata):
    random.seed(11)
    env = GameEnvironment(snake.create_game, snake_metadata)
    for _ in range(20):
        obs = env.reset()
        np.testing.assert_array_equal(
            board_part(obs, env),
            expected_one_hot(fresh_snake_board(env.game), snake_metadata.character_set),
        )


def test_characters_outside_the_character_set_are_empty_cells(snake_metadata):
    metadata = dataclasses.replace(snake_metadata, character_set=["@"])
    env = GameEnvironment(snake.create_game, metadata)
    obs = env.reset()
    assert obs.shape == (SNAKE_HEIGHT * SNAKE_WIDTH,)
    apple_x, apple_y = env.game.get_agent_by_name("Apple").position
    assert obs.sum() == 1.0  # the head is drawn but has no channel
    assert obs.reshape(SNAKE_HEIGHT, SNAKE_WIDTH)[apple_y, apple_x] == 1.0


# --------------------------------------------------------------------- observe_state


def test_observe_state_values_are_appended_in_order(snake_metadata):
    keys = ["apple_dy", "energy", "apple_dx"]
    metadata = dataclasses.replace(snake_metadata, observe_state=keys)
    env = GameEnvironment(snake.create_game, metadata)
    board_size = len(metadata.character_set) * SNAKE_HEIGHT * SNAKE_WIDTH
    assert env.observation_size == board_size + 3

    def check(obs, board=None):
        assert obs.shape == (board_size + 3,)
        expected = np.array([env.game.state[k] for k in keys], dtype=np.float32)
        np.testing.assert_array_equal(obs[board_size:], expected)
        board = rendered(env.game) if board is None else board
        np.testing.assert_array_equal(
            board_part(obs, env), expected_one_hot(board, metadata.character_set)
        )

    obs = env.reset()
    check(obs, fresh_snake_board(env.game))
    place(env, head=(10, 8), apple=(13, 8))
    for _ in range(2):
        obs, _, _ = env.step("KEY_RIGHT")
        check(obs)
    assert obs[board_size + 1] == 148.0  # energy fell by one a move
    obs, _, _ = env.step("KEY_RIGHT")  # eats: energy back to 150, apple moved
    check(obs)
    assert obs[board_size + 1] == 150.0


# ---------------------------------------------------------------- rewards and episodes


def test_reward_is_the_change_of_the_reward_key(snake_metadata):
    env = GameEnvironment(snake.create_game, snake_metadata)
    env.reset()
    place(env, head=(10, 8), apple=(11, 8))
    _, reward, done = env.step("KEY_RIGHT")
    assert (reward, done) == (50.0, False)
    assert env.game.state["score"] == 50

    env.game.get_agent_by_name("Apple").position = (30, 1)
    _, reward, done = env.step(None)
    assert (reward, done) == (0.0, False)

    env.game.get_agent_by_name("Apple").position = (13, 8)  # right ahead of the head (12, 8)
    _, reward, _ = env.step("KEY_RIGHT")
    assert reward == 50.0  # the change, not the running score of 100
    assert env.game.state["score"] == 100


def test_reward_follows_the_configured_key(snake_metadata):
    env = GameEnvironment(snake.create_game, dataclasses.replace(snake_metadata, reward="energy"))
    env.reset()
    place(env, head=(10, 8), apple=(20, 3))
    _, reward, _ = env.step("KEY_RIGHT")
    assert reward == -1.0


def test_hitting_the_wall_ends_the_episode(snake_metadata):
    env = GameEnvironment(snake.create_game, snake_metadata)
    env.reset()
    place(env, head=(1, 8), apple=(11, 8))
    _, reward, done = env.step("KEY_LEFT")
    assert (reward, done) == (0.0, False)
    _, reward, done = env.step("KEY_LEFT")  # from x=0 into the wall
    assert done is True
    assert reward == 0.0
    assert env.done
    with pytest.raises(RuntimeError, match="reset"):
        env.step("KEY_UP")


def test_reset_starts_a_fresh_game_and_reward_baseline(snake_metadata):
    env = GameEnvironment(snake.create_game, snake_metadata)
    env.reset()
    place(env, head=(10, 8), apple=(11, 8))
    assert env.step("KEY_RIGHT")[1] == 50.0
    old_game = env.game
    env.reset()
    assert env.game is not old_game
    assert env.game.state["score"] == 0 and not env.done
    place(env, head=(10, 8), apple=(20, 3))
    _, reward, _ = env.step("KEY_RIGHT")
    assert reward == 0.0  # not -50: the baseline is the new game's score


# ---------------------------------------------------------------------------- actions


def test_the_specifications_snippet_runs_as_written():
    from retro.examples.snake import create_game

    from retro_gamer import GameEnvironment

    metadata = GameMetadata.from_pyproject("retro.examples.snake")
    env = GameEnvironment(create_game, metadata)
    obs = env.reset()  # returns initial observation vector
    assert isinstance(obs, np.ndarray) and obs.dtype == np.float32 and obs.ndim == 1
    obs, reward, done = env.step("KEY_RIGHT")
    assert isinstance(obs, np.ndarray) and obs.dtype == np.float32
    assert obs.shape == (6 * 16 * 32,)
    assert isinstance(reward, float)
    assert isinstance(done, bool)
    assert env.n_actions == 5


@pytest.mark.parametrize("no_op", [None, 4], ids=["None", "last-index"])
def test_no_op_keeps_the_snake_going_its_way(snake_metadata, no_op):
    env = GameEnvironment(snake.create_game, snake_metadata)
    env.reset()
    place(env, head=(10, 8), apple=(20, 3))
    env.step("KEY_UP")
    head = env.game.get_agent_by_name("Snake head")
    assert (head.position, head.character) == ((10, 7), "^")
    env.step(no_op)
    assert (head.position, head.character) == ((10, 6), "^")


def test_action_index_presses_that_action(snake_metadata):
    env = GameEnvironment(snake.create_game, snake_metadata)
    env.reset()
    place(env, head=(10, 8), apple=(20, 3))
    env.step(snake_metadata.actions.index("KEY_DOWN"))
    head = env.game.get_agent_by_name("Snake head")
    assert (head.position, head.character) == ((10, 9), "v")


def test_no_op_in_a_character_key_game(game_project):
    project = game_project()
    env = GameEnvironment(find_create_game(project.module),
                          GameMetadata.from_pyproject(project.module))
    first = env.reset()
    obs, reward, done = env.step(None)
    np.testing.assert_array_equal(obs, first)
    assert (reward, done) == (0.0, False)
    obs, _, _ = env.step("a")
    assert not np.array_equal(obs, first)


@pytest.mark.parametrize("action", ["KEY_RIGTH", "KEY_F1", "w", "", 5, -1, True, 1.0])
def test_unknown_action_is_refused(snake_metadata, action):
    env = GameEnvironment(snake.create_game, snake_metadata)
    env.reset()
    with pytest.raises(ValueError) as excinfo:
        env.step(action)
    assert repr(action) in str(excinfo.value)
    assert "KEY_RIGHT" in str(excinfo.value)  # lists what is allowed


# ------------------------------------------------------------------ character discovery


def test_discovery_finds_snakes_characters(snake_metadata):
    random.seed(3)
    metadata = dataclasses.replace(snake_metadata, character_set=None)
    env = GameEnvironment(
        snake.create_game, metadata, exploration_turns=200, rng=random.Random(3)
    )
    found = env.character_set
    assert "@" in found
    assert set(found) & HEAD_CHARACTERS
    assert set(found) <= {"@", "*"} | HEAD_CHARACTERS
    assert found == sorted(found)
    assert env.reset().shape == (len(found) * SNAKE_HEIGHT * SNAKE_WIDTH,)


def _straight_snake():
    """Snake heading right with the apple just ahead: any key in ("KEY_RIGHT", no-op) eats it."""
    head = snake.SnakeHead()
    head.position, head.direction, head.character = (10, 8), snake.SnakeHead.RIGHT, ">"
    apple = snake.Apple()
    apple.position = (11, 8)
    state = {"score": 0, "reward": 0, "energy": 150, "apple_dx": 0.0, "apple_dy": 0.0}
    return Game([head, apple], state, board_size=(SNAKE_WIDTH, SNAKE_HEIGHT))


def test_discovery_with_enough_turns_finds_the_body():
    metadata = GameMetadata(actions=["KEY_RIGHT"], reward="score", character_set=None)
    env = GameEnvironment(_straight_snake, metadata, exploration_turns=30, rng=random.Random(0))
    assert env.character_set == ["*", ">", "@"]
    obs = env.reset()
    assert obs.shape == (3 * SNAKE_HEIGHT * SNAKE_WIDTH,)
    obs, reward, _ = env.step("KEY_RIGHT")
    assert reward == 50.0
    np.testing.assert_array_equal(
        board_part(obs, env), expected_one_hot(rendered(env.game), env.character_set)
    )


# ------------------------------------------------------------------------- crashes


class _Fuse:
    """An agent whose code fails on the third turn."""

    name = "fuse"
    character = "F"
    position = (1, 1)

    def play_turn(self, game):
        if game.turn_number == 3:
            raise ZeroDivisionError("the fuse ran out")


def _fuse_game():
    return Game([_Fuse()], {"score": 0}, board_size=(3, 3))


FUSE = GameMetadata(actions=["a"], reward="score", character_set=["F"], module="fuse_game")


def test_game_raising_mid_episode_raises_game_crashed():
    env = GameEnvironment(_fuse_game, FUSE)
    env.reset()
    env.step("a")
    env.step(None)
    with pytest.raises(GameCrashed) as excinfo:
        env.step("a")
    message = str(excinfo.value)
    assert "ZeroDivisionError" in message
    assert "the fuse ran out" in message
    assert "turn 3" in message
    assert isinstance(excinfo.value.__cause__, ZeroDivisionError)


def test_create_game_raising_raises_game_crashed():
    def broken():
        raise KeyError("no board today")

    with pytest.raises(GameCrashed, match="KeyError"):
        GameEnvironment(broken, FUSE)


def test_game_raising_during_discovery_raises_game_crashed():
    metadata = dataclasses.replace(FUSE, character_set=None)
    with pytest.raises(GameCrashed) as excinfo:
        GameEnvironment(_fuse_game, metadata, exploration_turns=10, rng=random.Random(0))
    assert "ZeroDivisionError" in str(excinfo.value)
    assert "the fuse ran out" in str(excinfo.value)


class _Stepper:
    """An invisible agent running ``action`` each turn: the game's own code."""

    name, display, position = "stepper", False, (0, 0)

    def __init__(self, action):
        self.action = action

    def play_turn(self, game):
        self.action()


def _game_doing(action):
    return lambda: Game([_Stepper(action)], {"score": 0}, board_size=(3, 1))


def _busy_until_interrupted():
    os.kill(os.getpid(), signal.SIGINT)
    for _ in range(10**8):  # the signal arrives between two of these instructions
        pass


def _raise(error):
    raise error


@pytest.mark.parametrize("handler", ["default", "raising"])
def test_ctrl_c_while_the_game_runs_is_the_users_stop_not_the_games_crash(handler):
    """Issue 25, 2: a KeyboardInterrupt the game raises is its crash; one made by Ctrl+C
    (Python's default handler, or a handler that raises, as the trainer's second Ctrl+C
    does) arriving while the game's code runs stays a KeyboardInterrupt."""
    metadata = GameMetadata(actions=["a"], reward="score", character_set=["@"],
                            spatial=False, module="ctrl_c_game")
    own = GameEnvironment(_game_doing(lambda: _raise(KeyboardInterrupt("mine"))), metadata)
    own.start()
    with pytest.raises(GameCrashed, match="raised KeyboardInterrupt during turn 1 of episode 1"):
        own.act(0)
    exits = GameEnvironment(_game_doing(sys.exit), metadata)
    exits.start()
    with pytest.raises(GameCrashed, match="raised SystemExit during turn 1"):
        exits.act(0)

    def stop(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGINT,
                             signal.default_int_handler if handler == "default" else stop)
    try:
        env = GameEnvironment(_game_doing(_busy_until_interrupted), metadata)
        env.start()
        with pytest.raises(KeyboardInterrupt):
            env.act(0)
    finally:
        signal.signal(signal.SIGINT, previous)
