"""Training rate (env steps per second) of the defaults on Snake and on large boards.

    nice -n 10 python scripts/board_rate.py --steps 3000

Each game trains with the defaults (one torch thread, CPU, seed 1; episodes cut at
500 turns) until ``--steps`` env steps are done, one game after another. The rate
counts everything a training run does per step (acting, storing, training every
``train_every`` steps) from the end of the first episode on. Games:
Snake (32x16), "field" (a 400x200 board with only a player and a goal, so the
network's cost shows, not the game's) and, with ``--labyrinth``, retro's labyrinth
(400x200, a maze of about 40,000 wall agents that the game itself steps).
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from retro_gamer import DQNTrainer, GameMetadata  # noqa: E402
from retro_gamer.errors import TrainingInterrupted  # noqa: E402
from retro_gamer.games import load_metadata  # noqa: E402
from retro_gamer.networks import count_parameters  # noqa: E402

ARROWS = ["KEY_RIGHT", "KEY_UP", "KEY_LEFT", "KEY_DOWN"]


def field_game():
    from test_large_boards import FIELD_SOURCE  # the tests' 400x200 game

    spec = importlib.util.spec_from_loader("field", loader=None)
    module = importlib.util.module_from_spec(spec)
    exec(compile(FIELD_SOURCE, "<field>", "exec"), module.__dict__)
    return module.create_game, GameMetadata(actions=ARROWS, reward="score",
                                            character_set=["@", "G"], module="field")


def games(labyrinth: bool) -> dict:
    from retro.examples.snake import create_game as snake

    found = {"snake": (snake, load_metadata("retro.examples.snake")), "field": field_game()}
    if labyrinth:
        from retro.examples.labyrinth import create_game as maze

        found["labyrinth"] = (maze, GameMetadata(actions=ARROWS, reward="score",
                                                 character_set=["@", "█", "*"],
                                                 module="retro.examples.labyrinth"))
    return found


def rate(create_game, metadata: GameMetadata, steps: int) -> dict:
    marks: list[tuple[int, float]] = []

    def on_episode(stats) -> None:
        marks.append((stats.env_steps, time.perf_counter()))
        if stats.env_steps >= steps:
            trainer.stop_requested = True

    with tempfile.TemporaryDirectory() as folder:
        trainer = DQNTrainer(create_game, metadata, Path(folder) / "run", on_episode=on_episode,
                             seed=1, device="cpu", eval_episodes=0, training_episodes=100_000,
                             max_turns_per_episode=500, checkpoint_every=100_000)
        try:
            trainer.train()
        except TrainingInterrupted:  # the stop this script asked for
            pass
        # From the end of the first episode: setup (finding the player) is not a step's cost.
        (first_steps, first_time), (env_steps, ended) = marks[0], marks[-1]
        return {"env_steps": env_steps - first_steps, "seconds": round(ended - first_time, 1),
                "steps_per_s": round((env_steps - first_steps) / (ended - first_time), 1),
                "parameters": count_parameters(trainer.network),
                "view": "x".join(map(str, reversed(trainer.network.view_size)))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--labyrinth", action="store_true")
    parser.add_argument("--only", help="comma-separated game names")
    args = parser.parse_args()
    torch.set_num_threads(1)
    chosen = games(args.labyrinth)
    if args.only:
        chosen = {name: chosen[name] for name in args.only.split(",")}
    for name, (create_game, metadata) in chosen.items():
        print(name, rate(create_game, metadata, args.steps), flush=True)


if __name__ == "__main__":
    main()
