"""Measure retro-gamer on this machine: game, environment, acting, training, time-to-score.

    python scripts/benchmark.py                 # full run (time-to-score trains Snake fully)
    python scripts/benchmark.py --quick         # seconds: a smoke run for CI
    python scripts/benchmark.py --json out.json --threads 1,2
    python scripts/benchmark.py --seeds 10      # time-to-score over 10 seeds, references beside
    python scripts/benchmark.py --seeds 3 --preset snake --minutes 60
    python scripts/benchmark.py --suite --minutes 10   # the game suite (retro_gamer.suite)
    python scripts/benchmark.py --suite --jobs 1       # one game at a time

With ``--seeds N`` only scores are measured: N training runs (one torch thread
each, ``--jobs`` at once), each scored greedily over ``--eval-episodes`` games,
and beside them the reference policies (a random policy and the greedy
apple-chaser) over the same games of the same seeds.

Every rate is the median of ``--repeats`` measurements taken in this one run, so
ratios (GameEnvironment.step against game.step) compare numbers from the same
machine under the same load. The JSON records the machine, torch's thread
count and device, and the load average before and after, so numbers from a
shared machine can be judged. docs/benchmarks.md explains what each figure is.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import datetime
import json
import math
import multiprocessing
import os
import platform
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from retro_gamer import GameEnvironment, GameMetadata
from retro_gamer.config import Hyperparameters
from retro_gamer.errors import RetroGamerError, TrainingInterrupted
from retro_gamer.evaluation import (
    Evaluation,
    evaluate,
    play_greedy,
    preserved_random_state,
    summarize,
)
from retro_gamer.networks import QNetwork, count_parameters, multiply_adds
from retro_gamer.overrides import hyperparameter_overrides
from retro_gamer.runs import create_run, open_trainer
from retro_gamer.trainer import DQNTrainer, select_device

sys.path.insert(0, str(Path(__file__).resolve().parent))  # scripts/paired.py, run or loaded
from paired import T_975, compare, markdown  # noqa: E402

GAME = "retro.examples.snake"
# The extension defaults before issue 5 (full-resolution first convolution, a training
# step every turn, plain one-step DQN, the board as drawn): the baseline of --baseline.
PREVIOUS_DEFAULTS = {"first_conv_stride": 1, "train_every": 1, "n_step": 1,
                     "double_dqn": False, "reward_clip": 0.0, "grad_clip": 0.0,
                     "center_on": "", "local_view": 0}


def median_of(repeats: int, measure: Callable[[], float]) -> float:
    return statistics.median(measure() for _ in range(repeats))


# ------------------------------------------------------------------ game and environment


def raw_game_rate(create_game, keys, steps: int, rng: random.Random) -> float:
    """``game.step()`` calls per second (random keys; new games as needed, not timed)."""
    from retro.input import ProgrammaticInput

    source = ProgrammaticInput()
    timed, done_steps = 0.0, 0
    while done_steps < steps:
        game = create_game()
        game.input_source, game.view = source, None
        game.start()
        presses = [rng.choice(keys) for _ in range(steps - done_steps)]
        start = time.perf_counter()
        for key in presses:
            source.press(key)
            game.step()
            done_steps += 1
            if not game.playing:
                break
        timed += time.perf_counter() - start
    return steps / timed


def env_rate(env: GameEnvironment, steps: int, rng: random.Random, spec_api: bool) -> float:
    """``GameEnvironment.step`` (spec API, float observation) or ``act`` calls per second."""
    timed, done_steps = 0.0, 0
    while done_steps < steps:
        env.reset()
        actions = [rng.randrange(env.n_actions) for _ in range(steps - done_steps)]
        start = time.perf_counter()
        for action in actions:
            if spec_api:
                done = env.step(action)[2]
            else:
                done = env.act(action)[1]
            done_steps += 1
            if done:
                break
        timed += time.perf_counter() - start
    return steps / timed


# ------------------------------------------------------------------------------ acting


def default_network(metadata: GameMetadata, n_channels: int, board_size) -> QNetwork:
    hp = Hyperparameters()
    return QNetwork(n_channels, tuple(board_size), len(metadata.observe_state),
                    metadata.n_actions, hp.n_layers, hp.layer_size, metadata.spatial,
                    first_conv_stride=hp.first_conv_stride, dueling=hp.dueling).eval()


def acting_rate(create_game, metadata, network: QNetwork, n_games: int, steps: int,
                rng: random.Random) -> float:
    """Greedy env steps per second: ``n_games`` games stepped together, one forward pass a turn."""
    envs = [GameEnvironment(create_game, metadata) for _ in range(n_games)]
    for env in envs:
        env.start()
    boards = np.zeros((n_games, *envs[0].board.shape), dtype=np.uint8)
    extras = np.zeros((n_games, len(envs[0].extras)), dtype=np.float32)
    done_steps = 0
    start = time.perf_counter()
    with torch.no_grad():
        while done_steps < steps:
            for i, env in enumerate(envs):
                boards[i], extras[i] = env.board, env.extras
            actions = network(torch.from_numpy(boards), torch.from_numpy(extras)).argmax(1)
            for env, action in zip(envs, actions.tolist(), strict=True):
                # Greedy policies of an untrained network walk into walls; a few random
                # turns keep the games going as they would during training.
                if rng.random() < 0.1:
                    action = rng.randrange(env.n_actions)
                if env.act(action)[1]:
                    env.start()
                done_steps += 1
    return done_steps / (time.perf_counter() - start)


# ---------------------------------------------------------------------------- training


class Timers:
    """Wall time spent inside wrapped callables, by name."""

    def __init__(self):
        self.seconds: dict[str, float] = {}

    def wrap(self, name: str, function: Callable) -> Callable:
        def timed(*args, **kwargs):
            start = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - start
        return timed


def instrument(trainer: DQNTrainer, timers: Timers) -> None:
    """Wrap the trainer's pieces (after ``train`` built them) to time each."""
    env = trainer.env
    env._encode = timers.wrap("encode", env._encode)
    env.act = timers.wrap("game+encode", env.act)
    trainer._q_values = timers.wrap("act", trainer._q_values)
    trainer.replay.push = timers.wrap("replay", trainer.replay.push)
    trainer.replay.sample = timers.wrap("replay_sample", trainer.replay.sample)
    trainer.n_step.add = timers.wrap("replay_nstep", trainer.n_step.add)
    trainer.learner.step = timers.wrap("train_step+sample", trainer.learner.step)


