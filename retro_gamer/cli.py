"""The ``retro-gamer`` command: parse, call one library function, print.

Errors meant for the user (:class:`~retro_gamer.errors.RetroGamerError`) are
printed as one message with a non-zero exit code; set ``RETRO_GAMER_DEBUG=1``
or pass ``--debug`` to see the traceback too.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import signal
import sys
import threading
import warnings
from collections.abc import Callable, Iterator, Sequence
from typing import TextIO

from rich.console import Console
from rich.markup import escape

from retro_gamer import __version__
from retro_gamer.config import Hyperparameters, describe_range, field_kind
from retro_gamer.errors import (
    EXIT_INTERRUPTED,
    EXIT_USER_ERROR,
    GameWarning,
    RetroGamerError,
    TrainingInterrupted,
)

CREATE_EXAMPLES = """\
examples:
  retro-gamer create --game retro.examples.snake --output runs/snake
  retro-gamer create --game mygame --output runs/fast --training-episodes 200 --gamma 0.95
  retro-gamer create --game mygame --output runs/per gamma=0.9 prioritize_experiences=true

The game's [tool.retro-gamer] section is read from the pyproject.toml in or
above the module's folder; a module in the current folder is importable.
"""
TRAIN_EXAMPLES = """\
examples:
  retro-gamer train runs/snake                          train to training_episodes
  retro-gamer train runs/snake gamma=0.95 batch_size=32 patch config.toml, then train
  retro-gamer train runs/snake --resume latest          continue after a stop
  retro-gamer train runs/snake training_episodes=2000 --resume latest   train longer
  retro-gamer train runs/snake -m gamma=0.9,0.99        a sweep: one run directory per job
  retro-gamer train runs/snake -m gamma=0.9,0.99 hydra/launcher=joblib
  retro-gamer train runs/snake --cfg job                print the composed config only
"""
PLAY_EXAMPLES = """\
examples:
  retro-gamer play runs/snake
  retro-gamer play runs/snake --checkpoint ep_0100 --framerate 30
  retro-gamer play runs/snake --checkpoint best         the best evaluation during training
  retro-gamer play runs/snake --episodes 5              five games, the score between them
  retro-gamer play runs/snake --record snake.cast       no terminal needed; then:
  asciinema play snake.cast

Press Enter or Escape to quit. When the last game ends, its score stays on
screen until Enter or Escape.
"""
INFO_EXAMPLES = """\
examples:
  retro-gamer info runs/snake                           the run, and a list of its sweeps
  retro-gamer info runs/snake --json                    the same data as JSON
  retro-gamer info runs/snake --checkpoint best         one checkpoint: episode, evaluation
  retro-gamer info runs/snake/sweeps/2025-01-31_12-00-00    a sweep's leaderboard

A sweep's leaderboard has one row per job: its overrides, status (done,
running, stopped, failed, not started), episodes trained and objective (the
mean greedy return after training), best first.
"""
EVAL_EXAMPLES = """\
examples:
  retro-gamer eval runs/snake                           final.pt, eval_episodes games
  retro-gamer eval runs/snake --episodes 100 --seed 7
  retro-gamer eval runs/snake --checkpoint ep_0500 --json
  retro-gamer eval runs/snake --checkpoint best --episodes 100

The greedy policy (no exploration) plays without drawing anything. The result
is kept in RUN_DIR/eval/<checkpoint>.json and listed by retro-gamer info.
"""
PLOT_EXAMPLES = """\
examples:
  retro-gamer plot runs/snake                           writes runs/snake/curve.png
  retro-gamer plot runs/snake -o snake.png --window 50
  retro-gamer plot runs/snake/sweeps/2025-01-31_12-00-00    compare every job of a sweep

