"""Q-networks: a small CNN for spatial boards, an MLP for flat ones.

Both take the *compact* board (``uint8`` character indices, see
:mod:`retro_gamer.encoding`) and expand it to one-hot inside ``forward``, so
the replay buffer, the host-to-device copy and the batch assembly all move one
byte per cell.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from retro_gamer.config import GameMetadata, Hyperparameters
from retro_gamer.state_scaling import standardise

# What QNetwork.encode returns: the one-hot input, with the whole-board summary beside it
# when a bounded view cuts the board.
Encoded = torch.Tensor | tuple[torch.Tensor, torch.Tensor]


def mlp(n_inputs: int, n_layers: int, layer_size: int, n_outputs: int,
        layer_norm: bool = False) -> nn.Sequential:
    """``n_layers`` hidden ReLU layers of ``layer_size`` units, then a linear output.

    ``layer_norm``: each hidden layer's pre-activations are layer-normalized (Ba, Kiros &
    Hinton, 2016) before the ReLU, as PQN does (Gallici et al., 2024).
    """
    layers: list[nn.Module] = []
    width = n_inputs
    for _ in range(n_layers):
        layers += [nn.Linear(width, layer_size),
                   *([nn.LayerNorm(layer_size)] if layer_norm else []), nn.ReLU()]
        width = layer_size
    layers.append(nn.Linear(width, n_outputs))
    return nn.Sequential(*layers)


class QNetwork(nn.Module):
    """Maps ``(boards, extras)`` to one Q-value per action.

    ``spatial=True``: two 3x3 convolutions (``conv_width`` channels with stride
    ``first_conv_stride``, then twice as many with stride 2) feed the MLP head. The strides
    shrink the grid before the first dense layer and before any full-resolution
    backward pass, which is where a CNN spends its FLOPs here: on Snake's 32x16
    board a training step costs about 4 ms with stride 2 first against 16 ms with
    stride 1 (docs/benchmarks.md), and every cell still reaches the first
    convolution. ``center_codes`` turns on an egocentric view (:meth:`recentre`).
    ``dueling`` splits the output into a state value and action advantages.

    ``spatial=False``: the board is flattened ``H x W x C`` (the specification's
    non-spatial layout) and the MLP is the whole network.

    ``observe_state`` values (``extras``) join the input of the MLP head; with
    ``state_scaling`` they are standardised first by the statistics in the buffers
    ``state_mean`` and ``state_std`` (saved in the state dict; training keeps them
    current, see :mod:`retro_gamer.state_scaling`), so every caller passes the game's raw
    values.

    ``view_radius`` bounds the egocentric view: at most ``2r+1`` cells each way, so
    the CNN's cost stops growing with the board's area (0: the whole board, as
    before the bound existed). When the bound cuts the board, a coarse summary of
    the whole board joins the head too: the board split into at most
    ``SUMMARY_CELLS x SUMMARY_CELLS`` blocks, one input per block and character,
    1 where that character occurs in the block (max pooling), so a goal far outside
    the view still shows where it is. Inputs of the MLP head, in order: CNN
    features, the local window, the summary, the observed state values.
    """

    # The channels every network had before conv_width existed: a network built without
    # the argument (an old checkpoint's signature) is built as it was then.
    CONV1, CONV2 = 16, 32
    WALL = 255  # the code of an off-board cell in an egocentric view (its own channel)
    SUMMARY_CELLS = 16  # blocks per axis of the whole-board summary (a bounded view only)

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
        view_radius: int = 0,
        layer_norm: bool = False,
        conv_width: int = CONV1,
        state_scaling: bool = False,
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
        self.view_radius = view_radius  # used only with an egocentric view (center_codes)
        self.layer_norm = layer_norm
        self.conv_width = conv_width
        self.state_scaling = state_scaling
        self.CONV1, self.CONV2 = conv_width, 2 * conv_width
        if state_scaling and n_extras:  # (n_extras,) float32: the identity until trained
            self.register_buffer("state_mean", torch.zeros(n_extras))
            self.register_buffer("state_std", torch.ones(n_extras))
        codes = list(range(1, n_channels + 1)) + ([self.WALL] if self.center_codes else [])
        # One-hot as a table lookup: row ``code`` of this 256 x C table is that code's one-hot
        # row (all zeros for the empty cell and unknown codes). A lookup builds the float input
        # in one pass, already in the channels-last layout the convolutions run fastest in on
        # CPU; comparing against every code costs about 3x as much (docs/benchmarks.md).
        one_hot_table = torch.zeros(256, len(codes))
        one_hot_table[codes, torch.arange(len(codes))] = 1.0
        self.register_buffer("one_hot_table", one_hot_table, persistent=False)
        self.register_buffer("player_codes", torch.tensor(self.center_codes, dtype=torch.uint8),
                             persistent=False)
        if spatial:
            self.features = nn.Sequential(
                nn.Conv2d(len(codes), self.CONV1, 3, stride=first_conv_stride, padding=1),
                nn.ReLU(),
                nn.Conv2d(self.CONV1, self.CONV2, 3, stride=2, padding=1),
                nn.ReLU(),
                nn.Flatten(),
            ).to(memory_format=torch.channels_last)
            h, w = self.feature_grid()
            n_features = (self.CONV2 * h * w + self.local_inputs(len(codes))
                          + self.summary_inputs(n_channels))
        else:
            self.features = nn.Flatten()
            n_features = self.height * self.width * n_channels
        # Dueling (Wang et al., 2016): the last layer also outputs a state value V, and
        # Q = V + A - mean(A); the hidden layers are shared.
        self.head = mlp(n_features + n_extras, n_layers, layer_size, n_actions + int(dueling),
                        layer_norm)

    @property
    def view_size(self) -> tuple[int, int]:
        """Height and width of what the CNN sees: the board, or the re-centred view."""
        if self.center_codes:
            h, w = 2 * self.height - 1, 2 * self.width - 1
            if self.view_radius:
                h, w = min(h, 2 * self.view_radius + 1), min(w, 2 * self.view_radius + 1)
            return h, w
        return self.height, self.width

    def summary_grid(self) -> tuple[int, int]:
        """Blocks (rows, columns) of the whole-board summary; (0, 0) when the view is whole."""
        h, w = self.view_size
        if not self.center_codes or (h, w) == (2 * self.height - 1, 2 * self.width - 1):
            return 0, 0
        return min(self.height, self.SUMMARY_CELLS), min(self.width, self.SUMMARY_CELLS)

    def summary_inputs(self, n_channels: int) -> int:
        """Inputs of the whole-board summary: its blocks times the board's characters."""
        gh, gw = self.summary_grid()
        return gh * gw * n_channels

    def summary(self, boards: torch.Tensor) -> torch.Tensor:
        """``(B, H, W)`` uint8 boards to ``(B, C, rows, columns)`` presence of each character.

        Works on the one-byte board, one comparison per character, so its cost is a
        few passes over the board's bytes rather than a float one-hot of the board.
        """
        gh, gw = self.summary_grid()
        n, height, width = boards.shape
        bh, bw = math.ceil(height / gh), math.ceil(width / gw)
        if (bh * gh, bw * gw) != (height, width):  # pad with empty cells to whole blocks
            padded = boards.new_zeros(n, bh * gh, bw * gw)
            padded[:, :height, :width] = boards
            boards = padded
        blocks = boards.view(n, gh, bh, gw, bw)
        return torch.stack([(blocks == code).any(4).any(2)
                            for code in range(1, self.n_channels + 1)], dim=1).float()

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
            "view_radius": self.view_radius,
            "layer_norm": self.layer_norm,
            "conv_width": self.conv_width,
            "state_scaling": self.state_scaling,
        }

    @property
    def scales_state(self) -> bool:
        """Whether observed state values are standardised before the head sees them."""
        return self.state_scaling and self.n_extras > 0

    def set_state_statistics(self, mean: np.ndarray, std: np.ndarray) -> None:
        """Standardise observed state values by ``mean`` and ``std`` (float32, shape
        ``(n_extras,)``) from now on; only a network with :attr:`scales_state`."""
        self.state_mean.copy_(torch.from_numpy(mean))
        self.state_std.copy_(torch.from_numpy(std))

    def player_position(self, boards: torch.Tensor, summary: torch.Tensor | None = None
                        ) -> tuple[torch.Tensor, torch.Tensor]:
        """Rows and columns ``(B,)`` of the player on ``(B, H, W)`` boards.

        The player is the first cell (row by row) holding one of ``center_codes``, or
        the board's centre when there is none. With the whole-board :meth:`summary`
        only the first block (row by row) that holds the player is searched, so a
        large board is not scanned a second time; for a player of one cell that is
        the same cell.
        """
        n, height, width = boards.shape
        flat = boards.reshape(n, -1)
        if summary is None:
            cells, rows_of, cols_of = flat, None, None
        else:
            gh, gw = self.summary_grid()
            bh, bw = math.ceil(height / gh), math.ceil(width / gw)
            channels = [c - 1 for c in self.center_codes if 0 < c <= self.n_channels]
            holds = summary[:, channels].amax(1).reshape(n, -1)
            block = torch.argmax(holds, dim=1)
            # The block's cells; rows and columns past the edge repeat the last (same block).
            rows_of = ((block // gw * bh)[:, None]
                       + torch.arange(bh, device=boards.device)).clamp(max=height - 1)
            cols_of = ((block % gw * bw)[:, None]
                       + torch.arange(bw, device=boards.device)).clamp(max=width - 1)
            cells = flat.gather(1, (rows_of[:, :, None] * width
                                    + cols_of[:, None, :]).view(n, -1))
        is_player = cells == self.player_codes[0]
        for code in self.player_codes[1:]:
            is_player |= cells == code
        found = is_player.any(1)
        first = torch.argmax(is_player.to(torch.uint8), dim=1)
        if rows_of is None:
            rows, cols = first // width, first % width
        else:
            rows = rows_of.gather(1, (first // cols_of.shape[1])[:, None]).squeeze(1)
            cols = cols_of.gather(1, (first % cols_of.shape[1])[:, None]).squeeze(1)
        return (torch.where(found, rows, torch.full_like(rows, height // 2)),
                torch.where(found, cols, torch.full_like(cols, width // 2)))

    def recentre(self, boards: torch.Tensor, summary: torch.Tensor | None = None
                 ) -> torch.Tensor:
        """``(B, H, W)`` boards to ``(B, h, w)`` views (:attr:`view_size`), player in the middle.

        The player is found by :meth:`player_position` (``summary``: the boards'
        :meth:`summary`, computed here when the view needs one and it is not given);
        cells beyond the board's edge hold :attr:`WALL`. Only the view's cells are
        gathered, so the cost follows the view's size, not the board's.
        """
        n, height, width = boards.shape
        if summary is None and self.summary_grid()[0]:
            summary = self.summary(boards)
        rows, cols = self.player_position(boards, summary)
        flat = boards.reshape(n, -1)
        vh, vw = self.view_size
        # View cell (i, j) of sample b shows board cell (rows_b + i - vh//2, cols_b + j - vw//2).
        ys = rows[:, None] + torch.arange(vh, device=boards.device) - vh // 2
        xs = cols[:, None] + torch.arange(vw, device=boards.device) - vw // 2
        inside = (((ys >= 0) & (ys < height))[:, :, None]
                  & ((xs >= 0) & (xs < width))[:, None, :])
        index = ys.clamp(0, height - 1)[:, :, None] * width + xs.clamp(0, width - 1)[:, None, :]
        view = flat.gather(1, index.view(n, -1)).view(n, vh, vw)
        return view.masked_fill_(~inside, self.WALL)

    def encode(self, boards: torch.Tensor, extras: torch.Tensor | None = None) -> Encoded:
        """``(B, H, W)`` uint8 boards to the network's float input.

        Spatial: one-hot ``(B, C, H, W)`` (channels-last in memory) of the board or
        of its egocentric view. Flat: one-hot ``(B, H, W, C)``. With a bounded view
        that cuts the board, a pair: that one-hot and the whole board's
        :meth:`summary`, taken from ``extras`` when they carry it (see
        :meth:`with_summary`) rather than computed again. Networks with the same
        :meth:`shape_signature` share an encoding, so the trainer encodes a batch
        of next boards once for both the online and the target network.
        """
        summary = None
        if self.summary_grid()[0]:
            if extras is not None and extras.shape[1] > self.n_extras:
                summary = extras[:, self.n_extras:].view(len(boards), self.n_channels,
                                                         *self.summary_grid())
            else:
                summary = self.summary(boards)
        if self.center_codes:
            boards = self.recentre(boards, summary)
        # An embedding lookup, not table[boards]: advanced indexing was 8x slower here, and
        # index_select 1.4x (2.9 against 2.1 ms for a batch of 64 Snake views, one thread).
        one_hot = F.embedding(boards.long(), self.one_hot_table)
        one_hot = one_hot.permute(0, 3, 1, 2) if self.spatial else one_hot
        return one_hot if summary is None else (one_hot, summary)

    def with_summary(self, board: np.ndarray, extras: np.ndarray) -> np.ndarray:
        """``extras`` of one ``(H, W)`` board followed by its flattened :meth:`summary`.

        A training run stores these in the replay buffer, so the summary of a large
        board is computed once per turn instead of once per sample of every batch;
        :meth:`forward` accepts either form of ``extras``.
        """
        if not self.summary_grid()[0]:
            return extras.copy()
        summary = self.summary(torch.from_numpy(board).to(self.one_hot_table.device)[None])
        return np.concatenate([extras, summary.flatten().cpu().numpy()])

    def forward(self, boards: torch.Tensor, extras: torch.Tensor) -> torch.Tensor:
        return self.q_values(self.encode(boards, extras), extras)

    def q_values(self, encoded: Encoded, extras: torch.Tensor) -> torch.Tensor:
        """Q-values from an :meth:`encode`-d batch (``extras`` with or without the summary).

        ``extras`` may hold the game's values in any numeric kind (float64 from a Python
        caller, integers): they are read as the network's own floats here, the one place
        every caller's values enter, so none can reach the head as another kind.
        """
        extras = extras[:, :self.n_extras].to(self.one_hot_table.dtype)
        encoded, summary = encoded if isinstance(encoded, tuple) else (encoded, None)
        features = self.features(encoded)
        if self.local_view and self.center_codes:
            # The cells around the player, exactly, beside what the strided CNN makes of them.
            (h, w), (wh, ww) = self.view_size, self.local_window()
            top, left = h // 2 - wh // 2, w // 2 - ww // 2
            window = encoded[:, :, top:top + wh, left:left + ww]
            features = torch.cat([features, window.flatten(1)], dim=1)
        if summary is not None:
            features = torch.cat([features, summary.flatten(1)], dim=1)
        if self.n_extras:
            if self.state_scaling:
                extras = standardise(extras, self.state_mean, self.state_std)
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
            kernel = weight.shape[2:]
            state["features.0.weight"] = _widen_channels(
                weight.reshape(weight.shape[0], -1), kernel.numel(), old, n_channels, extra
            ).reshape(weight.shape[0], n_channels + extra, *kernel)
            # The head's inputs: CNN features, then the window (channel by channel, wall
            # last), the summary (channel by channel), the observed state values.
            head = state["head.0.weight"]
            h, w = self.feature_grid()
            parts = [head[:, :self.CONV2 * h * w]]
            start = self.CONV2 * h * w
            for cells, wall in ((self.local_inputs(1), extra), (self.summary_inputs(1), 0)):
                if cells:
                    block = head[:, start:start + cells * (old + wall)]
                    parts.append(_widen_channels(block, cells, old, n_channels, wall))
                    start += cells * (old + wall)
            parts.append(head[:, start:])
            state["head.0.weight"] = torch.cat(parts, dim=1)
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


def _widen_channels(weight: torch.Tensor, cells: int, old: int, new: int,
                    wall: int) -> torch.Tensor:
    """Columns laid out channel by channel (``cells`` each, ``wall`` extra channels last)
    grown from ``old`` to ``new`` channels; the new channels' weights are zero."""
    rows = weight.shape[0]
    by_channel = weight.reshape(rows, old + wall, cells)
    grown = torch.zeros(rows, new + wall, cells, dtype=weight.dtype)
    grown[:, :old] = by_channel[:, :old]
    if wall:
        grown[:, -wall:] = by_channel[:, -wall:]
    return grown.reshape(rows, -1)


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


def build_network(n_channels: int, board_size, metadata: GameMetadata, hp: Hyperparameters,
                  center_codes: list[int]) -> QNetwork:
    """The Q-network a run with this description and these hyperparameters trains."""
    return QNetwork(n_channels, tuple(board_size), len(metadata.observe_state),
                    metadata.n_actions, hp.n_layers, hp.layer_size, metadata.spatial,
                    first_conv_stride=hp.first_conv_stride, dueling=hp.dueling,
                    center_on=hp.center_on, center_codes=center_codes,
                    local_view=hp.local_view, view_radius=hp.view_radius,
                    layer_norm=hp.layer_norm, conv_width=hp.conv_width,
                    state_scaling=hp.state_scaling)


def planned_network(metadata: GameMetadata, hp: Hyperparameters) -> QNetwork:
    """The network :func:`build_network` will build, on torch's ``meta`` device (no memory).

    Before training the character set may be unknown (one channel is assumed) and
    ``center_on = auto`` has not looked for the player yet (it is assumed found on a
    spatial board): the size is exact up to those two.
    """
    n_channels = len(metadata.character_set or []) or 1
    center = [1] if metadata.spatial and hp.center_on else []
    with torch.device("meta"):
        return build_network(n_channels, metadata.board_size, metadata, hp, center)


# Multiply-adds per sample of the defaults' network on Snake (32x16 board, six characters,
# egocentric view): the cost that trains at the rates docs/benchmarks.md reports. A test
# recomputes it from today's defaults, so a change of default cannot leave it stale.
SNAKE_MULTIPLY_ADDS = 728_576
TOO_SLOW = 10  # times Snake's cost per sample beyond which create and train warn


def size_line(network: QNetwork) -> str:
    """``network: N parameters, M multiply-adds per sample; per training step, about X times
    the default network on retro's Snake`` (the yardstick the benchmarks use)."""
    madds = multiply_adds(network)
    return (f"network: {count_parameters(network):,} parameters, {madds:,} multiply-adds per "
            f"sample; per training step, about {madds / SNAKE_MULTIPLY_ADDS:.2g} times the "
            "default network on retro's Snake")


def size_warning(network: QNetwork) -> str | None:
    """A message when a training step would cost over :data:`TOO_SLOW` times Snake's."""
    ratio = multiply_adds(network) / SNAKE_MULTIPLY_ADDS
    if ratio <= TOO_SLOW:
        return None
    vh, vw = network.view_size
    fixes = []
    if network.spatial and network.center_codes and (
            not network.view_radius or max(vh, vw) > 63):
        fixes.append("bound the egocentric view (view_radius=31, the default)")
    if network.spatial and not network.center_codes:
        fixes.append("centre the view on the player (center_on=auto or its characters), "
                     "which bounds it")
    if not network.spatial:
        fixes.append("describe the board as spatial (spatial = true), so a CNN with a "
                     "bounded view sees it")
    fixes.append("use a smaller head (layer_size, n_layers)")
    return (f"this network is {ratio:.0f} times as costly per step as the defaults on Snake "
            f"({count_parameters(network):,} parameters, a {vw}x{vh} view): training will "
            f"be about that much slower per step. To speed it up: " + "; or ".join(fixes) + ".")


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
        if network.summary_grid()[0]:
            gh, gw = network.summary_grid()
            lines.append(f"  bounded view: view_radius = {network.view_radius} keeps the view at "
                         f"{vw}x{vh} whatever the board's size; a {gw}x{gh}-block summary of "
                         f"the whole board (1 where a character occurs in a block) joins the "
                         f"MLP head ({network.summary_inputs(network.n_channels)} inputs)")
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
        + (" -> ".join(str(s) for s in sizes)
           + (" (LayerNorm, ReLU) -> " if network.layer_norm else " (ReLU) -> ") if sizes else "")
        + f"{network.n_actions} Q-values ({', '.join(action_names)}, no-op)"
        + (" as V + A - mean(A) (dueling)" if network.dueling else "")
    )
    lines.append(
        f"  parameters: {count_parameters(network):,}; "
        f"multiply-adds per sample: {multiply_adds(network):,}"
    )
    lines.append("  why: " + _rationale(network, character_set))
    return "\n".join(lines)


def _rationale(network: QNetwork, character_set: list[str]) -> str:
    """Why this architecture, in the words of this game: its board, its characters, its view."""
    board = f"{network.width}x{network.height} board"
    player = "".join(character_set[code - 1] for code in network.center_codes
                     if 0 < code <= len(character_set))
    others = [c for c in character_set if c not in player]
    if not network.spatial:
        return (f"spatial = false: the {board} is a flat vector of "
                f"{network.width * network.height * network.n_channels} one-hot inputs, and "
                "an MLP learns from each cell's position directly; no convolution assumes "
                "that neighbouring cells are related.")
    h2, w2 = network.feature_grid()
    if player:
        pattern = (f"'{others[0]}' just beside {player[0]!r}" if others
                   else f"{player[0]!r} near the board's edge")
        seen = (f"the CNN sees the {board} re-centred on the player ({player!r}), so a "
                f"pattern around the player ({pattern}) looks the same wherever the player "
                "is")
    else:
        pair = (f"'{character_set[0]}' beside '{character_set[1]}'" if len(character_set) > 1
                else f"'{character_set[0]}' beside an empty cell" if character_set
                else "two characters side by side")
        seen = (f"a CNN sees the same pattern ({pair}) wherever it occurs on the {board}")
    return (f"spatial = true: {seen}; the strided convolutions shrink the grid to {w2}x{h2} "
            "before the dense head, which keeps a training step cheap "
            "(docs/benchmarks.md has the measurements).")
