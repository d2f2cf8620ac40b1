"""Q-networks: a small CNN for spatial boards, an MLP for flat ones.

Both take the *compact* board (``uint8`` character indices, see
:mod:`retro_gamer.encoding`) and expand it to one-hot inside ``forward``, so
the replay buffer, the host-to-device copy and the batch assembly all move one
byte per cell.
"""

from __future__ import annotations

import math

import torch
from torch import nn


def mlp(n_inputs: int, n_layers: int, layer_size: int, n_outputs: int) -> nn.Sequential:
    """``n_layers`` hidden ReLU layers of ``layer_size`` units, then a linear output."""
    layers: list[nn.Module] = []
    width = n_inputs
    for _ in range(n_layers):
        layers += [nn.Linear(width, layer_size), nn.ReLU()]
        width = layer_size
    layers.append(nn.Linear(width, n_outputs))
    return nn.Sequential(*layers)


class QNetwork(nn.Module):
    """Maps ``(boards, extras)`` to one Q-value per action.

    ``spatial=True``: two 3x3 convolutions (16 channels with stride
    ``first_conv_stride``, then 32 with stride 2) feed the MLP head. The strides
    shrink the grid before the first dense layer and before any full-resolution
    backward pass, which is where a CNN spends its FLOPs here: on Snake's 32x16
    board a training step costs about 4 ms with stride 2 first against 16 ms with
    stride 1 (docs/benchmarks.md), and every cell still reaches the first
    convolution. ``center_codes`` turns on an egocentric view (:meth:`recentre`).
    ``dueling`` splits the output into a state value and action advantages.

    ``spatial=False``: the board is flattened ``H x W x C`` (the specification's
    non-spatial layout) and the MLP is the whole network.

    ``observe_state`` values (``extras``) join the input of the MLP head.
    """

    CONV1, CONV2 = 16, 32
    WALL = 255  # the code of an off-board cell in an egocentric view (its own channel)

    def __init__(
        self,
        n_channels: int,
        board_size: tuple[int, int],
        n_extras: int,
        n_actions: int,
        n_layers: int,
        layer_size: int,
        spatial: bool,
        first_conv_stride: int = 1,
        dueling: bool = False,
        center_on: str = "",
        center_codes: tuple[int, ...] | list[int] = (),
        local_view: int = 0,
    ):
        super().__init__()
        if center_codes and not spatial:
            raise ValueError("an egocentric view (center_on) needs a spatial game")
        self.n_channels = n_channels
        self.width, self.height = board_size
        self.n_extras = n_extras
        self.n_actions = n_actions
        self.n_layers = n_layers
        self.layer_size = layer_size
        self.spatial = spatial
        self.first_conv_stride = first_conv_stride
        self.dueling = dueling
        self.center_on = center_on
        self.center_codes = tuple(int(c) for c in center_codes)
        self.local_view = local_view  # used only with an egocentric view (center_codes)
        codes = list(range(1, n_channels + 1)) + ([self.WALL] if self.center_codes else [])
        # One-hot as a table lookup: row ``code`` of this 256 x C table is that code's one-hot
        # row (all zeros for the empty cell and unknown codes). A lookup builds the float input
        # in one pass, already in the channels-last layout the convolutions run fastest in on
        # CPU; comparing against every code costs about 3x as much (docs/benchmarks.md).
        one_hot_table = torch.zeros(256, len(codes))
        one_hot_table[codes, torch.arange(len(codes))] = 1.0
        self.register_buffer("one_hot_table", one_hot_table, persistent=False)
        table = torch.zeros(256, dtype=torch.bool)
        table[list(self.center_codes)] = True
        self.register_buffer("player_table", table, persistent=False)
        if spatial:
            self.features = nn.Sequential(
                nn.Conv2d(len(codes), self.CONV1, 3, stride=first_conv_stride, padding=1),
                nn.ReLU(),
                nn.Conv2d(self.CONV1, self.CONV2, 3, stride=2, padding=1),
                nn.ReLU(),
                nn.Flatten(),
            ).to(memory_format=torch.channels_last)
            h, w = self.feature_grid()
            n_features = self.CONV2 * h * w + self.local_inputs(len(codes))
        else:
            self.features = nn.Flatten()
            n_features = self.height * self.width * n_channels
        # Dueling (Wang et al., 2016): the last layer also outputs a state value V, and
        # Q = V + A - mean(A); the hidden layers are shared.
        self.head = mlp(n_features + n_extras, n_layers, layer_size, n_actions + int(dueling))

    @property
    def view_size(self) -> tuple[int, int]:
        """Height and width of what the CNN sees: the board, or the re-centred view."""
        if self.center_codes:
            return 2 * self.height - 1, 2 * self.width - 1
        return self.height, self.width

    def local_window(self) -> tuple[int, int]:
        """Height and width of the full-resolution window around the player (0, 0: none)."""
        if not (self.local_view and self.center_codes):
            return 0, 0
        h, w = self.view_size
        return 2 * min(self.local_view, h // 2) + 1, 2 * min(self.local_view, w // 2) + 1

    def local_inputs(self, n_codes: int) -> int:
        """Inputs of the window around the player: its cells times the codes."""
        wh, ww = self.local_window()
        return wh * ww * n_codes

    def feature_grid(self) -> tuple[int, int]:
        """Height and width of the second convolution's output."""
        h, w = self.view_size
        for stride in (self.first_conv_stride, 2):
            h, w = math.ceil(h / stride), math.ceil(w / stride)
        return h, w

    def shape_signature(self) -> dict:
        """What must match for weights to load into this network."""
        return {
            "n_channels": self.n_channels,
            "board_size": [self.width, self.height],
            "n_extras": self.n_extras,
            "n_actions": self.n_actions,
            "n_layers": self.n_layers,
            "layer_size": self.layer_size,
            "spatial": self.spatial,
            "first_conv_stride": self.first_conv_stride,
            "dueling": self.dueling,
            "center_on": self.center_on,
            "center_codes": list(self.center_codes),
            "local_view": self.local_view,
        }

    def recentre(self, boards: torch.Tensor) -> torch.Tensor:
        """``(B, H, W)`` boards to ``(B, 2H-1, 2W-1)`` views with the player in the middle.

        The player is the first cell (row by row) holding one of ``center_codes``;
        cells beyond the board's edge hold :attr:`WALL`. A board without the player
        is shown around its own centre.
        """
        n, height, width = boards.shape
        is_player = self.player_table[boards.long()].view(n, -1)
        found = is_player.any(1)
        first = torch.argmax(is_player.to(torch.uint8), dim=1)
        rows = torch.where(found, first // width, torch.full_like(first, height // 2))
        cols = torch.where(found, first % width, torch.full_like(first, width // 2))
        padded = boards.new_full((n, 3 * height - 2, 3 * width - 2), self.WALL)
        padded[:, height - 1:2 * height - 1, width - 1:2 * width - 1] = boards
        # One flat gather: view cell (i, j) of sample b is padded[b, rows_b + i, cols_b + j].
        stride = 3 * width - 2
        offsets = (torch.arange(2 * height - 1, device=boards.device)[:, None] * stride
                   + torch.arange(2 * width - 1, device=boards.device)).view(1, -1)
        index = (rows * stride + cols)[:, None] + offsets
        return padded.view(n, -1).gather(1, index).view(n, 2 * height - 1, 2 * width - 1)

    def encode(self, boards: torch.Tensor) -> torch.Tensor:
        """``(B, H, W)`` uint8 boards to the network's float input.

        Spatial: one-hot ``(B, C, H, W)`` (channels-last in memory) of the board or
        of its egocentric view. Flat: one-hot ``(B, H, W, C)``. Networks with the
        same :meth:`shape_signature` share an encoding, so the trainer encodes a
        batch of next boards once for both the online and the target network.
        """
        if self.center_codes:
            boards = self.recentre(boards)
        # index_select, not table[boards]: advanced indexing was 8x slower here.
        one_hot = self.one_hot_table.index_select(0, boards.reshape(-1).long()).view(
            *boards.shape, -1)
        return one_hot.permute(0, 3, 1, 2) if self.spatial else one_hot

    def forward(self, boards: torch.Tensor, extras: torch.Tensor) -> torch.Tensor:
        return self.q_values(self.encode(boards), extras)

    def q_values(self, encoded: torch.Tensor, extras: torch.Tensor) -> torch.Tensor:
        """Q-values from an :meth:`encode`-d batch."""
        features = self.features(encoded)
        if self.local_view and self.center_codes:
            # The cells around the player, exactly, beside what the strided CNN makes of them.
            (h, w), (wh, ww) = self.view_size, self.local_window()
            top, left = h // 2 - wh // 2, w // 2 - ww // 2
            window = encoded[:, :, top:top + wh, left:left + ww]
            features = torch.cat([features, window.flatten(1)], dim=1)
        if self.n_extras:
            features = torch.cat([features, extras], dim=1)
        out = self.head(features)
        if self.dueling:
            advantages, value = out[:, :-1], out[:, -1:]
            return value + advantages - advantages.mean(dim=1, keepdim=True)
        return out

    def widened(self, n_channels: int) -> QNetwork:
        """A copy with more input channels; learned weights of existing channels carry over.

        The new channels' input weights start at zero, so the widened network
        computes exactly what this one did until it sees a new character.
        """
        sig = self.shape_signature()
        sig["n_channels"] = n_channels
        sig["board_size"] = tuple(sig["board_size"])
        wider = QNetwork(**sig).to(self.one_hot_table.device)
        state = self.state_dict()
        old = self.n_channels
        if self.spatial:
            weight = state["features.0.weight"]
            extra = int(bool(self.center_codes))  # the wall channel stays last
            grown = torch.zeros(weight.shape[0], n_channels + extra, *weight.shape[2:],
                                dtype=weight.dtype)
            grown[:, :old] = weight[:, :old]
            if extra:
                grown[:, -1] = weight[:, -1]
            state["features.0.weight"] = grown
            if self.local_inputs(1):  # the window's inputs, channel by channel, wall last
                head = state["head.0.weight"]
                cells = self.local_inputs(1)
                n_cnn = head.shape[1] - self.local_inputs(old + extra)
                local = head[:, n_cnn:].reshape(head.shape[0], old + extra, cells)
                wide = torch.zeros(head.shape[0], n_channels + extra, cells, dtype=head.dtype)
                wide[:, :old] = local[:, :old]
                if extra:
                    wide[:, -1] = local[:, -1]
                state["head.0.weight"] = torch.cat(
                    [head[:, :n_cnn], wide.reshape(head.shape[0], -1)], dim=1)
        else:
            weight = state["head.0.weight"]
            board_inputs = self.height * self.width * old
            board_part = weight[:, :board_inputs].reshape(-1, self.height, self.width, old)
            grown = torch.zeros(weight.shape[0], self.height, self.width, n_channels)
            grown[..., :old] = board_part
            state["head.0.weight"] = torch.cat(
                [grown.reshape(weight.shape[0], -1), weight[:, board_inputs:]], dim=1
            )
        wider.load_state_dict(state)
        return wider


def count_parameters(network: nn.Module) -> int:
    return sum(p.numel() for p in network.parameters())


def multiply_adds(network: QNetwork) -> int:
    """Multiply-adds of one forward pass for one sample (convolutions and dense layers)."""
    total = 0
    height, width = network.view_size
    for layer in [*network.features, *network.head] if network.spatial else network.head:
        if isinstance(layer, nn.Conv2d):
            stride = layer.stride[0]
            height, width = math.ceil(height / stride), math.ceil(width / stride)
            k = layer.kernel_size[0] * layer.kernel_size[1]
            total += height * width * layer.out_channels * layer.in_channels * k
        elif isinstance(layer, nn.Linear):
            total += layer.in_features * layer.out_features
    return total


def describe(network: QNetwork, action_names: list[str], character_set: list[str]) -> str:
    """The architecture and its rationale, as written at the top of ``training.log``."""
    width, height, c = network.width, network.height, network.n_channels
    lines = ["Architecture"]
    lines.append(
        f"  input: {width}x{height} board, {c} character channels {character_set!r}"
        + (f", {network.n_extras} observed state values" if network.n_extras else "")
    )
    if network.spatial and not network.center_codes and network.center_on == "auto":
        lines.append("  egocentric view: off (center_on = auto found no character that only "
                     "the player shows; name them with center_on)")
    if network.center_codes:
        vh, vw = network.view_size
        player = "".join(character_set[code - 1] for code in network.center_codes
                         if 0 < code <= len(character_set))
        found = " (found: the characters of the agents that take keystrokes)" \
            if network.center_on == "auto" else ""
        lines.append(f"  egocentric view: the board re-centred on {player!r}{found}, "
                     f"{vw}x{vh} cells, off-board cells as a wall channel")
        height, width, c = vh, vw, c + 1
        if network.local_inputs(1):
            wh, ww = network.local_window()
            lines.append(f"  local window: the {ww}x{wh} cells around the player, one-hot, "
                         f"straight to the MLP head ({network.local_inputs(c)} inputs)")
    if network.spatial:
        s1 = network.first_conv_stride
        h1, w1 = math.ceil(height / s1), math.ceil(width / s1)
        h2, w2 = network.feature_grid()
        lines += [
            f"  conv 3x3 {c} -> {network.CONV1}, stride {s1}, ReLU   ({network.CONV1}x{h1}x{w1})",
            f"  conv 3x3 {network.CONV1} -> {network.CONV2}, stride 2, ReLU  "
            f"({network.CONV2}x{h2}x{w2} = {network.CONV2 * h2 * w2} features)",
        ]
    else:
        lines.append(f"  flatten H x W x C = {height * width * c} inputs")
    sizes = [network.layer_size] * network.n_layers
    lines.append(
        "  MLP head: "
        + (" -> ".join(str(s) for s in sizes) + " (ReLU) -> " if sizes else "")
        + f"{network.n_actions} Q-values ({', '.join(action_names)}, no-op)"
        + (" as V + A - mean(A) (dueling)" if network.dueling else "")
    )
    lines.append(
        f"  parameters: {count_parameters(network):,}; "
        f"multiply-adds per sample: {multiply_adds(network):,}"
    )
    if network.spatial:
        why = (
            "spatial = true: a CNN sees the same pattern (a wall next to the head, food "
            "two cells away) wherever it occurs on the board; the stride-2 layers "
            "shrink the grid before the dense head, which keeps a training step cheap "
            "(docs/benchmarks.md has the measurements)."
        )
    else:
        why = (
            "spatial = false: the board is a flat vector and an MLP learns from each "
            "cell's position directly; no convolution assumes that neighbours are related."
        )
    lines.append("  why: " + why)
    return "\n".join(lines)
