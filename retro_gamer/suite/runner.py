"""Running the suite: train each game within a budget, score agent, random and reference.

Every policy of a game is scored on the same games: Python's ``random`` (which
retro games draw from) is seeded with the same evaluation seed before each, as
:func:`retro_gamer.evaluation.evaluate` does for the agent.
"""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from retro_gamer.config import GameMetadata
from retro_gamer.env import GameEnvironment
from retro_gamer.errors import TrainingInterrupted
from retro_gamer.evaluation import Evaluation, evaluate, normalised_score, summarize
from retro_gamer.games import find_create_game
from retro_gamer.json_values import json_safe
from retro_gamer.runs import create_run, open_trainer
from retro_gamer.suite import BY_NAME, SUITE, SuiteGame
from retro_gamer.suite.policies import Policy

SUITE_MINUTES = 10.0  # default training budget per game (the issue allows at most 15)


def score_policy(module: str, max_turns: int, choose: Callable[[GameEnvironment], int],
                 episodes: int, seed: int) -> Evaluation:
    """Total reward of ``episodes`` games played by ``choose(env) -> action index``."""
    outer = random.getstate()
    random.seed(seed)
    try:
        env = GameEnvironment(find_create_game(module), GameMetadata.from_pyproject(module))
        scores, turns = [], []
        for _ in range(episodes):
            env.start()
            total, turn = 0.0, 0
            while turn < max_turns:
                reward, done, _ = env.act(choose(env))
                total, turn = total + reward, turn + 1
                if done:
                    break
            scores.append(total)
            turns.append(turn)
        return summarize(scores, turns)
    finally:
        random.setstate(outer)


def random_choice(seed: int) -> Callable[[GameEnvironment], int]:
    """Uniformly random actions, the no-op included (what epsilon = 1 plays)."""
    rng = random.Random(seed)
    return lambda env: rng.randrange(env.n_actions)


def reference_choice(policy: Policy) -> Callable[[GameEnvironment], int]:
    return lambda env: env.action_index(policy(env.game))


def reference_score(module: str, episodes: int, max_turns: int, seed: int | None
                    ) -> float | None:
    """Mean score of the scripted reference policy of ``module``, if the suite has one.

    The suite's games (:mod:`retro_gamer.suite`) carry a reference player written from each
    game's rules; another game has none (``None``).
    """
    game = next((game for game in SUITE if game.module == module), None)
    if game is None:
        return None
    return score_policy(module, max_turns, reference_choice(game.reference()), episodes,
                        seed).mean


def train_for(game: SuiteGame, run: Path, minutes: float, seed: int,
              overrides: dict | None = None) -> dict[str, Any]:
    """Train the defaults (with ``overrides``, hyperparameter name to value) on ``game``
    until its episodes end or ``minutes`` pass."""
    create_run(game.module, run, {"seed": seed, "max_turns_per_episode":
                                  game.max_turns_per_episode, "checkpoint_every": 10**8,
                                  **(overrides or {})})
    trainer = open_trainer(run)
    started = time.perf_counter()

    def on_episode(stats) -> None:
        if time.perf_counter() - started >= minutes * 60:
            trainer.stop_requested = True

    trainer.on_episode = on_episode
    try:
        trainer.train()
        finished = True
    except TrainingInterrupted:  # the stop at the budget
        finished = False
    # A budget that ends training early leaves epsilon and the learning rate where the
    # schedule was, not where it ends: the row says so.
    return {"minutes": (time.perf_counter() - started) / 60, "episodes": trainer.episode,
            "planned_episodes": trainer.hp.training_episodes, "env_steps": trainer.env_steps,
            "finished": finished, "epsilon": trainer.epsilon,
            "learning_rate": trainer.learning_rate}


def normalised(agent: float, random_score: float, reference: float) -> float:
    """``(agent - random) / (reference - random)``; NaN when the reference is no better."""
    return normalised_score(agent, random_score, reference)


