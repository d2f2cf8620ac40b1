"""Measure retro-gamer on this machine: game, environment, acting, training, time-to-score.

    python scripts/benchmark.py                 # full run (time-to-score trains Snake fully)
    python scripts/benchmark.py --quick         # seconds: a smoke run for CI
    python scripts/benchmark.py --json out.json --threads 1,2
    python scripts/benchmark.py --suite --minutes 10   # the game suite (retro_gamer.suite)

Every rate is the median of ``--repeats`` measurements taken in this one run, so
ratios (GameEnvironment.step against game.step) compare numbers from the same
machine under the same load. The JSON records the machine, torch's thread
count and device, and the load average before and after, so numbers from a
shared machine can be judged. docs/benchmarks.md explains what each figure is.
"""

from __future__ import annotations

import argparse
import json
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
from retro_gamer.evaluation import evaluate
from retro_gamer.networks import QNetwork, count_parameters, multiply_adds
from retro_gamer.runs import create_run, open_trainer
from retro_gamer.trainer import DQNTrainer, select_device

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
    trainer._train_step = timers.wrap("train_step+sample", trainer._train_step)


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
    except Exception as error:  # the stop after the time budget raises TrainingInterrupted
        if type(error).__name__ != "TrainingInterrupted":
            raise
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


# ------------------------------------------------------------------------ time to score


def time_to_score(workdir: Path, seed: int, eval_episodes: int, overrides: dict,
                  threads: int) -> dict:
    """Train Snake with what ``retro-gamer create`` writes, to completion; score it greedily."""
    torch.set_num_threads(threads)
    run = workdir / "time_to_score"
    create_run(GAME, run, {"seed": seed, **overrides})
    trainer = open_trainer(run)  # torch_threads as create writes it, unless overridden
    start = time.perf_counter()
    result = trainer.train()
    wall = time.perf_counter() - start
    scores = evaluate(run, "final", episodes=eval_episodes, seed=seed + 1)
    return {
        "overrides": overrides,
        "threads": torch.get_num_threads(),
        "training_seconds": wall,
        "episodes": result.episodes_done,
        "env_steps": result.env_steps,
        "train_steps": result.train_steps,
        "env_steps_per_s": result.env_steps / wall,
        "eval_episodes": scores.episodes,
        "mean_score": scores.mean,
        "median_score": scores.median,
        "max_score": scores.maximum,
        "ci95": scores.ci95,
    }


def preset_score(workdir: Path, preset: str, minutes: float, seed: int,
                 eval_episodes: int) -> dict:
    """Train Snake with ``preset=NAME`` as a user would, for at most ``minutes``; score it.

    ``retro-gamer train RUN preset=NAME`` runs as a subprocess; when the budget is spent
    it gets Ctrl+C (SIGINT), finishes its episode, saves and stops, and the newest
    checkpoint is evaluated greedily.
    """
    run = workdir / f"preset_{preset}"
    create_run(GAME, run, {"seed": seed})
    cli = "import sys; from retro_gamer.cli import main; sys.exit(main())"
    command = [sys.executable, "-c", cli, "train", str(run), f"preset={preset}"]
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               text=True)
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
        "preset": preset,
        "budget_minutes": minutes,
        "training_seconds": wall,
        "finished": process.returncode == 0,
        "episodes": len(episodes),
        "eval_episodes": scores.episodes,
        "mean_score": scores.mean,
        "median_score": scores.median,
        "max_score": scores.maximum,
        "ci95": scores.ci95,
    }


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


def run(args) -> dict:
    rng = random.Random(args.seed)
    torch.manual_seed(args.seed)
    quick = args.quick
    threads = [int(t) for t in args.threads.split(",")] if args.threads else (
        [1] if quick else [1, 2])
    repeats = args.repeats or (3 if quick else 5)
    results: dict = {"quick": quick, "repeats": repeats, "machine": machine_info(threads)}
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
            overrides = {"training_episodes": 3, "max_turns_per_episode": 100} if quick else {}
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


def show(results: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    m = results["machine"]
    console.print(f"[bold]retro-gamer benchmark[/] on {m['processor']}, {m['cpu_count']} CPUs, "
                  f"torch {m['torch']}, device {m['device']}"
                  + (" (quick)" if results["quick"] else ""))
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
    """``--suite``: the table of retro_gamer.suite.runner, printed and written as JSON."""
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
               "seed": args.seed, "machine": machine_info([1])}
    console = Console()
    with tempfile.TemporaryDirectory(prefix="retro-gamer-suite-") as tmp:
        results["games"] = run_suite(
            games, Path(tmp), minutes, args.eval_episodes, args.seed,
            on_row=lambda row: console.print(row_summary(row)))
    if hasattr(os, "getloadavg"):
        results["machine"]["load_average_end"] = list(os.getloadavg())
    m = results["machine"]
    console.print(table(results["games"], f"retro-gamer suite: {minutes:g} min per game, "
                        f"{args.eval_episodes} games per score, seed {args.seed}; "
                        f"{m['processor']}, {m['cpu_count']} CPUs, torch {m['torch']}"))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2), encoding="utf-8")
    return 0


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
    parser.add_argument("--suite", action="store_true",
                        help="run the game suite instead: train the defaults on each game for "
                        "--minutes, then score the agent (greedy), a random and a reference "
                        "policy over --eval-episodes games each")
    parser.add_argument("--games", help="the suite's games to run, comma-separated "
                        "(default: every game but labyrinth)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
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
        args.json.write_text(json.dumps(results, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