A run gives return (with a moving average), turns, loss and epsilon per
episode; a sweep gives every job's return on one chart beside the objectives.
"""


def option_name(field_name: str) -> str:
    return "--" + field_name.replace("_", "-")


def add_hyperparameter_options(parser: argparse.ArgumentParser) -> None:
    """One option per hyperparameter, generated from the dataclass so they cannot drift."""
    group = parser.add_argument_group(
        "hyperparameters", "Each sets one value in config.toml's [hyperparameters] "
        "(defaults in brackets).")
    for f in dataclasses.fields(Hyperparameters):
        kind = field_kind(f.name)
        default = f.default
        help_text = f"{f.metadata['help']} [{default}]".replace("%", "%%")
        if kind is bool:
            group.add_argument(option_name(f.name), dest=f.name, default=None,
                               action=argparse.BooleanOptionalAction, help=help_text)
            continue
        metavar = {int: "N", float: "F", str: "TEXT"}[kind]
        choices = f.metadata.get("choices")
        group.add_argument(option_name(f.name), dest=f.name, default=None, type=kind,
                           metavar=metavar if not choices else None, choices=choices,
                           help=help_text + f" ({describe_range(f.name)})")


def hyperparameter_listing() -> str:
    """``--help`` text listing every hyperparameter with its default and description."""
    lines = ["hyperparameters (override as NAME=VALUE; default in brackets):"]
    for f in dataclasses.fields(Hyperparameters):
        lines.append(f"  {f.name} [{f.default}]  {describe_range(f.name)}")
        lines.append(f"      {f.metadata['help']}")
    lines.append("game fields (override as game.NAME=VALUE): actions, reward, character_set, "
                 "spatial, observe_state")
    from retro_gamer.conf import group_names, group_options

    shipped = [f"{group}={option}" for group in group_names() for option in group_options(group)]
    lines.append("presets and sweeps shipped in retro-gamer's conf/: " + ", ".join(shipped))
    return "\n".join(lines)


START_HINT = "Start with: retro-gamer create --game retro.examples.snake --output runs/snake"


def version_text() -> str:
    """What `--version` prints: the program, its version and the folder it runs from.

    An unrelated PyPI project is also called retro-gamer; the description and the folder
    tell a user which of the two this command is.
    """
    package = os.path.dirname(os.path.abspath(__file__))
    return (f"retro-gamer {__version__}: Deep Q-Network agents for retro-games terminal games\n"
            f"installed at {package}")


class Parser(argparse.ArgumentParser):
    """argparse, but a mistake on the bare command also says where to start."""

    def error(self, message: str):
        if self.prog == "retro-gamer":
            message += f"\nCommands: {', '.join(COMMANDS)} (retro-gamer COMMAND --help).\n" \
                + START_HINT
        super().error(message)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="retro-gamer",
        description="Train Deep Q-Network agents to play retro terminal games.",
        epilog=START_HINT,
    )
    parser.add_argument("--version", action="version", version=version_text())
    parser.add_argument("--debug", action="store_true",
                        help="show Python tracebacks for errors (or set RETRO_GAMER_DEBUG=1)")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    formatter = argparse.RawDescriptionHelpFormatter

    create = commands.add_parser(
        "create", help="create a run directory from a game's description",
        description="Create a training run directory holding config.toml.",
        epilog=CREATE_EXAMPLES, formatter_class=formatter)
    create.add_argument("--game", required=True, metavar="MODULE",
                        help="Python module with create_game(), e.g. retro.examples.snake")
    create.add_argument("--output", required=True, metavar="DIR",
                        help="directory to create for this run")
    create.add_argument("overrides", nargs="*", default=[], metavar="OVERRIDE",
                        help="hyperparameter overrides such as gamma=0.95")
    add_hyperparameter_options(create)

    train = commands.add_parser(
        "train", help="train (or resume) the agent of a run directory",
        description="Train a DQN agent as RUN_DIR/config.toml describes. OVERRIDEs use "
        "Hydra's syntax: bare names set [hyperparameters], game.NAME sets [game].",
        epilog=TRAIN_EXAMPLES + "\n" + hyperparameter_listing(), formatter_class=formatter)
    train.add_argument("run_dir", metavar="RUN_DIR")
    train.add_argument("overrides", nargs="*", default=[], metavar="OVERRIDE",
                       help="Hydra overrides, e.g. gamma=0.95 or (with -m) gamma=0.9,0.99")
    train.add_argument("--resume", metavar="CHECKPOINT",
                       help="continue from this checkpoint: 'latest', a name such as "
                       "ep_0100, or a file path")
    train.add_argument("-m", "--multirun", action="store_true",
                       help="run a Hydra sweep: one complete run directory per job")
    train.add_argument("--cfg", choices=("job", "hydra", "all"),
                       help="print the composed config and exit without training")
    train.add_argument("--info", nargs="?", const="all", metavar="TOPIC",
                       help="print Hydra's information about the config and exit")

    play = commands.add_parser(
        "play", help="watch a trained agent play in the terminal",
        description="Watch the agent of RUN_DIR play the game in this terminal.",
        epilog=PLAY_EXAMPLES, formatter_class=formatter)
    play.add_argument("run_dir", metavar="RUN_DIR")
    play.add_argument("--checkpoint", metavar="NAME",
                      help="checkpoint name (ep_0100), 'latest', 'best' (the best evaluation "
                      "during training), or path relative to RUN_DIR/checkpoints "
                      "[final; the newest if training has not finished]")
    play.add_argument("--framerate", type=int, default=12, metavar="N",
                      help="target frames per second [12]")
    play.add_argument("--episodes", type=int, default=1, metavar="N",
                      help="number of games to play [1]")
    play.add_argument("--record", metavar="FILE.cast",
                      help="write the games to an asciicast v2 file instead of drawing them "
                      "(works without a terminal)")
    play.add_argument("--explain", action="store_true",
                      help="show each action's Q-value, the choice, its margin and the "
                      "network's view around the player (the e key toggles it while playing)")

    info = commands.add_parser(
        "info", help="summarise a run (game, hyperparameters, episodes, checkpoints) or a "
        "sweep (leaderboard)",
        description="Print a summary of a training run, or the leaderboard of a sweep.",
        epilog=INFO_EXAMPLES, formatter_class=formatter)
    info.add_argument("run_dir", metavar="RUN_DIR",
                      help="a run directory, or a sweep folder RUN_DIR/sweeps/<timestamp>")
    info.add_argument("--checkpoint", metavar="NAME",
                      help="summarise one checkpoint of the run instead: a name (ep_0100), "
                      "'latest', 'final', 'best', or a path")
    info.add_argument("--json", action="store_true", help="print the summary as JSON")

    evaluate = commands.add_parser(
        "eval", help="score a checkpoint's greedy policy over many games",
        description="Play N games with the greedy policy of a checkpoint, without drawing "
        "them, and report the mean, median, min, max and 95% confidence interval of the "
        "score.", epilog=EVAL_EXAMPLES, formatter_class=formatter)
    evaluate.add_argument("run_dir", metavar="RUN_DIR")
    evaluate.add_argument("--checkpoint", metavar="NAME",
                          help="checkpoint name (ep_0100), 'latest', 'best' (the best "
                          "evaluation during training), or a path "
                          "[final; the newest if training has not finished]")
    evaluate.add_argument("--episodes", type=int, metavar="N",
                          help="games to play [the run's eval_episodes]")
    evaluate.add_argument("--seed", type=int, metavar="S",
                          help="seed of the games' randomness [the run's seed]")
    evaluate.add_argument("--json", action="store_true", help="print the result as JSON")

    plot = commands.add_parser(
        "plot", help="draw training curves (or a sweep's comparison) as a PNG",
        description="Draw the training curves of a run, or compare the jobs of a sweep, "
        "as a PNG image (no display needed).", epilog=PLOT_EXAMPLES, formatter_class=formatter)
    plot.add_argument("run_dir", metavar="RUN_DIR",
                      help="a run directory, or a sweep folder RUN_DIR/sweeps/<timestamp>")
    plot.add_argument("-o", "--output", metavar="FILE.png",
                      help="where to write the image [RUN_DIR/curve.png, or "
                      "SWEEP_DIR/comparison.png]")
    plot.add_argument("--window", type=int, metavar="N",
                      help="episodes in the moving average [about 5%% of the run]")
    return parser


# ------------------------------------------------------------------------ commands


def cmd_create(args, console: Console) -> int:
    from retro_gamer.games import ensure_cwd_importable
    from retro_gamer.overrides import hyperparameter_overrides
    from retro_gamer.run_dir import shell_path
    from retro_gamer.runs import create_run, planned_size

    ensure_cwd_importable()
    values = {f.name: getattr(args, f.name) for f in dataclasses.fields(Hyperparameters)
              if getattr(args, f.name) is not None}
    values.update(hyperparameter_overrides(args.overrides))
    run = create_run(args.game, args.output, values)
    console.print(f"Created run directory [b]{escape(str(run.path))}[/b] for "
                  f"{escape(args.game)}. Next: retro-gamer train {escape(shell_path(run.path))}",
                  soft_wrap=True)
    console.print(escape(planned_size(run)), highlight=False, soft_wrap=True)
    _print_memory_estimate(run, console)
    return 0


def _print_memory_estimate(run, console: Console) -> None:
    from retro_gamer.memory import available_bytes, format_bytes
    from retro_gamer.runs import memory_estimate

    needed = memory_estimate(run)
    if needed is None:
        return
    line = f"Training will need {needed.describe()} of memory."
    available = available_bytes()
    if available is not None and needed.total > available:
        line += (f" This machine has {format_bytes(available)} available: lower "
                 "memory_capacity, layer_size or n_layers before training.")
    console.print(line, highlight=False, soft_wrap=True)


def cmd_train(args, console: Console) -> int:
    from retro_gamer.games import ensure_cwd_importable
    from retro_gamer.sweep import train_command

    ensure_cwd_importable()
    return train_command(args.run_dir, args.overrides, resume=args.resume,
                         multirun=args.multirun, cfg=args.cfg, info=args.info, console=console)


def cmd_play(args, console: Console) -> int:
    from retro_gamer.games import ensure_cwd_importable
    from retro_gamer.play import check_play_options, play_run
    from retro_gamer.progress import counted

    ensure_cwd_importable()
    check_play_options(args.framerate, args.episodes)  # before a checkpoint is looked for
    result = play_run(args.run_dir, chosen_checkpoint(args), args.framerate,
                      episodes=args.episodes,
                      record=args.record, console=Console(stderr=True),
                      explaining=args.explain)
    for number, (score, turns) in enumerate(zip(result.scores, result.turn_counts,
                                                strict=True), 1):
        last = number == len(result.scores)
        how = "quit" if last and result.quit else "game over"
        prefix = f"Game {number}: score" if len(result.scores) > 1 else "Score:"
        console.print(f"{prefix} {score:g} after {counted(turns, 'turn')} ({how}).",
                      highlight=False)
    if len(result.scores) > 1:
        console.print(f"Mean score {result.mean:g} over {len(result.scores)} games.",
                      highlight=False)
    if result.recording is not None:
        console.print(f"Recorded to {escape(str(result.recording))}; replay it with: "
                      f"asciinema play {escape(str(result.recording))}", highlight=False,
                      soft_wrap=True)
    return 0


def cmd_info(args, console: Console) -> int:
    from retro_gamer.report import checkpoint_summary, render, summarize_path

    with machine_output(args.json) as out:
        summary = (summarize_path(args.run_dir) if args.checkpoint is None
                   else checkpoint_summary(args.run_dir, args.checkpoint))
        if args.json:
            print(json.dumps(summary, indent=2, allow_nan=False), file=out)
        else:
            render(summary, console)
    return 0


def cmd_eval(args, console: Console) -> int:
    from retro_gamer.evaluation import evaluate_and_record
    from retro_gamer.games import ensure_cwd_importable
    from retro_gamer.report import render_evaluation
    from retro_gamer.suite.runner import reference_score

    ensure_cwd_importable()
    if args.episodes is not None and args.episodes < 1:
        raise_usage("--episodes must be at least 1.")
    with machine_output(args.json) as out:
        record = evaluate_and_record(args.run_dir, chosen_checkpoint(args), args.episodes,
                                     args.seed, console=Console(stderr=True),
                                     reference=reference_score)
        if args.json:
            print(json.dumps(record.to_dict(), indent=2, allow_nan=False), file=out)
        else:
            render_evaluation(record.to_dict(), console)
    return 0


@contextlib.contextmanager
def machine_output(wanted: bool = True) -> Iterator[TextIO]:
    """Standard output kept for machine-readable output alone (``--json``).

    Yields the stream to write it to. While the command runs, whatever else writes to
    standard output -- a game's ``print()``, or C code writing to file descriptor 1 --
    goes to standard error instead, so the JSON stays JSON. Without ``wanted``, yields
    ``sys.stdout`` and changes nothing.
    """
    if not wanted:
        yield sys.stdout
        return
    try:
        sys.stdout.flush()
        out_fd, err_fd = sys.stdout.fileno(), sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):  # not files (a test's StringIO)
        out = sys.stdout
        with contextlib.redirect_stdout(sys.stderr):
            yield out
        return
    saved = os.dup(out_fd)
    os.dup2(err_fd, out_fd)  # fd 1 is now standard error; the real one is ours alone
    try:
        with os.fdopen(saved, "w", encoding="utf-8", closefd=False) as out, \
                contextlib.redirect_stdout(sys.stderr):
            yield out
    finally:
        with contextlib.suppress(OSError, ValueError):
            sys.stderr.flush()
        os.dup2(saved, out_fd)
        os.close(saved)


def cmd_plot(args, console: Console) -> int:
    from retro_gamer.plot import plot

    if args.window is not None and args.window < 1:
        raise_usage("--window must be at least 1.")
    path = plot(args.run_dir, args.output, args.window)
    console.print(f"Wrote {escape(str(path))}", highlight=False, soft_wrap=True)
    return 0


def chosen_checkpoint(args) -> str:
    """``--checkpoint``, or the default (saying so when it is not ``final``)."""
    if args.checkpoint is not None:
        return args.checkpoint
    from retro_gamer.agent import default_checkpoint
    from retro_gamer.run_dir import RunDirectory

    name, note = default_checkpoint(RunDirectory(args.run_dir))
    if note:
        Console(stderr=True).print(f"[bold yellow]note:[/bold yellow] {escape(note)}",
                                   highlight=False, soft_wrap=True)
    return name


def raise_usage(message: str) -> None:
    from retro_gamer.errors import ConfigError

    raise ConfigError(message)


COMMANDS = {"create": cmd_create, "train": cmd_train, "play": cmd_play, "info": cmd_info,
            "eval": cmd_eval, "plot": cmd_plot}


def _warning_printer(errors: Console) -> Callable[..., None]:
    """Python warnings (a game's GameWarning, the trainer's RewardClipWarning, ...) as one
    'warning:' line each, like an error."""
    def show(message, category, filename, lineno, file=None, line=None) -> None:
        errors.print(f"[bold yellow]warning:[/bold yellow] {escape(str(message))}",
                     highlight=False, soft_wrap=True)
    return show


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    # Overrides may come before or after options (train RUN -m gamma=0.9,0.99 --resume x):
    # argparse stops filling a positional list at the first option, so collect the rest here.
    args, extra = parser.parse_known_args(argv)
    stray = [item for item in extra if item.startswith("-") or not hasattr(args, "overrides")]
    if stray:
        parser.error(f"unrecognized arguments: {' '.join(stray)}")
    if extra:
        args.overrides = [*args.overrides, *extra]
    debug = args.debug or os.environ.get("RETRO_GAMER_DEBUG") == "1"
    _replace_unencodable()
    previous = _stop_on_sigterm()
    console = Console()
    errors = Console(stderr=True)
    try:
        with warnings.catch_warnings():  # restores the printer when main() returns
            warnings.simplefilter("always", GameWarning)
            warnings.showwarning = _warning_printer(errors)
            return COMMANDS[args.command](args, console)
    except RetroGamerError as error:
        if debug:
            raise
        # A stop the user asked for (Ctrl+C, SIGTERM) is not an error: say so, then how to go on.
        interrupted = isinstance(error, TrainingInterrupted)
        label = ("[bold yellow]stopped:[/bold yellow]" if interrupted
                 else "[bold red]error:[/bold red]")
        errors.print(f"{label} {escape(str(error))}", highlight=False, soft_wrap=True)
        return EXIT_INTERRUPTED if interrupted else EXIT_USER_ERROR
    except KeyboardInterrupt:
        if debug:
            raise
        errors.print("[bold yellow]stopped:[/bold yellow] interrupted (files are only ever "
                     f"replaced whole: none is left half-written).{_how_to_go_on(args)}",
                     highlight=False)
        return EXIT_INTERRUPTED
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _how_to_go_on(args) -> str:
    """After a stop before training began (Ctrl+C while it starts up): how to go on."""
    if getattr(args, "command", None) != "train" or getattr(args, "multirun", False):
        return ""
    from retro_gamer.run_dir import RunDirectory

    try:
        how = RunDirectory(args.run_dir).how_to_continue()
        return f" Nothing was trained in this command; {how}"
    except Exception:  # noqa: BLE001 -- the hint must never hide the stop itself
        return ""


def _replace_unencodable() -> None:
    """A console whose encoding lacks a character we print (``PYTHONIOENCODING=latin-1``,
    an old Windows code page) shows a replacement for it instead of failing."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None and stream.errors == "strict":
            with contextlib.suppress(ValueError, OSError):
                reconfigure(errors="replace")


def _stop_on_sigterm():
    """SIGTERM (``kill``, a scheduler's stop) during start-up stops like Ctrl+C, with the
    same message, instead of ending the process silently; training installs its own
    handler. Returns the handler to put back (``None`` off the main thread)."""
    def stop(signum, frame):
        raise KeyboardInterrupt

    if threading.current_thread() is not threading.main_thread():
        return None
    return signal.signal(signal.SIGTERM, stop)


if __name__ == "__main__":
    sys.exit(main())