def run_game(game: SuiteGame, workdir: Path, minutes: float, episodes: int,
             seed: int, overrides: dict | None = None) -> dict[str, Any]:
    """One row of the suite's table (scores are mean returns over ``episodes`` games)."""
    started = time.time()
    eval_seed = seed + 1
    turns = game.max_turns_per_episode
    random_eval = score_policy(game.module, turns, random_choice(seed), episodes, eval_seed)
    reference_eval = score_policy(game.module, turns, reference_choice(game.reference()),
                                  episodes, eval_seed)
    run = workdir / game.name
    training = train_for(game, run, minutes, seed, overrides)
    agent_eval = evaluate(run, "final" if training["finished"] else "latest", episodes,
                          eval_seed)
    row = {"game": game.name, "module": game.module, "kind": game.kind,
           "max_turns_per_episode": turns, "episodes": episodes,
           "random": random_eval.mean, "reference": reference_eval.mean,
           "agent": agent_eval.mean, "agent_ci95": agent_eval.ci95,
           "normalised": normalised(agent_eval.mean, random_eval.mean, reference_eval.mean),
           "training": training, "overrides": overrides or {},
           # Wall-clock times (Unix seconds): which games ran side by side, under what load.
           "started_unix": started, "ended_unix": time.time()}
    return json_safe(row)


def run_suite(games: list[SuiteGame], workdir: Path, minutes: float, episodes: int,
              seed: int, on_row: Callable[[dict], None] | None = None,
              jobs: int = 1, overrides: dict | None = None) -> list[dict]:
    """The suite's rows, in the order of ``games``, ``jobs`` games at a time.

    With ``jobs`` above 1 each game runs in a process of its own with one torch thread,
    so two games on two cores take about the time of one. A game is trained and scored
    on the same seeds either way (each draws only from ``seed``, not from what ran before
    it in the process); what a budget of minutes buys depends on the machine's load, which
    the caller records. ``on_row`` gets each row as its game ends (in the order they end).
    ``overrides`` (hyperparameter name to value) train every game with a lever.
    """
    if jobs <= 1 or len(games) <= 1:
        rows = []
        for game in games:
            rows.append(run_game(game, workdir, minutes, episodes, seed, overrides))
            if on_row:
                on_row(rows[-1])
        return rows
    done: dict[str, dict] = {}
    # spawn, as --seeds does: a fork of a process whose torch has started its thread pool
    # can hang in the child.
    with concurrent.futures.ProcessPoolExecutor(
            max_workers=min(jobs, len(games)),
            mp_context=multiprocessing.get_context("spawn")) as pool:
        # Submitted in the suite's order: the pool starts the first ``jobs`` games at once
        # and each next game as soon as a core is free.
        futures = {pool.submit(run_game_alone, game.name, str(workdir), minutes, episodes,
                               seed, overrides): game.name for game in games}
        for future in concurrent.futures.as_completed(futures):
            done[futures[future]] = future.result()
            if on_row:
                on_row(done[futures[future]])
    return [done[game.name] for game in games]


def run_game_alone(name: str, workdir: str, minutes: float, episodes: int,
                   seed: int, overrides: dict | None = None) -> dict[str, Any]:
    """:func:`run_game` in a worker process of :func:`run_suite`, with one torch thread.

    The game travels by name: a :class:`SuiteGame` holds a lambda, which cannot be pickled.
    """
    import torch

    torch.set_num_threads(1)
    return run_game(BY_NAME[name], Path(workdir), minutes, episodes, seed, overrides)


def row_summary(row: dict) -> str:
    norm = row["normalised"]
    return (f"{row['game']}: random {row['random']:.4g}, reference {row['reference']:.4g}, "
            f"agent {row['agent']:.4g}, normalised "
            f"{'n/a' if norm is None else format(norm, '.2f')} after "
            f"{row['training']['minutes']:.1f} min ({row['training']['episodes']} episodes)")


def table(rows: list[dict], title: str):
    """The suite's rich table: game, random, reference, agent, normalised, minutes."""
    from rich.table import Table

    out = Table("game", "kind", "random", "reference", "agent", "normalised", "minutes",
                title=title)
    for row in rows:
        norm = row["normalised"]
        out.add_row(row["game"], row["kind"], f"{row['random']:.4g}", f"{row['reference']:.4g}",
                    f"{row['agent']:.4g}", "n/a" if norm is None else f"{norm:.2f}",
                    f"{row['training']['minutes']:.1f}")
    return out
