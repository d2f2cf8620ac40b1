"""Slurm's notice (SIGUSR2) handled around a sweep job's training, without a cluster.

`slurm.requeue_on_notice` turns the notice into the trainer's graceful stop, then hands
it to submitit's handler, which requeues the job and exits. Slurm may deliver the
notice more than once (to the step and again through srun), and a repeat can land
while submitit is already requeueing: that must not requeue a second time (the second
``scontrol requeue`` fails, and the job then ended as "stopped" while Slurm restarted
it, seen once in the suite under load).
"""
from __future__ import annotations

import os
import signal

import pytest

from retro_gamer import slurm
from retro_gamer.errors import TrainingInterrupted


@pytest.fixture
def submitit_handler():
    """A stand-in for submitit's SIGUSR2 handler: records each call, then exits as it does."""
    calls: list[int] = []

    def handler(signum, frame):
        calls.append(signum)
        os.kill(os.getpid(), signal.SIGUSR2)  # the notice again, while `scontrol requeue` runs
        raise SystemExit(-1)

    previous = signal.signal(signal.SIGUSR2, handler)
    try:
        yield calls
    finally:
        signal.signal(signal.SIGUSR2, previous)


def train_until_notice(stopped: list[bool]) -> None:
    """What the trainer does: its SIGTERM handler asks for a stop; it saves and raises."""
    def request_stop(signum, frame):
        stopped.append(True)

    previous = signal.signal(signal.SIGTERM, request_stop)
    try:
        os.kill(os.getpid(), signal.SIGUSR2)  # Slurm's notice, mid-episode
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_a_notice_stops_training_then_requeues_once(submitit_handler):
    stopped: list[bool] = []
    with pytest.raises(SystemExit):
        with slurm.requeue_on_notice():
            train_until_notice(stopped)
            raise TrainingInterrupted("Training stopped at episode 14; checkpoint saved.")
    assert stopped == [True]
    assert submitit_handler == [signal.SIGUSR2]


def test_a_repeated_notice_after_the_stop_does_not_requeue_twice(submitit_handler):
    stopped: list[bool] = []
    with pytest.raises(SystemExit):
        with slurm.requeue_on_notice():
            train_until_notice(stopped)
            os.kill(os.getpid(), signal.SIGUSR2)  # a repeat, after the trainer let go of SIGTERM
            raise TrainingInterrupted("Training stopped at episode 14; checkpoint saved.")
    assert stopped == [True]
    assert submitit_handler == [signal.SIGUSR2]