def training_rate(workdir: Path, threads: int, seconds: float, seed: int,
                  overrides: dict) -> dict:
    """Train Snake with the default configuration for about ``seconds``; rates and a breakdown."""
    torch.set_num_threads(threads)
    run = workdir / f"train_{threads}_{time.monotonic_ns()}"
    create_run(GAME, run, {"seed": seed, "checkpoint_every": 10**8, "torch_threads": threads,
                           **overrides})
    timers = Timers()
    trainer = open_trainer(run)
    first = {"done": False}
    started = {}

    def on_episode(stats):
        if not first["done"]:
            # Discard the first episode (imports, allocation) and start timing now.
            first["done"] = True
            instrument(trainer, timers)
            started.update(t=time.perf_counter(), env=stats.env_steps, train=stats.train_steps)
            return
        if time.perf_counter() - started["t"] >= seconds:
            trainer.stop_requested = True

    trainer.on_episode = on_episode
    try:
        trainer.train()
    except TrainingInterrupted:  # the stop after the time budget
        pass
    wall = time.perf_counter() - started["t"]
    env_steps = trainer.env_steps - started["env"]
    train_steps = trainer.train_steps - started["train"]
    s = timers.seconds
    game_encode = s.get("game+encode", 0.0)
    encode = s.get("encode", 0.0)
    sample = s.get("replay_sample", 0.0)
    replay = s.get("replay", 0.0) + s.get("replay_nstep", 0.0) + sample
    train = s.get("train_step+sample", 0.0) - sample
    breakdown = {
        "game": game_encode - encode,
        "encode": encode,
        "act": s.get("act", 0.0),
        "replay": replay,
        "train_step": train,
    }
    breakdown["other"] = max(0.0, wall - sum(breakdown.values()))
    per_step_us = {k: 1e6 * v / max(env_steps, 1) for k, v in breakdown.items()}
    return {
        "threads": threads,
        "seconds": wall,
        "env_steps": env_steps,
        "train_steps": train_steps,
        "env_steps_per_s": env_steps / wall,
        "train_steps_per_s": train_steps / wall,
        "breakdown_us_per_env_step": per_step_us,
    }


# ------------------------------------------------------------------- reference policies

def chaser_action(game, actions: list[str]) -> int:
    """The greedy apple-chaser's move (:func:`retro_gamer.suite.policies.apple_chaser`, issue
    12's yardstick) in a game of retro's Snake, as an index into ``actions``."""
    from retro_gamer.suite.policies import apple_chaser

    return actions.index(apple_chaser(game))


class ChaserPolicy:
    """The apple-chaser behind the ``act(board, extras)`` interface of a greedy agent."""

    def __init__(self, env: GameEnvironment):
        self.env = env

    def act(self, board, extras) -> int:
        return chaser_action(self.env.game, self.env.metadata.actions)


class RandomPolicy:
    """Uniformly random actions (the arrows and the no-op), from its own generator."""

    def __init__(self, env: GameEnvironment, seed: int):
        self.n_actions, self.rng = env.n_actions, random.Random(seed)

    def act(self, board, extras) -> int:
        return self.rng.randrange(self.n_actions)


