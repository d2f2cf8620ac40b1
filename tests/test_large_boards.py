"""Issue 13: a large board trains with a network whose size does not follow its area.

The egocentric view is bounded (``view_radius``) and a coarse summary of the whole
board joins the head; ``create`` and ``train`` state the network's size and warn
when a configuration is too costly to train at a useful rate.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import subprocess
import sys
import textwrap
import warnings

import pytest
import torch
from conftest import one_torch_thread

from retro_gamer import GameMetadata
from retro_gamer.config import Hyperparameters
from retro_gamer.networks import (
    SNAKE_MULTIPLY_ADDS,
    QNetwork,
    count_parameters,
    describe,
    multiply_adds,
    planned_network,
)
from retro_gamer.trainer import DQNTrainer, NetworkSizeWarning

FIELD_SOURCE = textwrap.dedent('''\
    """Field: a WIDTH x HEIGHT board, the player "@" walks to the goal "G" (+10, the end)."""
    from retro.game import Game

    WIDTH, HEIGHT = 400, 200


    class Goal:
        name = "goal"
        character = "G"

        def __init__(self):
            self.position = (WIDTH - 5, HEIGHT - 3)


    class Player:
        name = "player"
        character = "@"

        def __init__(self):
            self.position = (2, 1)
            self.move = (0, 0)

        def handle_keystroke(self, keystroke, game):
            self.move = {"KEY_LEFT": (-1, 0), "KEY_RIGHT": (1, 0), "KEY_UP": (0, -1),
                         "KEY_DOWN": (0, 1)}.get(keystroke.name, (0, 0))

        def play_turn(self, game):
            (dx, dy), self.move = self.move, (0, 0)
            x, y = self.position
            self.position = (min(max(x + dx, 0), WIDTH - 1), min(max(y + dy, 0), HEIGHT - 1))
            if self.position == game.get_agent_by_name("goal").position:
                game.state["score"] += 10
                game.end()


    def create_game():
        return Game([Player(), Goal()], {"score": 0}, board_size=(WIDTH, HEIGHT))
    ''')

FIELD_PYPROJECT = """\
[project]
name = "field"
version = "0.1.0"

