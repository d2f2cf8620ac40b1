"""Sweeps on a Slurm cluster (``hydra/launcher=submitit_slurm``): the job's side.

Two things a sweep job needs on a cluster beyond what any launcher gives it:

* **Resources that follow the run** (:func:`job_resources`): one task, ``torch_threads``
  CPUs, and memory for Python and torch, the replay buffer (twice: a checkpoint
  serialises a copy) and the network with its target and Adam's two moments.
  :func:`hydra_settings` makes them the defaults of ``hydra.launcher.*`` in the
  run's primary config, so a user's ``hydra.launcher.*`` overrides still win.
* **Checkpoint, then requeue** (:func:`requeue_on_notice`): Slurm warns a job with
  SIGUSR2 before its time limit (submitit asks for it with ``--signal``) and, on
  clusters that send it, before preemption. submitit's own handler requeues the
  job at once, from wherever it is; here training first finishes its episode and
  saves a checkpoint, so the requeued job continues from that checkpoint.

A ``scancel`` sends SIGTERM: training finishes its episode, saves, and the job is
marked stopped (see :mod:`retro_gamer.sweep`).
"""

from __future__ import annotations

import contextlib
import math
import os
import signal
import threading
from collections.abc import Iterator

import numpy as np

from retro_gamer.errors import TrainingInterrupted

# Peak resident memory of a default Snake run (3 episodes, memory_capacity 10000) was
# 343 MB (/usr/bin/time, torch 2.13 CPU): Python, torch and the game, before the buffer grows.
BASE_BYTES = 512 * 2**20
UNKNOWN_CHARACTERS = 16  # a guess for a game whose characters are discovered in training


def job_id() -> str | None:
    """The Slurm job running this process (``ARRAYID_TASK`` for an array task), or ``None``."""
    array, task = os.environ.get("SLURM_ARRAY_JOB_ID"), os.environ.get("SLURM_ARRAY_TASK_ID")
    if array and task:
        return f"{array}_{task}"
    return os.environ.get("SLURM_JOB_ID")


def job_resources(game: dict, hyper: dict) -> dict:
    """Slurm resources for one training job: ``{"tasks_per_node", "cpus_per_task", "mem_gb"}``.

    ``game`` and ``hyper`` are a composed job config's ``[game]`` and hyperparameter
    values. ``mem_gb`` is whole gigabytes (the launcher's unit), at least 1.
    """
    threads = hyper.get("torch_threads") or os.cpu_count() or 1
    total = BASE_BYTES + 2 * replay_bytes(game, hyper) + 5 * 4 * network_parameters(game, hyper)
    return {"tasks_per_node": 1, "cpus_per_task": int(threads),
            "mem_gb": max(1, math.ceil(total / 2**30))}


def replay_bytes(game: dict, hyper: dict) -> int:
    """Bytes of the replay buffer when full, from a small buffer of the same layout."""
    from retro_gamer.replay import ReplayBuffer, make_replay

    width, height = _board_size(game)
    sample = 1024
    buffer = make_replay(bool(hyper.get("prioritize_experiences")), sample, (height, width),
                         len(game.get("observe_state") or []), np.random.default_rng(0),
                         hyper.get("priority_alpha", 0.6), hyper.get("priority_beta", 0.4))
    arrays = [getattr(buffer, name) for name in ReplayBuffer.FIELDS]
    if hasattr(buffer, "tree"):
        arrays.append(buffer.tree.tree)
    per_transition = sum(a.nbytes for a in arrays) / sample
    return math.ceil(per_transition * int(hyper.get("memory_capacity", 10000)))


def network_parameters(game: dict, hyper: dict) -> int:
    """Parameters of the run's Q-network, built without memory (torch's meta device)."""
    import torch

    from retro_gamer.networks import QNetwork, count_parameters

    spatial = bool(game.get("spatial", True))
    characters = len(game.get("character_set") or []) or UNKNOWN_CHARACTERS
    # An egocentric view (centre_on) is the largest input a spatial network can have.
    centred = spatial and bool(hyper.get("center_on"))
    with torch.device("meta"):
        network = QNetwork(characters, _board_size(game), len(game.get("observe_state") or []),
                           len(game.get("actions") or []) + 1, int(hyper.get("n_layers", 2)),
                           int(hyper.get("layer_size", 128)), spatial,
                           first_conv_stride=int(hyper.get("first_conv_stride", 1)),
                           dueling=bool(hyper.get("dueling")),
                           center_codes=[1] if centred else [],
                           local_view=int(hyper.get("local_view", 0)))
    return count_parameters(network)