def reference_score(policy: str, seed: int, episodes: int) -> dict:
    """``policy`` ('random' or 'chaser') over ``episodes`` Snake games seeded as the
    agents' greedy evaluation is (``seed``), capped at the default max_turns_per_episode."""
    from retro.examples.snake import create_game

    env = GameEnvironment(create_game, GameMetadata.from_pyproject(GAME))
    player = ChaserPolicy(env) if policy == "chaser" else RandomPolicy(env, seed)
    with preserved_random_state():
        random.seed(seed)
        scores = play_greedy(player, env, episodes, Hyperparameters().max_turns_per_episode)
    return {"policy": policy, "seed": seed, **score_fields(summarize(scores))}


def score_fields(scores: Evaluation) -> dict:
    return {"eval_episodes": scores.episodes, "mean_score": scores.mean,
            "median_score": scores.median, "max_score": scores.maximum, "ci95": scores.ci95}


# ------------------------------------------------------------------------ time to score


def time_to_score(workdir: Path, seed: int, eval_episodes: int, overrides: dict,
                  threads: int) -> dict:
    """Train Snake with what ``retro-gamer create`` writes, to completion; score it greedily.

    The final checkpoint plays ``eval_episodes`` games seeded ``seed + 1`` (games
    training never saw); so does ``best.pt`` when evaluations during training
    kept one (``best_*`` keys).
    """
    torch.set_num_threads(threads)
    run = workdir / f"time_to_score_{seed}"
    create_run(GAME, run, {"seed": seed, **overrides})
    trainer = open_trainer(run)  # torch_threads as create writes it, unless overridden
    timers = Timers()  # the share of the evaluations during training (eval_every)
    trainer._evaluate = timers.wrap("evaluate", trainer._evaluate)
    start, cpu_start = time.perf_counter(), time.process_time()
    result = trainer.train()
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    scores = evaluate(run, "final", episodes=eval_episodes, seed=seed + 1)
    measured = {
        "seed": seed,
        "overrides": overrides,
        "threads": torch.get_num_threads(),
        "training_seconds": wall,
        # This process's CPU time: one torch thread, so a core's worth whatever the load.
        "cpu_seconds": cpu,
        "env_steps_per_cpu_s": result.env_steps / cpu,
        "episodes": result.episodes_done,
        "env_steps": result.env_steps,
        "train_steps": result.train_steps,
        "env_steps_per_s": result.env_steps / wall,
        "evaluation_seconds": timers.seconds.get("evaluate", 0.0),
        **score_fields(scores),
    }
    return {**measured, **best_checkpoint_score(run, eval_episodes, seed)}


def best_checkpoint_score(run: Path, eval_episodes: int, seed: int) -> dict:
    """``best.pt``'s episode and greedy score over the same games as the final one (if any)."""
    from retro_gamer.run_dir import RunDirectory

    directory = RunDirectory(run)
    if not directory.best_checkpoint_path.is_file():
        return {}
    best = evaluate(run, "best", episodes=eval_episodes, seed=seed + 1)
    return {"best_episode": directory.checkpoint_episode(directory.best_checkpoint_path),
            "best_mean_score": best.mean, "best_median_score": best.median,
            "best_max_score": best.maximum,
            "evaluations_during_training": directory.training_evaluations()}


def preset_score(workdir: Path, preset: str, minutes: float, seed: int,
                 eval_episodes: int, overrides: dict | None = None) -> dict:
    """Train Snake with ``preset=NAME`` as a user would, for at most ``minutes``; score it.

    ``retro-gamer train RUN preset=NAME`` runs as a subprocess; when the budget is spent
    it gets Ctrl+C (SIGINT), finishes its episode, saves and stops, and the newest
    checkpoint is evaluated greedily.
    """
    run = workdir / f"preset_{preset}_{seed}"
    create_run(GAME, run, {"seed": seed})
    cli = "import sys; from retro_gamer.cli import main; sys.exit(main())"
    command = [sys.executable, "-c", cli, "train", str(run), f"preset={preset}",
               *(f"{key}={value}" for key, value in (overrides or {}).items())]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               text=True)
    # The budget is training time: it starts once training has begun (the log exists), so
    # a slow start-up on a loaded machine cannot eat it.
    while not (run / "training.log").exists() and process.poll() is None:
        time.sleep(0.1)
    start = time.perf_counter()
    try:
        _, errors = process.communicate(timeout=minutes * 60)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGINT)
        _, errors = process.communicate()
    wall = time.perf_counter() - start
    if process.returncode not in (0, 130):
        raise RuntimeError(f"training with preset={preset} failed: {errors[-2000:]}")
    episodes = [line for line in (run / "training.log").read_text().splitlines()
                if line.startswith("[EP ")]
    scores = evaluate(run, "latest", episodes=eval_episodes, seed=seed + 1)
    return {
        "seed": seed,
        "preset": preset,
        "budget_minutes": minutes,
        "training_seconds": wall,
        "finished": process.returncode == 0,
        "episodes": len(episodes),
        **score_fields(scores),
        **best_checkpoint_score(run, eval_episodes, seed),
    }


# ------------------------------------------------------------------------ several seeds

