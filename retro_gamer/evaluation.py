"""Scoring a trained agent: greedy episodes without rendering.

:func:`evaluate` plays a checkpoint's greedy policy (no exploration) for a
number of episodes and :func:`summarize` turns the scores into a mean, median,
extremes and a 95% confidence interval of the mean. Games run side by side,
and one forward pass of the network picks the actions of all of them at once:
that is several times faster than one game after the other, since a single
small forward pass costs more than a game's turn. ``retro-gamer eval``
(:func:`evaluate_and_record`) adds a progress bar and keeps the result in
``RUN_DIR/eval/<checkpoint>.json``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import math
import os
import random
import statistics
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from retro_gamer.agent import GreedyAgent
from retro_gamer.env import GameEnvironment
from retro_gamer.errors import ConfigError
from retro_gamer.games import find_create_game
from retro_gamer.json_values import json_safe
from retro_gamer.run_dir import RunDirectory, atomic_write

Z_95 = 1.96  # two-sided 95% quantile of the normal distribution
PARALLEL_GAMES = 16


@dataclass
class Evaluation:
    episodes: int
    mean: float
    median: float
    minimum: float
    maximum: float
    ci95: float  # half-width of the 95% confidence interval of the mean (nan below 2 scores)
    scores: list[float]
    stdev: float = math.nan  # sample standard deviation (nan below 2 scores)
    turns: list[int] = field(default_factory=list)

    @property
    def ci95_low(self) -> float:
        return self.mean - self.ci95

    @property
    def ci95_high(self) -> float:
        return self.mean + self.ci95

    def to_dict(self) -> dict:
        """Plain data for JSON: NaN (undefined) values become ``None``."""
        data = asdict(self)
        data["ci95_low"], data["ci95_high"] = self.ci95_low, self.ci95_high
        return json_safe(data)


def summarize(scores: list[float], turns: list[int] | None = None) -> Evaluation:
    """Mean, median, extremes and the normal-approximation 95% interval of the mean.

    The interval's half-width is ``1.96 * stdev / sqrt(n)`` with the sample
    standard deviation; with fewer than two scores it is undefined (NaN).
    """
    n = len(scores)
    if n == 0:
        return Evaluation(0, math.nan, math.nan, math.nan, math.nan, math.nan, [])
    scores = [float(s) for s in scores]
    spread = statistics.stdev(scores) if n > 1 else math.nan
    return Evaluation(n, statistics.fmean(scores), statistics.median(scores), min(scores),
                      max(scores), Z_95 * spread / math.sqrt(n), scores, spread,
                      list(turns or []))


def play_greedy(agent: GreedyAgent, env: GameEnvironment, episodes: int, max_turns: int
                ) -> list[float]:
    """Total reward of each of ``episodes`` greedy games, one after the other."""
    scores = []
    for _ in range(episodes):
        env.start()
        total = 0.0
        for _ in range(max_turns):
            reward, done, _ = env.act(agent.act(env.board, env.extras))
            total += reward
            if done:
                break
        scores.append(total)
    return scores


def play_greedy_batched(agent: GreedyAgent, envs: list[GameEnvironment], episodes: int,
                        max_turns: int,
                        on_episode: Callable[[float, int], None] | None = None
                        ) -> tuple[list[float], list[int]]:
    """Scores and turn counts of ``episodes`` greedy games played ``len(envs)`` at a time.

    Each turn, one batched forward pass picks the action of every running game;
    a game that ends (or reaches ``max_turns``) is replaced by a fresh one until
    ``episodes`` have started. ``on_episode(score, turns)`` follows each game.
    """
    scores: list[float] = []
    turns: list[int] = []
    running: list[list] = []  # [env, total reward, turns]
    for env in envs[:episodes]:
        env.start()
        running.append([env, 0.0, 0])
    started = len(running)
    while running:
        boards = np.stack([slot[0].board for slot in running])
        extras = np.stack([slot[0].extras for slot in running])
        actions = agent.act_batch(boards, extras)
        still = []
        for slot, action in zip(running, actions, strict=True):
            reward, done, _ = slot[0].act(int(action))
            slot[1] += reward
            slot[2] += 1
            if not done and slot[2] < max_turns:
                still.append(slot)
                continue
            scores.append(slot[1])
            turns.append(slot[2])
            if on_episode is not None:
                on_episode(slot[1], slot[2])
            if started < episodes:
                started += 1
                slot[0].start()
                slot[1], slot[2] = 0.0, 0
                still.append(slot)
        running = still
    return scores, turns


def evaluate_run(run_dir: str | os.PathLike, checkpoint: str | None = None,
                 episodes: int | None = None, seed: int | None = None) -> float:
    """Mean greedy return of a run's checkpoint: the objective sweeps compare.

    ``checkpoint`` defaults to :func:`objective_checkpoint`: what the run's
    ``objective_checkpoint`` names.
    """
    name = objective_checkpoint(run_dir) if checkpoint is None else checkpoint
    return evaluate(run_dir, name, episodes, seed).mean


def objective_checkpoint(run_dir: str | os.PathLike) -> str:
    """``best`` when the run's ``objective_checkpoint`` is ``best`` and ``best.pt`` exists
    (an evaluation ran during training), otherwise ``final``."""
    run = RunDirectory(run_dir)
    _, hyper = run.read_config()
    if hyper.objective_checkpoint == "best" and run.best_checkpoint_path.is_file():
        return "best"
    return "final"


def evaluate(run_dir: str | os.PathLike, checkpoint: str = "final",
             episodes: int | None = None, seed: int | None = None, *,
             parallel: int = PARALLEL_GAMES,
             on_episode: Callable[[float, int], None] | None = None) -> Evaluation:
    """Play ``episodes`` greedy games (default: the run's ``eval_episodes``) and summarize.

    Python's ``random`` (which retro games draw from) is seeded with ``seed``
    (default: the run's seed) and restored afterwards, so the same call gives
    the same scores.
    """
    run = RunDirectory(run_dir)
    _, hyper = run.read_config()
    agent = GreedyAgent.from_checkpoint(run, checkpoint)
    n = hyper.eval_episodes if episodes is None else episodes
    if n < 1:
        raise ConfigError(f"The number of evaluation episodes must be at least 1, not {n}.")
    create_game = find_create_game(agent.metadata.module)
    return evaluate_agent(agent, create_game, n, hyper.max_turns_per_episode,
                          hyper.seed if seed is None else seed, parallel=parallel,
                          on_episode=on_episode)


def evaluate_agent(agent: GreedyAgent, create_game: Callable[[], Any], episodes: int,
                   max_turns: int, seed: int | None, *, parallel: int = PARALLEL_GAMES,
                   on_episode: Callable[[float, int], None] | None = None) -> Evaluation:
    """Score ``agent`` over ``episodes`` greedy games of ``create_game``, ``parallel`` at a time.

    The games draw from Python's global ``random`` seeded with ``seed``; every
    random stream is as it was before when this returns (:func:`preserved_random_state`),
    so evaluating in the middle of training changes nothing that training does.
    """
    with preserved_random_state():
        random.seed(seed)
        envs = [GameEnvironment(create_game, agent.metadata)
                for _ in range(max(1, min(parallel, episodes)))]
        scores, turns = play_greedy_batched(agent, envs, episodes, max_turns, on_episode)
    return summarize(scores, turns)


class RandomPolicy:
    """Uniformly random actions, the no-op included (what epsilon = 1 plays): the yardstick.

    It draws from its own generator, seeded with ``seed``, so the games' own draws from
    Python's ``random`` come from the same seed as the agent's evaluation.
    """

    def __init__(self, metadata, seed: int | None):
        self.metadata = metadata
        self.n_actions = len(metadata.actions) + 1
        self.rng = np.random.default_rng(seed)

    def act_batch(self, boards: np.ndarray, extras: np.ndarray) -> np.ndarray:
        """One random action index per board (shape ``(N,)``)."""
        return self.rng.integers(self.n_actions, size=len(boards))


def evaluate_random(metadata, create_game: Callable[[], Any], episodes: int, max_turns: int,
                    seed: int | None, *, parallel: int = PARALLEL_GAMES) -> Evaluation:
    """Score random play over the games :func:`evaluate_agent` plays with the same ``seed``.

    The games are built and seeded exactly as for the agent (``parallel`` at a time, Python's
    ``random`` seeded with ``seed``), so the two means differ by the policy alone.
    """
    return evaluate_agent(RandomPolicy(metadata, seed), create_game, episodes, max_turns,
                          seed, parallel=parallel)


def normalised_score(agent: float, random_score: float, reference: float | None) -> float:
    """``(agent - random) / (reference - random)``: 0 is random play, 1 the reference.

    NaN without a reference, or when the reference scores no better than random play.
    """
    if reference is None or not reference > random_score:
        return math.nan
    return (agent - random_score) / (reference - random_score)


@contextlib.contextmanager
def preserved_random_state() -> Iterator[None]:
    """Put back Python's global ``random``, numpy's global generator and torch's CPU
    generator as they were on entry, whatever happens inside.

    Retro games draw from Python's ``random``; the other two are restored as well
    because a game may use them, and restoring costs microseconds.
    """
    python_state, numpy_state = random.getstate(), np.random.get_state()
    torch_state = torch.get_rng_state()
    try:
        yield
    finally:
        random.setstate(python_state)
        np.random.set_state(numpy_state)
        torch.set_rng_state(torch_state)


@dataclass
class EvaluationRecord:
    """What ``retro-gamer eval`` reports and keeps in ``RUN_DIR/eval/<checkpoint>.json``."""

    checkpoint: str
    checkpoint_episode: int
    seed: int | None
    seconds: float
    evaluation: Evaluation
    path: Path | None = None
    evaluated_at: str = ""
    random: Evaluation | None = None  # random play on the same seeded games
    reference: float | None = None  # the suite's scripted player's mean, where one exists

    def yardstick(self) -> dict:
        """Random play's statistics, the reference's mean and the normalised score."""
        if self.random is None:
            return {}
        return {"random": {key: self.random.to_dict()[key]
                           for key in ("episodes", "mean", "ci95", "median", "maximum")},
                "reference": json_safe(self.reference),
                "normalised": json_safe(normalised_score(self.evaluation.mean,
                                                         self.random.mean, self.reference))}

    def to_dict(self) -> dict:
        data = {"checkpoint": self.checkpoint, "checkpoint_episode": self.checkpoint_episode,
                "seed": self.seed, **self.evaluation.to_dict(),
                "seconds": round(self.seconds, 3),
                "turns_per_second": json_safe(
                    round(sum(self.evaluation.turns) / max(self.seconds, 1e-9), 1)),
                "evaluated_at": self.evaluated_at, **self.yardstick()}
        if self.path is not None:
            data["path"] = str(self.path)
        return data


def evaluate_and_record(run_dir: str | os.PathLike, checkpoint: str = "final",
                        episodes: int | None = None, seed: int | None = None,
                        console=None,
                        reference: Callable[[str, int, int, int | None], float | None]
                        | None = None) -> EvaluationRecord:
    """``retro-gamer eval``: evaluate with a progress bar, then write the record atomically.

    Random play is scored on the same seeded games (:func:`evaluate_random`), and
    ``reference(module, episodes, max_turns, seed)``, when given, scores a reference
    policy (the suite's :func:`~retro_gamer.suite.runner.reference_score`; ``None`` for a
    game without one), so the record carries the normalised score.
    """
    from retro_gamer.progress import TaskProgress

    run = RunDirectory(run_dir)
    _, hyper = run.read_config()
    path = run.checkpoint_path(checkpoint)
    n = hyper.eval_episodes if episodes is None else episodes
    used_seed = hyper.seed if seed is None else seed
    started = time.perf_counter()
    scores: list[float] = []
    with TaskProgress("evaluating", n, console) as progress:
        def advance(score: float, turns: int) -> None:
            scores.append(score)
            progress.advance(f"mean {statistics.fmean(scores):.4g}")

        evaluation = evaluate(run.path, str(path.resolve()), n, used_seed, on_episode=advance)
    seconds = time.perf_counter() - started  # the agent's games only: turns_per_second's
    metadata, _ = run.read_config()
    create_game = find_create_game(metadata.module)
    random_play = evaluate_random(metadata, create_game, n, hyper.max_turns_per_episode,
                                  used_seed)
    reference_mean = None if reference is None else reference(
        metadata.module, n, hyper.max_turns_per_episode, used_seed)
    resolved = path.resolve()
    if resolved.parent == run.checkpoint_dir.resolve():
        name = record_name = path.stem
    else:  # another run's file: its own record, never one of this run's checkpoints'
        name = str(resolved)
        digest = hashlib.sha256(name.encode("utf-8", "surrogateescape")).hexdigest()[:8]
        record_name = f"{path.stem}-{digest}"
    record = EvaluationRecord(
        checkpoint=name, checkpoint_episode=run.checkpoint_episode(path), seed=used_seed,
        seconds=seconds, evaluation=evaluation,
        path=run.eval_path(record_name),
        evaluated_at=dt.datetime.now().isoformat(timespec="seconds"),
        random=random_play, reference=reference_mean)
    data = record.to_dict()
    data.pop("path", None)
    atomic_write(record.path, (json.dumps(data, indent=2, allow_nan=False) + "\n")
                 .encode("utf-8"))
    return record


__all__ = ["Evaluation", "EvaluationRecord", "summarize", "evaluate", "evaluate_agent",
           "evaluate_run", "objective_checkpoint", "preserved_random_state",
           "evaluate_and_record", "play_greedy", "play_greedy_batched", "RandomPolicy",
           "evaluate_random", "normalised_score"]
