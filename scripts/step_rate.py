"""Env steps per CPU-second of a run continued from its newest checkpoint.

    python scripts/step_rate.py RUN_DIR --episodes 100 [--json out.json] [NAME=VALUE ...]

Copies RUN_DIR to a temporary folder (the run itself is not touched), resumes it
from its newest checkpoint for ``--episodes`` more episodes, and reports the env
steps and training steps taken per second of this process's CPU time (one torch
thread), so two versions of the code, or two settings, can be timed side by side on
the same checkpoint, one per core (``PYTHONPATH=OTHER_CHECKOUT`` runs another
version of retro-gamer with this script). Resuming mid-run matters: some costs,
such as subnormal floats in Adam's state, only appear after thousands of steps.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import torch

import retro_gamer
from retro_gamer.games import find_create_game
from retro_gamer.overrides import hyperparameter_overrides
from retro_gamer.settings import read_run_config
from retro_gamer.trainer import DQNTrainer


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--episodes", type=int, default=100)
    parser.add_argument("--json", type=Path)
    parser.add_argument("overrides", nargs="*", metavar="NAME=VALUE")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory(prefix="retro-gamer-rate-") as tmp:
        run = Path(tmp) / "run"
        shutil.copytree(args.run_dir, run)
        start_episode = max(int(p.stem[3:]) for p in (run / "checkpoints").glob("ep_*.pt"))
        total = start_episode + args.episodes
        base = read_run_config(run)
        overrides = {**hyperparameter_overrides(args.overrides),
                     "training_episodes": total, "eval_every": 0}
        steps = []
        trainer = DQNTrainer(find_create_game(base.metadata.module), base.metadata, run,
                             base.hyperparameters, on_episode=lambda s: steps.append(s.steps),
                             **overrides)
        wall, cpu = time.perf_counter(), time.process_time()
        result = trainer.train(resume="latest")
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    measured = {"code": str(Path(retro_gamer.__file__).parent), "run": str(args.run_dir),
                "episodes": f"{start_episode + 1}-{total}", "overrides": args.overrides,
                "cpu_seconds": cpu, "wall_seconds": wall, "env_steps": sum(steps),
                "env_steps_per_cpu_s": sum(steps) / cpu, "train_steps_total": result.train_steps,
                "load_average": list(os.getloadavg()), "torch_threads": torch.get_num_threads()}
    print(json.dumps(measured, indent=2))
    if args.json:
        args.json.write_text(json.dumps(measured, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