# Two-sided 95% quantiles of Student's t for 1..30 degrees of freedom; the normal's beyond.
def across_seeds(values: list[float], target: float) -> dict:
    """Mean over seeds with a 95% Student-t interval (nan below two seeds), and how
    many seeds reach ``target``."""
    n = len(values)
    mean = statistics.fmean(values) if values else math.nan
    if n > 1:
        t = T_975[n - 2] if n - 1 <= len(T_975) else 1.96
        half = t * statistics.stdev(values) / math.sqrt(n)
    else:
        half = math.nan
    return {"seeds": n, "mean": mean, "ci95": half, "ci95_low": mean - half,
            "ci95_high": mean + half, "minimum": min(values, default=math.nan),
            "maximum": max(values, default=math.nan), "target": target,
            "reaching_target": sum(v >= target for v in values)}


def seed_task(kind: str, workdir: str, seed: int, args: dict) -> dict:
    """One job of ``--seeds``, in its own process: a training run or a reference policy
    (``kind`` ending in ``@B``: the ``--compare`` arm's run, in its own folder)."""
    torch.set_num_threads(1)
    if kind.endswith(COMPARED):
        workdir = str(Path(workdir) / "compared")
        Path(workdir).mkdir(exist_ok=True)
        args = {**args, "overrides": args["compared_overrides"]}
        kind = kind[:-len(COMPARED)]
    if kind == "time_to_score":
        return time_to_score(Path(workdir), seed, args["eval_episodes"], args["overrides"], 1)
    if kind == "preset":
        return preset_score(Path(workdir), args["preset"], args["minutes"], seed,
                            args["eval_episodes"], args["overrides"])
    return reference_score(kind, seed + 1, args["eval_episodes"])


COMPARED = "@B"  # the task-name suffix of the --compare arm