[tool.retro-gamer]
actions = ["KEY_RIGHT", "KEY_UP", "KEY_LEFT", "KEY_DOWN"]
reward = "score"
character_set = ["@", "G"]
"""

CLI = [sys.executable, "-m", "retro_gamer.cli"]


def _field_game(width: int = 400, height: int = 200):
    spec = importlib.util.spec_from_loader("field", loader=None)
    module = importlib.util.module_from_spec(spec)
    source = FIELD_SOURCE.replace("400, 200", f"{width}, {height}")
    exec(compile(source, "<field>", "exec"), module.__dict__)
    return module.create_game


FIELD_METADATA = GameMetadata(actions=["KEY_RIGHT", "KEY_UP", "KEY_LEFT", "KEY_DOWN"],
                              reward="score", character_set=["@", "G"], module="field")


@pytest.fixture(autouse=True)
def _one_torch_thread():
    with one_torch_thread():
        yield


def reference_view(board: torch.Tensor, player: int, radius: int) -> torch.Tensor:
    """The egocentric view cell by cell: ``(2r+1)`` cells each way, capped at ``2n-1``."""
    height, width = board.shape
    spots = (board == player).nonzero().tolist()
    row, col = spots[0] if spots else (height // 2, width // 2)
    vh = min(2 * height - 1, 2 * radius + 1) if radius else 2 * height - 1
    vw = min(2 * width - 1, 2 * radius + 1) if radius else 2 * width - 1
    view = torch.full((vh, vw), QNetwork.WALL, dtype=torch.uint8)
    for i in range(vh):
        for j in range(vw):
            y, x = row + i - vh // 2, col + j - vw // 2
            if 0 <= y < height and 0 <= x < width:
                view[i, j] = board[y, x]
    return view


@pytest.mark.parametrize("board_size,radius", [((9, 5), 0), ((9, 5), 31), ((9, 5), 2),
                                               ((23, 17), 4), ((6, 13), 3)])
def test_the_view_matches_a_cell_by_cell_reference(board_size, radius):
    width, height = board_size
    net = QNetwork(3, board_size, 0, 5, 1, 8, True, center_on="x", center_codes=[3],
                   view_radius=radius)
    generator = torch.Generator().manual_seed(width * height + radius)
    boards = torch.randint(0, 3, (6, height, width), generator=generator, dtype=torch.uint8)
    for b in range(5):  # the player somewhere on five boards, nowhere on the last
        boards[b].view(-1)[int(torch.randint(0, width * height, (1,), generator=generator))] = 3
    views = net.recentre(boards)
    for b in range(6):
        assert torch.equal(views[b], reference_view(boards[b], 3, radius)), b


def test_the_summary_marks_the_blocks_where_each_character_occurs():
    net = QNetwork(2, (40, 20), 0, 5, 1, 8, True, center_on="x", center_codes=[2],
                   view_radius=3)
    assert net.summary_grid() == (16, 16)
    boards = torch.zeros(1, 20, 40, dtype=torch.uint8)
    boards[0, 19, 39] = 1  # bottom-right corner: the last block of blocks 2x3 cells
    boards[0, 0, 0] = 2
    summary = net.summary(boards)
    assert summary.shape == (1, 2, 16, 16)
    assert summary[0, 0].nonzero().tolist() == [[9, 13]]  # 20 rows / 16 -> 2; 40 / 16 -> 3
    assert summary[0, 1].nonzero().tolist() == [[0, 0]]


def test_a_400x200_board_builds_a_bounded_network_and_trains(tmp_path):
    trainer = DQNTrainer(_field_game(), FIELD_METADATA, tmp_path / "run", device="cpu",
                         training_episodes=2, max_turns_per_episode=20, batch_size=8,
                         memory_capacity=100, eval_episodes=0, seed=1)
    notes = []
    trainer.on_note = notes.append
    with warnings.catch_warnings():
        warnings.simplefilter("error", NetworkSizeWarning)
        result = trainer.train()
    net = trainer.network
    assert result.train_steps > 0
    assert net.view_size == (63, 63) and net.summary_grid() == (16, 16)
    # About twice the defaults on Snake (325,013), not the millions of a whole-board view.
    assert count_parameters(net) < 1_500_000
    assert notes == [f"network: {count_parameters(net):,} parameters, "
                     + notes[0].split(" parameters, ")[1]]
    text = describe(net, FIELD_METADATA.actions, ["@", "G"])
    assert "bounded view: view_radius = 31" in text and "16x16-block summary" in text
    # The replay buffer stores each board's summary beside it: the same Q-values either way.
    assert trainer.replay.extras.shape[1] == 2 * 16 * 16
    board = trainer.replay.boards[3]
    stored = torch.from_numpy(trainer.replay.extras[3])[None]
    with torch.no_grad():
        torch.testing.assert_close(net(torch.from_numpy(board)[None], stored),
                                   net(torch.from_numpy(board)[None], torch.zeros(1, 0)))
    # A new character widens every part of the network that sees characters, exactly.
    boards = torch.zeros(2, 200, 400, dtype=torch.uint8)
    boards[:, 100, 200], boards[0, 3, 7] = 1, 2
    with torch.no_grad():
        torch.testing.assert_close(net.widened(3)(boards, torch.zeros(2, 0)),
                                   net(boards, torch.zeros(2, 0)))


def test_the_yardstick_is_the_cost_of_todays_defaults_on_snake():
    """Sizes and warnings are stated in units of the defaults' network on Snake: the
    constant must follow the defaults (it went stale once, when conv_width became 8)."""
    snake = dataclasses.replace(GameMetadata.from_pyproject("retro.examples.snake"),
                                board_size=[32, 16])
    assert multiply_adds(planned_network(snake, Hyperparameters())) == SNAKE_MULTIPLY_ADDS


def test_an_oversized_network_is_named_with_its_size_when_training_starts(tmp_path):
    trainer = DQNTrainer(_field_game(120, 60), FIELD_METADATA, tmp_path / "run", device="cpu",
                         training_episodes=1, max_turns_per_episode=3, batch_size=8,
                         memory_capacity=100, eval_episodes=0, seed=1, view_radius=0)
    with pytest.warns(NetworkSizeWarning, match="times as costly per step as the defaults on "
                      r"Snake .*view_radius=31"):
        trainer.train()
    log = (tmp_path / "run" / "training.log").read_text(encoding="utf-8")
    assert "# warning: this network is" in log


def test_create_states_the_size_and_warns_for_an_oversized_configuration(tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    (project / "field.py").write_text(FIELD_SOURCE, encoding="utf-8")
    (project / "pyproject.toml").write_text(FIELD_PYPROJECT, encoding="utf-8")
    bounded = subprocess.run([*CLI, "create", "--game", "field", "--output", "bounded"],
                             cwd=project, capture_output=True, text=True)
    assert bounded.returncode == 0, bounded.stderr
    assert "network: 627,317 parameters" in bounded.stdout and "warning" not in bounded.stderr
    whole = subprocess.run([*CLI, "create", "--game", "field", "--output", "whole",
                            "--view-radius", "0"], cwd=project, capture_output=True, text=True)
    assert whole.returncode == 0, whole.stderr
    assert "network: 40,997,493 parameters" in whole.stdout.replace("\n", " ")
    message = " ".join(whole.stderr.split())
    assert "warning: this network is" in message and "view_radius=31" in message
    assert "Traceback" not in whole.stderr


def test_a_checkpoint_from_before_the_bound_resumes_on_a_board_it_does_not_cut(tmp_path):
    from gamekit import corridor_metadata, create_corridor

    from retro_gamer.run_dir import RunDirectory

    settings = dict(device="cpu", max_turns_per_episode=10, batch_size=8, memory_capacity=50,
                    eval_episodes=0, seed=3, checkpoint_every=1, layer_size=8)
    run = tmp_path / "run"
    DQNTrainer(create_corridor, corridor_metadata(spatial=True), run, training_episodes=1,
               **settings).train()
    path = run / "checkpoints" / "ep_0001.pt"
    state = torch.load(path, weights_only=True)
    del state["network"]["view_radius"]  # as written before view_radius existed
    torch.save(state, path)
    RunDirectory(run).update_config(hyper={"training_episodes": 2})
    result = DQNTrainer(create_corridor, corridor_metadata(spatial=True), run).train(
        resume="latest")
    assert result.episodes_done == 2
