"""CPU floating-point settings for training: subnormal numbers flushed to zero.

Adam's moment estimates decay geometrically (``exp_avg`` by ``beta1 = 0.9`` a step)
wherever a parameter stops receiving gradient: a dead ReLU unit, an input that is
never on. They sink into the subnormal range (below ``2**-126``), where multiplying
by 0.9 can round a value back to itself, so they stay there for good; and x86 CPUs
handle subnormal operands through a slow microcode path. On Snake's defaults 44% of
the first head layer's ``exp_avg`` entries were subnormal by training step 8,600,
and Adam's step cost 4.6 ms instead of 1.0 ms (docs/benchmarks.md, issue 23).

Flushing subnormals to zero (the CPU's FTZ/DAZ modes, ``torch.set_flush_denormal``)
removes the slow path at its root for every tensor a training step touches: weights,
activations, gradients and every optimizer state. A number this small is below
anything a Q-value can resolve (they are near 1 after reward scaling), so what is
learned does not change in any measurable way (a 101-episode Snake run gave
bit-identical episode lines and weights).

The mode belongs to the calling thread; with ``torch_threads = 1`` (the default)
every tensor operation of training runs on it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch

_SUBNORMAL = 1e-40  # below float32's smallest normal number, 1.18e-38


def flushing_subnormals() -> bool:
    """Whether this thread's tensor operations now treat subnormal floats as zero."""
    return bool((torch.tensor([_SUBNORMAL]) * 1.0).item() == 0.0)


@contextlib.contextmanager
def subnormals_flushed() -> Iterator[bool]:
    """Within the block, subnormal floats are flushed to zero (where the CPU supports it);
    afterwards the thread's mode is what it was. Yields whether flushing is on."""
    was = flushing_subnormals()
    supported = torch.set_flush_denormal(True)
    try:
        yield supported
    finally:
        if not was:
            torch.set_flush_denormal(False)


def count_subnormal(tensors) -> tuple[int, int]:
    """``(subnormal, total)`` entries over float ``tensors`` (nonzero and below the
    smallest normal number of their dtype)."""
    subnormal = total = 0
    for tensor in tensors:
        if not tensor.is_floating_point():
            continue
        tiny = torch.finfo(tensor.dtype).tiny
        subnormal += int(((tensor != 0) & (tensor.abs() < tiny)).sum())
        total += tensor.numel()
    return subnormal, total


__all__ = ["count_subnormal", "flushing_subnormals", "subnormals_flushed"]
