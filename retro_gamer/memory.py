"""How much memory a run needs, estimated before anything is allocated.

The largest values the configuration allows (``memory_capacity``, ``layer_size``,
``n_layers``), or a network size declared inside a checkpoint, would ask the
operating system for many GiB at once; a machine without them swaps or kills the
process. Estimating first lets retro-gamer refuse with the figures instead.

The estimate counts the dominant allocations, not every byte: the replay
buffer's arrays (:mod:`retro_gamer.replay`), the networks' parameters (online and
target network, gradients and Adam's two moments: five copies) and one training
batch's activations (forward and backward through the online network, forward
through the target: about three copies of each layer's output).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from retro_gamer.errors import ConfigError

GIB = 1 << 30
PARAMETER_COPIES = 5  # weights, target weights, gradients, Adam's exp_avg and exp_avg_sq
ACTIVATION_COPIES = 3  # online forward, its backward, target forward


@dataclass
class MemoryEstimate:
    """Bytes a run will allocate, by part."""

    replay: int
    networks: int
    activations: int

    @property
    def total(self) -> int:
        return self.replay + self.networks + self.activations

    def describe(self) -> str:
        return (f"about {format_bytes(self.total)} (replay buffer {format_bytes(self.replay)}, "
                f"networks {format_bytes(self.networks)}, training batch "
                f"{format_bytes(self.activations)})")


def format_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"  # pragma: no cover


def replay_bytes(capacity: int, board_size: tuple[int, int], n_extras: int,
                 prioritized: bool) -> int:
    """The replay buffer's arrays: two boards of one byte per cell, two float32 extras
    vectors, an int64 action, float32 reward and done flag per transition; the sum-tree
    of prioritized replay adds two float64 per slot."""
    width, height = board_size
    per_transition = 2 * width * height + 2 * 4 * n_extras + 8 + 4 + 4
    tree = 2 * 8 * (1 << max(0, (capacity - 1).bit_length())) if prioritized else 0
    return capacity * per_transition + tree


def parameter_count(signature: dict) -> int:
    """Parameters of a :class:`~retro_gamer.networks.QNetwork` with this shape, counted
    on torch's ``meta`` device (nothing allocated)."""
    import torch

    from retro_gamer.networks import QNetwork

    with torch.device("meta"):
        network = QNetwork(**signature)
    return sum(p.numel() for p in network.parameters())


def estimate(signature: dict, capacity: int, batch_size: int, prioritized: bool,
             parameters: int | None = None) -> MemoryEstimate:
    """What training a network of ``signature`` with this replay buffer and batch needs."""
    board = tuple(signature["board_size"])
    parameters = parameter_count(signature) if parameters is None else parameters
    cells = board[0] * board[1] if signature["spatial"] else 1
    activations = (ACTIVATION_COPIES * 4 * batch_size * signature["layer_size"]
                   * signature["n_layers"] * cells)
    return MemoryEstimate(
        replay=replay_bytes(capacity, board, signature["n_extras"], prioritized),
        networks=PARAMETER_COPIES * 4 * parameters, activations=activations)


def available_bytes() -> int | None:
    """Memory the system can give a new allocation now (``MemAvailable``), or ``None``."""
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def require(needed: int, what: str, fix: str) -> None:
    """Refuse, with the figures, an allocation larger than the memory available now."""
    available = available_bytes()
    if available is not None and needed > available:
        raise ConfigError(
            f"{what} needs {format_bytes(needed)} of memory, but this machine has "
            f"{format_bytes(available)} available. {fix}")


__all__ = ["MemoryEstimate", "estimate", "parameter_count", "replay_bytes", "available_bytes",
           "require", "format_bytes"]