def _board_size(game: dict) -> tuple[int, int]:
    size = game.get("board_size") or [64, 64]  # not read from the game yet: a generous guess
    return int(size[0]), int(size[1])


@contextlib.contextmanager
def requeue_on_notice() -> Iterator[None]:
    """Around a sweep job's training: on SIGUSR2, save a checkpoint first, then requeue.

    Active only where submitit handles SIGUSR2 (a submitit job, in its main thread);
    elsewhere it does nothing. On the notice, a trainer that is training is asked
    to stop the way SIGTERM asks it (finish the episode, save a checkpoint, raise
    :class:`~retro_gamer.errors.TrainingInterrupted`); when that stop leaves this
    block, submitit's handler requeues the job and exits the process; where submitit
    will not requeue (a time limit reached more than ``max_num_timeout`` times) the
    stop stands. A notice that comes while no episode runs (start-up, evaluation) is
    passed to submitit at once. Slurm may deliver the notice more than once; only the
    first counts, and none is taken while submitit requeues (a second ``scontrol
    requeue`` would fail after the first went through, and the job would end
    "stopped" while Slurm restarts it).
    """
    submitit_handler = signal.getsignal(signal.SIGUSR2)
    if not callable(submitit_handler) or threading.current_thread() is not threading.main_thread():
        yield
        return
    outside_training = signal.getsignal(signal.SIGTERM)
    notice: list[int] = []

    def requeue(signum, frame):
        signal.signal(signal.SIGUSR2, signal.SIG_IGN)  # repeats must not requeue twice
        submitit_handler(signum, frame)  # requeues, then exits this process

    def on_notice(signum, frame):
        if notice:
            return  # a repeat of the notice already being acted on
        notice.append(signum)
        if signal.getsignal(signal.SIGTERM) == outside_training:
            requeue(signum, frame)  # nothing to save: requeue now
            return
        signal.raise_signal(signal.SIGTERM)  # the trainer's own graceful stop

    signal.signal(signal.SIGUSR2, on_notice)
    try:
        yield
    except Exception as error:
        if notice and isinstance(error, TrainingInterrupted):
            try:
                requeue(notice[0], None)
            except Exception:  # noqa: BLE001 -- not requeued (max_num_timeout reached): the
                pass  # job stays stopped at its checkpoint, for the sweep command to resume
        raise
    finally:
        signal.signal(signal.SIGUSR2, submitit_handler)


LAUNCHER_CHOICE = "hydra/launcher=submitit_slurm"


def hydra_settings(overrides: list[str], game: dict, hyper: dict) -> dict:
    """retro-gamer's defaults for ``hydra.launcher.*`` when a sweep goes to Slurm.

    ``game`` and ``hyper`` are the run's ``config.toml`` values; the presets and
    overrides of the command are applied on top, each swept field at its largest
    value, since one sbatch array carries every job. A user's own
    ``hydra.launcher.*`` overrides still win (they are applied after these).
    """
    if LAUNCHER_CHOICE not in overrides:
        return {}
    return {"launcher": job_resources(game, largest_values(hyper, overrides))}


def largest_values(hyper: dict, overrides: list[str]) -> dict:
    """``hyper`` with the command's presets and overrides applied, sweeps at their largest."""
    from retro_gamer import overrides as override_rules
    from retro_gamer.conf import group_names
    from retro_gamer.config import HYPERPARAMETER_FIELDS

    values = dict(hyper)
    parsed = override_rules.parse(overrides)
    groups = group_names()
    for override in parsed:  # presets first: the command's own values replace theirs
        if override.key_or_group in groups:
            for choice in override_rules.concrete_values(override):
                for key, value in _group_values(override.key_or_group, choice).items():
                    values[key] = _larger(values.get(key), value)
    for override in parsed:
        if override.key_or_group in HYPERPARAMETER_FIELDS and not override.is_delete():
            candidates = override_rules.concrete_values(override)
            largest = candidates[0]
            for value in candidates[1:]:
                largest = _larger(largest, value)
            values[override.key_or_group] = largest
    return values


def _group_values(group: str, choice) -> dict:
    """The hyperparameters a shipped config (``preset=snake``) sets."""
    from importlib import resources

    from omegaconf import OmegaConf

    path = resources.files("retro_gamer") / "conf" / group / f"{choice}.yaml"
    if not path.is_file():
        return {}
    values = OmegaConf.to_container(OmegaConf.load(str(path)))
    return {k: v for k, v in values.items() if k not in ("defaults", "hydra")}


def _larger(a, b):
    if isinstance(a, bool) or isinstance(b, bool):
        return bool(a) or bool(b)
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return max(a, b)
    return b
