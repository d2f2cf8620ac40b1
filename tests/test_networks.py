"""Q-networks: output sizes, observed state, widening for new characters, the rationale text."""

from __future__ import annotations

import re

import pytest
import torch

from retro_gamer import GameMetadata
from retro_gamer.networks import QNetwork, count_parameters, describe

SNAKE_ACTIONS = ["KEY_RIGHT", "KEY_UP", "KEY_LEFT", "KEY_DOWN"]


def network(spatial: bool, n_channels: int = 3, board=(7, 5), n_extras: int = 0,
            n_actions: int = 5, n_layers: int = 2, layer_size: int = 16, seed: int = 0):
    torch.manual_seed(seed)
    return QNetwork(n_channels, board, n_extras, n_actions, n_layers, layer_size, spatial)


def random_boards(n: int, board=(7, 5), n_channels: int = 3, seed: int = 1) -> torch.Tensor:
    """``(n, H, W)`` uint8 boards with codes 0 (empty) .. n_channels."""
    width, height = board
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(0, n_channels + 1, (n, height, width), generator=generator,
                         dtype=torch.uint8)


def no_extras(n: int) -> torch.Tensor:
    return torch.zeros(n, 0)


@pytest.mark.parametrize("spatial", [True, False])
@pytest.mark.parametrize("board", [(7, 5), (32, 16), (1, 9), (1, 1)])
def test_one_q_value_per_action_plus_the_no_op(spatial, board):
    metadata = GameMetadata(actions=SNAKE_ACTIONS, reward="score", spatial=spatial)
    assert metadata.n_actions == len(SNAKE_ACTIONS) + 1
    net = network(spatial, board=board, n_actions=metadata.n_actions, n_layers=1)
    q = net(random_boards(4, board), no_extras(4))
    assert q.shape == (4, len(SNAKE_ACTIONS) + 1)
    assert q.dtype == torch.float32 and torch.isfinite(q).all()


@pytest.mark.parametrize("spatial", [True, False])
def test_no_hidden_layers_is_allowed(spatial):
    net = network(spatial, n_layers=0)
    assert net(random_boards(2), no_extras(2)).shape == (2, 5)


@pytest.mark.parametrize("spatial", [True, False])
def test_observed_state_values_change_the_output(spatial):
    net = network(spatial, n_extras=2)
    boards = random_boards(1).repeat(3, 1, 1)
    extras = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, -2.0]])
    q = net(boards, extras)
    assert not torch.allclose(q[0], q[1]) and not torch.allclose(q[0], q[2])
    # ... and only they: the same board and extras give the same values.
    torch.testing.assert_close(net(boards[:1], extras[:1]), q[:1])


@pytest.mark.parametrize("spatial", [True, False])
def test_the_board_changes_the_output(spatial):
    net = network(spatial)
    boards = random_boards(2)
    q = net(boards, no_extras(2))
    assert not torch.allclose(q[0], q[1])


@pytest.mark.parametrize("spatial", [True, False])
def test_widened_network_computes_the_same_q_values_without_the_new_character(spatial):
    old = network(spatial, n_channels=3, n_extras=2, seed=3)
    wider = old.widened(4)
    assert wider.n_channels == 4 and wider is not old
    boards = random_boards(32, n_channels=3, seed=4)  # codes 0..3 only
    extras = torch.randn(32, 2, generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        assert torch.equal(wider(boards, extras), old(boards, extras))

        # The new character starts out as an empty cell would ...
        with_new = boards.clone()
        with_new[:, 0, 0] = 4
        as_empty = boards.clone()
        as_empty[:, 0, 0] = 0
        assert torch.equal(wider(with_new, extras), old(as_empty, extras))

    # ... but its channel is wired in: training can learn a weight for it.
    wider(with_new, extras).sum().backward()
    first = wider.features[0] if spatial else wider.head[0]
    assert first.weight.grad is not None
    if spatial:
        assert first.weight.grad[:, 3].abs().sum() > 0
    else:
        width, height = 7, 5
        grid = first.weight.grad[:, : height * width * 4].reshape(-1, height, width, 4)
        assert grid[:, 0, 0, 3].abs().sum() > 0


def test_widened_spatial_network_keeps_every_old_weight():
    old = network(True, n_channels=3, n_extras=1)
    wider = old.widened(5)
    old_state, new_state = old.state_dict(), wider.state_dict()
    assert old_state.keys() == new_state.keys()
    for key in old_state:
        if key == "features.0.weight":
            assert new_state[key].shape == (old.CONV1, 5, 3, 3)
            assert torch.equal(new_state[key][:, :3], old_state[key])
            assert torch.count_nonzero(new_state[key][:, 3:]) == 0
        else:
            assert torch.equal(new_state[key], old_state[key]), key


def test_widened_flat_network_keeps_every_old_weight():
    width, height = 7, 5
    old = network(False, n_channels=3, n_extras=2)
    wider = old.widened(4)
    old_w, new_w = old.head[0].weight, wider.head[0].weight
    assert new_w.shape == (16, height * width * 4 + 2)
    # Inputs are H x W x C: each cell's old channels keep their weights, the new one is zero.
    old_grid = old_w[:, : height * width * 3].reshape(16, height, width, 3)
    new_grid = new_w[:, : height * width * 4].reshape(16, height, width, 4)
    assert torch.equal(new_grid[..., :3], old_grid)
    assert torch.count_nonzero(new_grid[..., 3]) == 0
    assert torch.equal(new_w[:, -2:], old_w[:, -2:])  # the observed-state inputs
    for key, value in old.state_dict().items():
        if key != "head.0.weight":
            assert torch.equal(wider.state_dict()[key], value), key


@pytest.mark.parametrize("spatial", [True, False])
def test_describe_explains_the_architecture_and_counts_parameters(spatial):
    net = network(spatial, n_channels=6, board=(32, 16), n_layers=2, layer_size=128)
    characters = ["@", "*", ">", "<", "^", "v"]
    text = describe(net, SNAKE_ACTIONS, characters)

    assert f"{count_parameters(net):,}" in text
    assert count_parameters(net) == sum(p.numel() for p in net.parameters())
    assert "32x16" in text and "KEY_DOWN" in text and "no-op" in text
    assert "'^'" in text  # the character channels are listed
    if spatial:
        assert "CNN" in text and "conv" in text
        assert re.search(r"spatial = true", text)
    else:
        assert "MLP" in text and "conv 3x3" not in text
        assert re.search(r"spatial = false", text)
        assert f"{32 * 16 * 6}" in text  # the flattened input size

