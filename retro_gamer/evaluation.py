"""Scoring a trained agent: greedy episodes without rendering."""

from __future__ import annotations

import math
import os
import random
import statistics
from dataclasses import asdict, dataclass

from retro_gamer.agent import GreedyAgent
from retro_gamer.env import GameEnvironment
from retro_gamer.games import find_create_game
from retro_gamer.run_dir import RunDirectory


@dataclass
class Evaluation:
    episodes: int
    mean: float
    median: float
    minimum: float
    maximum: float
    ci95: float  # half-width of the 95% confidence interval of the mean
    scores: list[float]

    def to_dict(self) -> dict:
        return asdict(self)


def summarize(scores: list[float]) -> Evaluation:
    """Mean, median, extremes and the normal-approximation 95% interval of the mean."""
    n = len(scores)
    if n == 0:
        return Evaluation(0, math.nan, math.nan, math.nan, math.nan, math.nan, [])
    spread = statistics.stdev(scores) if n > 1 else 0.0
    return Evaluation(n, statistics.fmean(scores), statistics.median(scores), min(scores),
                      max(scores), 1.96 * spread / math.sqrt(n), list(scores))


def play_greedy(agent: GreedyAgent, env: GameEnvironment, episodes: int, max_turns: int
                ) -> list[float]:
    """Total reward of each of ``episodes`` greedy games, cut off after ``max_turns`` turns."""
    scores = []
    for _ in range(episodes):
        env.start()
        total = 0.0
        for _ in range(max_turns):
            reward, done = env.act(agent.act(env.board, env.extras))
            total += reward
            if done:
                break
        scores.append(total)
    return scores


def evaluate_run(run_dir: str | os.PathLike, checkpoint: str = "final",
                 episodes: int | None = None, seed: int | None = None) -> float:
    """Mean greedy return of a run's checkpoint: the objective sweeps compare."""
    return evaluate(run_dir, checkpoint, episodes, seed).mean


def evaluate(run_dir: str | os.PathLike, checkpoint: str = "final",
             episodes: int | None = None, seed: int | None = None) -> Evaluation:
    run = RunDirectory(run_dir)
    _, hyper = run.read_config()
    agent = GreedyAgent.from_checkpoint(run, checkpoint)
    n = hyper.eval_episodes if episodes is None else episodes
    state = random.getstate()
    random.seed(hyper.seed if seed is None else seed)
    try:
        env = GameEnvironment(find_create_game(agent.metadata.module), agent.metadata)
        return summarize(play_greedy(agent, env, n, hyper.max_turns_per_episode))
    finally:
        random.setstate(state)