def several_seeds(args, overrides: dict,
                  on_progress: Callable[[dict], None] | None = None) -> dict:
    """``--seeds N``: N runs (``--jobs`` at once) and the reference policies beside them.

    ``on_progress`` gets the figures of the seeds finished so far (``partial``:
    true) after each task, so a long benchmark stopped early keeps what it measured.
    """
    seeds = [args.seed + i for i in range(args.seeds)]
    kind = "preset" if args.preset else "time_to_score"
    compared = {**overrides, **args.compare_values} if args.compare_values else None
    task_args = {"eval_episodes": args.eval_episodes, "overrides": overrides,
                 "compared_overrides": compared, "preset": args.preset,
                 "minutes": args.minutes}
    # Seed by seed, so that the first seeds are complete (with their references) first; the
    # two arms of a --compare run side by side, under the same load.
    names = (kind, *([kind + COMPARED] if compared else []), "random", "chaser")
    tasks = [(name, seed) for seed in seeds for name in names]
    done: dict[tuple[str, int], dict] = {}
    with tempfile.TemporaryDirectory(prefix="retro-gamer-bench-") as tmp, \
            concurrent.futures.ProcessPoolExecutor(
                max_workers=args.jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = {pool.submit(seed_task, name, tmp, seed, task_args): (name, seed)
                   for name, seed in tasks}
        for future in concurrent.futures.as_completed(futures):
            done[futures[future]] = future.result()
            name, seed = futures[future]
            print(f"  finished: {name}, seed {seed}", file=sys.stderr, flush=True)
            if on_progress is not None and len(done) < len(tasks):
                on_progress(with_compared(args, seeds_results(args, kind, seeds, overrides,
                                                              done), done))
    return with_compared(args, seeds_results(args, kind, seeds, overrides, done), done)


def with_compared(args, several: dict, done: dict) -> dict:
    """``several`` with the ``--compare`` arm's rows under ``compared`` (when there is one)."""
    if args.compare_values:
        several["compared"] = compared_arm(args, several, done)
    return several


def compared_arm(args, several: dict, done: dict) -> dict:
    """The ``--compare`` arm's per-seed rows, as :func:`seeds_results` gives arm A's."""
    kind = several["kind"]
    arm_b = {(name[:-len(COMPARED)], seed): value for (name, seed), value in done.items()
             if name == kind + COMPARED}
    arm_b.update({key: value for key, value in done.items() if key[0] in ("random", "chaser")})
    return seeds_results(args, kind, several["seeds_planned"],
                         {**several["overrides"], **args.compare_values}, arm_b)


def seeds_results(args, kind: str, seeds: list[int], overrides: dict, done: dict) -> dict:
    """Per-seed rows and across-seed summaries of the seeds whose three tasks are done."""
    finished = [seed for seed in seeds
                if all((name, seed) in done for name in (kind, "random", "chaser"))]
    runs = [done[(kind, seed)] for seed in finished]
    reference = {policy: [done[(policy, seed)] for seed in finished]
                 for policy in ("random", "chaser")}
    summary = {"agent": across_seeds([r["mean_score"] for r in runs], args.target)}
    if runs and all("best_mean_score" in r for r in runs):
        summary["agent_best_checkpoint"] = across_seeds(
            [r["best_mean_score"] for r in runs], args.target)
    for policy, rows in reference.items():
        summary[policy] = across_seeds([r["mean_score"] for r in rows], args.target)
    return {"kind": kind, "seeds": finished, "partial": len(finished) < len(seeds),
            "seeds_planned": seeds, "jobs": args.jobs, "overrides": overrides,
            "preset": args.preset, "budget_minutes": args.minutes if args.preset else None,
            "eval_episodes": args.eval_episodes, "runs": runs, "reference": reference,
            "summary": summary}


# ---------------------------------------------------------------------------- the run


def machine_info(threads: list[int]) -> dict:
    device = select_device(Hyperparameters().device)
    info = {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torch_default_threads": torch.get_num_threads(),
        "threads_measured": threads,
        "device": str(device),
        "cuda_device": torch.cuda.get_device_name(0) if device.type == "cuda" else None,
    }
    if hasattr(os, "getloadavg"):
        info["load_average_start"] = list(os.getloadavg())
    return info


def run_several_seeds(args, results: dict) -> dict:
    """``--seeds N``: the score runs only; the JSON is rewritten as each task finishes."""
    overrides = dict(args.override_values)
    if args.quick:
        overrides = {"training_episodes": 3, "max_turns_per_episode": 100, **overrides}
    results["machine"]["jobs"] = args.jobs

    def split(several: dict) -> dict:
        """Arm A as ``several_seeds``; a --compare run's arm B and the paired comparison."""
        arm_b = several.pop("compared", None)
        out = {"several_seeds": several}
        if arm_b is not None:
            out["several_seeds_compare"] = arm_b
            out["paired"] = compare({r["seed"]: r for r in several["runs"]},
                                    {r["seed"]: r for r in arm_b["runs"]})
        return out

    def keep(partial: dict) -> None:
        if args.json:
            write_json(args.json, {**results, **split(partial)})

    results.update(split(several_seeds(args, overrides, keep)))
    results["machine"]["load_average_end"] = list(os.getloadavg())
    return results


def run(args) -> dict:
    rng = random.Random(args.seed)
    torch.manual_seed(args.seed)
    quick = args.quick
    threads = [int(t) for t in args.threads.split(",")] if args.threads else (
        [1] if quick else [1, 2])
    repeats = args.repeats or (3 if quick else 5)
    results: dict = {"quick": quick, "repeats": repeats, "machine": machine_info(threads)}
    if args.seeds:
        return run_several_seeds(args, results)
    if args.only_preset:
        with tempfile.TemporaryDirectory(prefix="retro-gamer-bench-") as tmp:
            results["preset_score"] = preset_score(
                Path(tmp), args.preset, args.minutes, args.seed, args.eval_episodes)
        results["machine"]["load_average_end"] = list(os.getloadavg())
        return results
    from retro.examples.snake import create_game

    metadata = GameMetadata.from_pyproject(GAME)
    keys = [*metadata.actions, None]
    torch.set_num_threads(threads[0])

    # 1. the game and the environment
    n = 2000 if quick else 20000
    env = GameEnvironment(create_game, metadata)
    # Interleaved, so that a change in the machine's load hits all three alike; each ratio
    # is the median of the per-repeat ratios.
    rows = []
    for _ in range(repeats):
        raw = raw_game_rate(create_game, keys, n, rng)
        step = env_rate(env, n, rng, spec_api=True)
        act = env_rate(env, n, rng, spec_api=False)
        rows.append((raw, step, act))
    results["env"] = {
        "raw_game_step_per_s": statistics.median(r[0] for r in rows),
        "env_step_per_s": statistics.median(r[1] for r in rows),
        "env_act_per_s": statistics.median(r[2] for r in rows),
        "ratio_env_step_to_raw": statistics.median(r[1] / r[0] for r in rows),
        "ratio_env_act_to_raw": statistics.median(r[2] / r[0] for r in rows),
    }

    # 2. acting only, default network
    network = default_network(metadata, env.encoder.n_channels, env.board_size)
    n_parallel = args.parallel_games
    m = 300 if quick else 3000
    single = median_of(repeats, lambda: acting_rate(create_game, metadata, network, 1, m, rng))
    batched = median_of(repeats, lambda: acting_rate(create_game, metadata, network,
                                                      n_parallel, m * 4, rng))
    results["acting"] = {
        "threads": threads[0],
        "network_parameters": count_parameters(network),
        "network_multiply_adds": multiply_adds(network),
        "single_game_steps_per_s": single,
        "parallel_games": n_parallel,
        "batched_steps_per_s": batched,
    }

    with tempfile.TemporaryDirectory(prefix="retro-gamer-bench-") as tmp:
        workdir = Path(tmp)
        # 3. training throughput, default configuration
        seconds = 2.0 if quick else args.train_seconds
        training = {}
        for t in threads:
            runs = [training_rate(workdir, t, seconds, args.seed + i, {})
                    for i in range(repeats)]
            best = sorted(runs, key=lambda r: r["env_steps_per_s"])[len(runs) // 2]
            training[str(t)] = {
                **best,
                "env_steps_per_s": statistics.median(r["env_steps_per_s"] for r in runs),
                "train_steps_per_s": statistics.median(r["train_steps_per_s"] for r in runs),
                "repeats_env_steps_per_s": [r["env_steps_per_s"] for r in runs],
            }
        results["training"] = training
        if args.baseline:
            # The same measurement for the defaults before issue 5, in this run, so the
            # ratio holds even on a busy machine where absolute rates drop.
            t = threads[0]
            runs = [training_rate(workdir, t, seconds, args.seed + i, PREVIOUS_DEFAULTS)
                    for i in range(repeats)]
            rate = statistics.median(r["env_steps_per_s"] for r in runs)
            results["training_previous_defaults"] = {
                "threads": t, "overrides": PREVIOUS_DEFAULTS, "env_steps_per_s": rate,
                "repeats_env_steps_per_s": [r["env_steps_per_s"] for r in runs],
                "speedup_of_defaults": training[str(t)]["env_steps_per_s"] / rate,
            }

        # 4. time to score
        if not args.skip_score:
            overrides = dict(args.override_values)
            if quick:
                overrides = {"training_episodes": 3, "max_turns_per_episode": 100, **overrides}
            if args.score_threads:
                overrides["torch_threads"] = args.score_threads
            results["time_to_score"] = time_to_score(
                workdir, args.seed, 3 if quick else args.eval_episodes, overrides,
                args.score_threads or Hyperparameters().torch_threads or threads[0])

        # 5. a preset within a wall-clock budget
        if args.preset:
            results["preset_score"] = preset_score(
                workdir, args.preset, args.minutes, args.seed, args.eval_episodes)

    if hasattr(os, "getloadavg"):
        results["machine"]["load_average_end"] = list(os.getloadavg())
    return results


def add_rate_rows(table, results: dict) -> None:
    e = results["env"]
    table.add_row("Snake game.step()", f"{e['raw_game_step_per_s']:,.0f}/s", "raw, no encoding")
    table.add_row("GameEnvironment.step", f"{e['env_step_per_s']:,.0f}/s",
                  f"{e['ratio_env_step_to_raw']:.2f}x raw (float observation)")
    table.add_row("GameEnvironment.act", f"{e['env_act_per_s']:,.0f}/s",
                  f"{e['ratio_env_act_to_raw']:.2f}x raw (compact board)")
    a = results["acting"]
    table.add_row("acting, one game", f"{a['single_game_steps_per_s']:,.0f} steps/s",
                  f"{a['threads']} thread(s)")
    table.add_row(f"acting, {a['parallel_games']} games batched",
                  f"{a['batched_steps_per_s']:,.0f} steps/s", f"{a['threads']} thread(s)")
    for t, r in results["training"].items():
        parts = ", ".join(f"{k} {v:.0f}" for k, v in r["breakdown_us_per_env_step"].items())
        table.add_row(f"training, {t} thread(s)", f"{r['env_steps_per_s']:,.0f} env steps/s",
                      f"{r['train_steps_per_s']:,.0f} train steps/s; µs/step: {parts}")
    b = results.get("training_previous_defaults")
    if b:
        table.add_row(f"training, previous defaults, {b['threads']} thread(s)",
                      f"{b['env_steps_per_s']:,.0f} env steps/s",
                      f"defaults now {b['speedup_of_defaults']:.1f}x faster (same run)")
    s = results.get("time_to_score")
    if s:
        table.add_row("time to score: training", f"{s['training_seconds']:,.0f} s",
                      f"{s['episodes']} episodes, {s['env_steps']:,} env steps")
        table.add_row(f"greedy score, {s['eval_episodes']} episodes",
                      f"mean {s['mean_score']:.1f}",
                      f"median {s['median_score']:.1f}, max {s['max_score']:.0f}")


def seeds_table(several: dict):
    """Per seed: training time, greedy scores, and the references over the same games."""
    from rich.table import Table

    runs, reference = several["runs"], several["reference"]
    what = (f"preset={several['preset']}, at most {several['budget_minutes']:g} min"
            if several["kind"] == "preset" else "the defaults create writes, to completion")
    overrides = " ".join(f"{k}={v}" for k, v in several["overrides"].items())
    table = Table(title=f"Greedy score over {several['eval_episodes']} games per seed: "
                        f"{what}{' with ' + overrides if overrides else ''}",
                  title_justify="left")
    best = any("best_mean_score" in r for r in runs)
    for column in ("seed", "training", "episodes", "mean", "median", "max",
                   *(["best.pt mean (episode)"] if best else []), "random mean",
                   "chaser mean"):
        table.add_column(column, justify="right")
    for run, rand, chase in zip(runs, reference["random"], reference["chaser"], strict=True):
        cells = [str(run["seed"]), f"{run['training_seconds']:,.0f} s", str(run["episodes"]),
                 f"{run['mean_score']:.1f}", f"{run['median_score']:.1f}",
                 f"{run['max_score']:.0f}"]
        if best:
            cells.append(f"{run['best_mean_score']:.1f} ({run['best_episode']})"
                         if "best_mean_score" in run else "–")
        table.add_row(*cells, f"{rand['mean_score']:.1f}", f"{chase['mean_score']:.1f}")
    return table


def across_table(several: dict):
    from rich.table import Table

    table = Table(title="Across seeds: mean of the per-seed means, 95% interval (Student t)",
                  title_justify="left")
    for column in ("policy", "mean", "95% interval", "min", "max", "seeds reaching"):
        table.add_column(column, justify="left" if column == "policy" else "right")
    names = {"agent": "agent (final)", "agent_best_checkpoint": "agent (best.pt)",
             "random": "random policy", "chaser": "apple-chaser"}
    for key, row in several["summary"].items():
        interval = ("–" if not math.isfinite(row["ci95"])
                    else f"{row['ci95_low']:.1f} to {row['ci95_high']:.1f}")
        table.add_row(names[key], f"{row['mean']:.1f}", interval, f"{row['minimum']:.1f}",
                      f"{row['maximum']:.1f}",
                      f"{row['reaching_target']} of {row['seeds']} reach {row['target']:g}")
    return table


def show(results: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    m = results["machine"]
    console.print(f"[bold]retro-gamer benchmark[/] on {m['processor']}, {m['cpu_count']} CPUs, "
                  f"torch {m['torch']}, device {m['device']}"
                  + (" (quick)" if results["quick"] else ""))
    several = results.get("several_seeds")
    if several:
        for arm in (several, results.get("several_seeds_compare")):
            if arm:
                console.print(seeds_table(arm))
                console.print(across_table(arm))
        if results.get("paired"):
            console.print(markdown(results["paired"], "A", "B"), highlight=False)
        load = m.get("load_average_start"), m.get("load_average_end")
        console.print(f"{several['jobs']} run(s) at once, one torch thread each; load average "
                      f"at start {load[0]}, at end {load[1]}", highlight=False)
        return
    table = Table("measure", "value", "note")
    if "env" in results:
        add_rate_rows(table, results)
    p = results.get("preset_score")
    if p:
        done = "all episodes" if p["finished"] else "stopped at the budget"
        table.add_row(f"preset={p['preset']}: training", f"{p['training_seconds'] / 60:,.1f} min",
                      f"{p['episodes']} episodes ({done}; budget {p['budget_minutes']:g} min)")
        table.add_row(f"greedy score, {p['eval_episodes']} episodes", f"mean {p['mean_score']:.1f}",
                      f"median {p['median_score']:.1f}, max {p['max_score']:.0f}")
    console.print(table)


def suite_main(parser: argparse.ArgumentParser, args) -> int:
    """``--suite``: the table of retro_gamer.suite.runner, printed and written as JSON.

    ``--jobs`` games train at once, each in its own process with one torch thread. The
    JSON records when the run started and ended (UTC) and the load average at both ends,
    which scripts/suite_table.py writes under the README's table.
    """
    from rich.console import Console

    from retro_gamer.suite import select
    from retro_gamer.suite.runner import SUITE_MINUTES, row_summary, run_suite, table

    try:
        games = select(args.games)
    except ValueError as error:
        parser.error(str(error))
    minutes = SUITE_MINUTES if args.minutes is None else args.minutes
    torch.set_num_threads(1)
    results = {"suite": True, "minutes_per_game": minutes, "eval_episodes": args.eval_episodes,
               "seed": args.seed, "overrides": args.override_values, "jobs": args.jobs,
               "started": utc_now(), "machine": machine_info([1])}
    results["machine"]["jobs"] = args.jobs
    console = Console()
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="retro-gamer-suite-") as tmp:
        results["games"] = run_suite(
            games, Path(tmp), minutes, args.eval_episodes, args.seed,
            on_row=lambda row: console.print(row_summary(row)), jobs=args.jobs,
            overrides=args.override_values)
    results["finished"], results["wall_minutes"] = utc_now(), (time.perf_counter() - start) / 60
    if hasattr(os, "getloadavg"):
        results["machine"]["load_average_end"] = list(os.getloadavg())
    m = results["machine"]
    console.print(table(results["games"], f"retro-gamer suite: {minutes:g} min per game, "
                        f"{args.eval_episodes} games per score, seed {args.seed}"
                        + "".join(f", {k}={v}" for k, v in args.override_values.items()) + "; "
                        f"{m['processor']}, {m['cpu_count']} CPUs, torch {m['torch']}"))
    console.print(suite_load_line(results), highlight=False)
    if args.json:
        write_json(args.json, results)
    return 0


def utc_now() -> str:
    """The time now in UTC, to the second (ISO 8601), for a result's date."""
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def suite_load_line(results: dict) -> str:
    """How the suite ran: games at once, wall time, and the load average at both ends."""
    m = results["machine"]

    def load(key: str) -> str:
        return "/".join(f"{v:.2f}" for v in m[key]) if m.get(key) else "unknown"

    return (f"{results['jobs']} game(s) at once, one torch thread each; "
            f"{results['wall_minutes']:.1f} min in all ({results['started']} to "
            f"{results['finished']}); load average (1/5/15 min) at start "
            f"{load('load_average_start')}, at end {load('load_average_end')}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="CI-sized smoke run (seconds)")
    parser.add_argument("--json", type=Path, help="write the results to this JSON file")
    parser.add_argument("--threads", help="torch thread counts to measure, e.g. 1,2 "
                        "(default: 1 and 2; 1 with --quick)")
    parser.add_argument("--score-threads", type=int,
                        help="torch threads for the time-to-score run (default: what create "
                        "writes, torch_threads)")
    parser.add_argument("--repeats", type=int, help="repeats per figure (default 5; 3 quick)")
    parser.add_argument("--parallel-games", type=int, default=16)
    parser.add_argument("--train-seconds", type=float, default=20.0,
                        help="length of each training-throughput measurement")
    parser.add_argument("--eval-episodes", type=int, default=100)
    parser.add_argument("--skip-score", action="store_true",
                        help="leave out the time-to-score run")
    parser.add_argument("--baseline", action=argparse.BooleanOptionalAction, default=None,
                        help="also measure the previous defaults' training rate (default: "
                        "on, off with --quick)")
    parser.add_argument("--preset", help="also train Snake with this preset (e.g. snake) "
                        "for at most --minutes and score it")
    parser.add_argument("--minutes", type=float,
                        help="wall-clock budget of the --preset run (default 60), or of "
                        "training each --suite game (default 10)")
    parser.add_argument("--only-preset", action="store_true",
                        help="measure only the --preset run")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the run (with --seeds: the first of consecutive seeds)")
    parser.add_argument("--seeds", type=int, metavar="N",
                        help="measure only scores: N training runs (seeds --seed, --seed+1, "
                        "...; with --preset, that preset for --minutes), the random policy "
                        "and the apple-chaser, per seed and across seeds")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, metavar="J",
                        help="with --seeds: runs at once; with --suite: games at once; one "
                        "torch thread each (default: the number of cores)")
    parser.add_argument("--target", type=float, default=500.0,
                        help="with --seeds: the greedy mean counted as reached [500]")
    parser.add_argument("--override", action="append", default=[], metavar="NAME=VALUE",
                        help="a hyperparameter for the score runs and each --suite game's "
                        "training, as create takes it (repeatable), e.g. --override "
                        "eval_every=0")
    parser.add_argument("--compare", action="append", default=[], metavar="NAME=VALUE",
                        help="with --seeds: also train a second arm, the same seeds with this "
                        "hyperparameter changed (repeatable), side by side, and print the "
                        "paired difference of the greedy means with its 95%% interval, e.g. "
                        "--compare symmetric_experience=true (scripts/paired.py compares "
                        "saved runs)")
    parser.add_argument("--suite", action="store_true",
                        help="run the game suite instead: train the defaults on each game for "
                        "--minutes, then score the agent (greedy), a random and a reference "
                        "policy over --eval-episodes games each; --jobs games at once")
    parser.add_argument("--games", help="the suite's games to run, comma-separated "
                        "(default: every game but labyrinth)")
    args = parser.parse_args(argv)
    if args.seeds is not None and args.seeds < 1:
        parser.error("--seeds must be at least 1")
    if args.jobs < 1:
        parser.error("--jobs must be at least 1")
    if args.eval_episodes < 1:
        parser.error("--eval-episodes must be at least 1")
    try:
        args.override_values = hyperparameter_overrides(args.override)
    except RetroGamerError as error:
        parser.error(f"--override: {error}")
    try:
        args.compare_values = hyperparameter_overrides(args.compare)
    except RetroGamerError as error:
        parser.error(f"--compare: {error}")
    if args.compare_values and args.seeds is None:
        parser.error("--compare needs --seeds N (the seeds both arms train on)")
    if args.suite:
        return suite_main(parser, args)
    if args.minutes is None:
        args.minutes = 60.0
    if args.only_preset and not args.preset:
        parser.error("--only-preset needs --preset NAME")
    if args.baseline is None:
        args.baseline = not args.quick
    results = run(args)
    show(results)
    if args.json:
        write_json(args.json, results)
    return 0


def write_json(path: Path, results: dict) -> None:
    """The results as JSON (NaN, which JSON lacks, as null), replacing the file whole."""
    text = json.dumps(results, indent=2, default=lambda value: None)
    text = json.dumps(json.loads(text, parse_constant=lambda name: None), indent=2)
    partial = path.with_name(path.name + ".tmp")
    partial.write_text(text + "\n", encoding="utf-8")
    partial.replace(path)


if __name__ == "__main__":
    sys.exit(main())
