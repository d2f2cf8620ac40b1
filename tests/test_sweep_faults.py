"""Sweeps a user can trust: the faults of issue 14, each as the user met it, and the Optuna
search (``hydra/sweeper=retro_optuna``) resumed after a kill and pruning what cannot learn.

Commands run as real processes outside the checkout; a sweep is stopped with the signal a
user's Ctrl+C, ``kill`` or a cluster sends, and its folders are read afterwards.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import signal
import subprocess
import time
from pathlib import Path

import optuna
import pytest
import tomlkit
from cli_runners import CLI, environment, finish, run_in_process, start
from conftest import CHAR_GAME_PYPROJECT, CHAR_GAME_SOURCE
from gamekit import write_project
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend
from test_sweep import (
    TINY,
    config,
    copy_run,
    episodes,
    job_dirs,
    refused,
    snapshot,
    succeeded,
    summary,
    sweep_folders,
)

JOURNAL_NAME = "optuna.journal"
WAIT = 300  # seconds: an upper bound for a busy machine, never a measured time


def cli(*args, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    return finish(start(*args, cwd=cwd, env=env))


def wait_for(condition, what: str, process: subprocess.Popen | None = None) -> None:
    """Poll until ``condition()``; fail (with the process's output) if it exits first."""
    deadline = time.monotonic() + WAIT
    while not condition():
        if process is not None and process.poll() is not None:
            out, err = process.communicate()
            pytest.fail(f"the command ended before {what}: {out[-2000:]} {err[-2000:]}")
        assert time.monotonic() < deadline, f"waited {WAIT} s for {what}"
        time.sleep(0.2)


def stop_when(process: subprocess.Popen, condition, what: str,
              signal_number: int = signal.SIGKILL) -> tuple[str, str]:
    """Send ``signal_number`` once ``condition()`` holds; return the process's output."""
    try:
        wait_for(condition, what, process)
        process.send_signal(signal_number)
        return process.communicate(timeout=WAIT)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()


def study(sweep_dir: Path) -> optuna.Study:
    """The study as optuna-dashboard reads it: the journal file in the sweep folder."""
    storage = JournalStorage(JournalFileBackend(str(sweep_dir / JOURNAL_NAME)))
    return optuna.load_study(study_name="retro-gamer", storage=storage)


def states(sweep_dir: Path) -> list[str]:
    return [t.state.name for t in study(sweep_dir).get_trials()]


def result(job: Path) -> dict:
    return json.loads((job / "result.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def snake(tmp_path_factory) -> Path:
    """A Snake run directory with a tiny network, created and never trained."""
    folder = tmp_path_factory.mktemp("faults")
    succeeded(cli("create", "--game", "retro.examples.snake", "--output", "base", *TINY,
                  cwd=folder))
    return folder / "base"


def fresh(snake: Path, tmp_path: Path, *options: str) -> Path:
    """A copy of the Snake run, with its hyperparameters changed by ``options`` (k=v)."""
    run = copy_run(snake, tmp_path / "run")
    if options:
        text = (run / "config.toml").read_text(encoding="utf-8")
        for option in options:
            name, value = option.split("=")
            lines = [f"{name} = {value}" if line.startswith(f"{name} = ") else line
                     for line in text.splitlines()]
            text = "\n".join(lines) + "\n"
        (run / "config.toml").write_text(text, encoding="utf-8")
    return run


# Independent commands are started together (most of a command is start-up and waiting);
# each test then checks its own.
STARTED: dict[str, subprocess.Popen] = {}


@pytest.fixture(scope="module")
def launched(snake, tmp_path_factory):
    """name -> (run directory, the command's result, a function returning it)."""
    folders, results = {}, {}
    try:
        for name, prepare in COMMANDS.items():
            folder = tmp_path_factory.mktemp(name.replace("'", "").replace("(", ""))
            run, args, cwd = prepare(snake, folder)
            folders[name] = run
            STARTED[name] = start("train", run, *args, cwd=cwd)

        def outcome(name: str) -> subprocess.CompletedProcess:
            if name not in results:
                results[name] = finish(STARTED[name])
            return results[name]

        yield lambda name: (folders[name], outcome(name))
    finally:
        for process in STARTED.values():
            if process.poll() is None:
                process.kill()
                process.communicate()
        STARTED.clear()


COMMANDS = {}


def command(name: str):
    def register(prepare):
        COMMANDS[name] = prepare
        return prepare
    return register


# ------------------------------------------------ 1. a failing trial, the search goes on

BROKEN_SOURCE = CHAR_GAME_SOURCE.replace(
    "    def play_turn(self, game):\n",
    "    def play_turn(self, game):\n"
    "        if game.turn_number == 3:\n"
    "            raise RuntimeError('the game broke at turn 3')\n", 1)


@command("broken_game")
def prepare_broken_game(snake, folder):
    assert BROKEN_SOURCE != CHAR_GAME_SOURCE
    project = folder / "project"
    write_project(project, "rg_broken_game", BROKEN_SOURCE, CHAR_GAME_PYPROJECT)
    # The game's own run directory: Snake's description with the coin walk's [game] table.
    run = copy_run(snake, project / "run")
    data = config(run)
    data["game"].update(module="rg_broken_game", board_size=[5, 1], actions=["a", "d"],
                        reward="score", character_set=["@", "$"], spatial=False,
                        observe_state=["lives", "level"])
    data["game"].pop("symmetries", None)  # Snake's mirrors name Snake's keys
    (run / "config.toml").write_text(tomlkit.dumps(data), encoding="utf-8")
    return run, ["-m", "hydra/sweeper=optuna", "hydra.sweeper.n_trials=2",
                 "hydra.sweeper.sampler=grid", "max_turns_per_episode=choice(2,30)"], project


def finished_with_failures(launched, name: str) -> tuple[Path, dict, str]:
    """A search that ran to its end, exit status 1 (some trials failed), no traceback."""
    run, outcome = launched(name)
    output = " ".join((outcome.stdout + outcome.stderr).split())
    assert outcome.returncode == 1 and "Traceback" not in output, output[-3000:]
    [sweep_dir] = sweep_folders(run)
    report = summary(sweep_dir)
    assert report["state"] == "finished"
    return sweep_dir, report, output


def test_an_optuna_trial_that_fails_is_recorded_and_the_search_goes_on(launched):
    """Coin walk raising at turn 3: trials of 2 turns finish, trials of 30 fail mid-episode."""
    sweep_dir, report, output = finished_with_failures(launched, "broken_game")
    jobs = {tuple(j["overrides"]): j for j in report["jobs"]}
    assert jobs[("max_turns_per_episode=2",)]["status"] == "done"
    failed = jobs[("max_turns_per_episode=30",)]
    assert failed["status"] == "failed" and "the game broke at turn 3" in failed["error"]
    assert sorted(states(sweep_dir)) == ["COMPLETE", "FAIL"]
    assert "Failed: " in output and "1 failed" in output


@command("no_objective")
def prepare_no_objective(snake, folder):
    return fresh(snake, folder, "eval_episodes=0"), [
        "-m", "hydra/sweeper=optuna", "hydra.sweeper.n_trials=2", "gamma=interval(0.9,0.99)"
    ], folder


def test_a_trial_without_an_objective_fails_alone(launched):
    """``eval_episodes = 0``: every trial has no objective; each is recorded, none aborts."""
    sweep_dir, report, _ = finished_with_failures(launched, "no_objective")
    assert report["failed"] == 2
    assert all("eval_episodes" in job["error"] for job in report["jobs"])
    assert states(sweep_dir) == ["FAIL", "FAIL"]


# ------------------------------------------------------------- 2. quoted strings sweep


QUOTED = ["center_on='<>^v',auto", "center_on=choice('<>^v',auto)"]
for _sweep in QUOTED:
    command(_sweep)(lambda snake, folder, sweep=_sweep: (
        fresh(snake, folder, "training_episodes=1"), ["-m", sweep], folder))


@pytest.mark.parametrize("sweep", QUOTED)
def test_quoted_values_sweep_as_the_values_they_quote(launched, sweep):
    run, outcome = launched(sweep)
    succeeded(outcome)
    [sweep_dir] = sweep_folders(run)
    jobs = job_dirs(sweep_dir)
    assert {config(job)["hyperparameters"]["center_on"] for job in jobs} == {"<>^v", "auto"}
    assert [j["status"] for j in summary(sweep_dir)["jobs"]] == ["done", "done"]


# ------------------------------------------------------- 3. job folder names stay short


@command("many_overrides")
def prepare_many_overrides(snake, folder):
    run = fresh(snake, folder, "training_episodes=1")
    hyper = config(run)["hyperparameters"]
    names = sorted((name for name, value in hyper.items()
                    if value is not None and not isinstance(value, (list, dict))
                    and name != "gamma"), key=len, reverse=True)[:16]
    fixed = [f"{name}={str(hyper[name]).lower() if isinstance(hyper[name], bool) else hyper[name]}"
             for name in names]
    assert len(",".join(fixed).encode()) > 255, "the old folder name would be too long"
    return run, ["-m", "gamma=0.9,0.95", *fixed], folder


def test_a_sweep_with_many_overrides_has_bounded_job_folder_names(launched):
    run, outcome = launched("many_overrides")
    succeeded(outcome)
    [sweep_dir] = sweep_folders(run)
    jobs = job_dirs(sweep_dir)
    assert len(jobs) == 2
    for job in jobs:
        assert len(job.name.encode()) <= 120, "bounded: job number and a short form"
        assert len(result(job)["overrides"]) == 17, "the full overrides live in result.json"
    report = summary(sweep_dir)
    assert all(len(j["overrides"]) == 17 and j["status"] == "done" for j in report["jobs"])


# --------------------------------------------------- 4. two sweeps in the same second


def test_two_sweeps_started_in_the_same_second_get_their_own_folders(snake, tmp_path,
                                                                     monkeypatch):
    """The clock is frozen, so both sweeps start "in the same second" every time."""
    import datetime as real

    import hydra.core.utils

    class Frozen(real.datetime):
        @classmethod
        def now(cls, tz=None):
            return cls(2030, 1, 2, 3, 4, 5)

    real_strftime = time.strftime
    monkeypatch.setattr(hydra.core.utils, "datetime", Frozen)
    monkeypatch.setattr(time, "strftime", lambda pattern, *rest: real_strftime(
        pattern, Frozen.now().timetuple()) if not rest else real_strftime(pattern, *rest))
    run = fresh(snake, tmp_path, "training_episodes=1")
    succeeded(run_in_process("train", run, "-m", "gamma=0.9", cwd=tmp_path))
    succeeded(run_in_process("train", run, "-m", "gamma=0.95", cwd=tmp_path))
    folders = sweep_folders(run)
    assert [f.name for f in folders] == ["2030-01-02_03-04-05", "2030-01-02_03-04-05_2"]
    assert [summary(f)["command"] for f in folders] == [["gamma=0.9"], ["gamma=0.95"]]
    for folder in folders:
        assert len(job_dirs(folder)) == 1


# --------------------------------------------------- 5. stopping a sweep; 6. states


def test_sigterm_stops_a_sweep_at_the_end_of_an_episode_and_says_how_to_resume(snake,
                                                                               tmp_path):
    run = fresh(snake, tmp_path, "training_episodes=400", "checkpoint_every=1000")
    process = start("train", run, "-m", "gamma=0.9,0.95", cwd=tmp_path)
    planned: list[dict] = []

    def first_job_training() -> bool:
        jobs = [j for f in sweep_folders(run) for j in job_dirs(f)]
        if not (jobs and (jobs[0] / "training.log").is_file() and len(episodes(jobs[0])) >= 2):
            return False
        planned.extend(summary(jobs[0].parent)["jobs"])  # what sweep.json says meanwhile
        return True

    out, err = stop_when(process, first_job_training, "the first job's second episode",
                         signal.SIGTERM)
    [sweep_dir] = sweep_folders(run)
    # Case 6: the planned jobs are listed from the start, not only when the sweep ends.
    assert sorted(tuple(j["overrides"]) for j in planned) == [("gamma=0.9",), ("gamma=0.95",)]
    output = " ".join((out + err).split())
    assert process.returncode == 130 and "Traceback" not in output, output[-3000:]
    assert f"Resume it with: retro-gamer train {run} -m gamma=0.9,0.95" in output
    [job] = job_dirs(sweep_dir)  # the second job never started
    assert result(job)["status"] == "stopped"
    done = len(episodes(job))
    assert 2 <= done < 400
    assert (job / "checkpoints" / f"ep_{done:04d}.pt").is_file()
    report = summary(sweep_dir)
    assert report["state"] == "stopped"
    assert sorted(j["status"] for j in report["jobs"]) == ["not started", "stopped"]


PARALLEL = ["-m", "gamma=0.9,0.95", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2"]


def start_in_own_group(run: Path, cwd: Path, args=PARALLEL) -> subprocess.Popen:
    """A joblib sweep in its own process group, as a shell starts a command in a terminal."""
    return subprocess.Popen([*CLI, "train", str(run), *args], cwd=cwd, env=environment(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            process_group=0)


def group_members(group: int) -> list[int]:
    """The live (not zombie) processes of a process group, read from Linux's /proc."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if fields[0] != "Z" and int(fields[2]) == group:
                members.append(int(stat.parent.name))
    return members


def both_jobs_training(run: Path) -> bool:
    jobs = [j for f in sweep_folders(run) for j in job_dirs(f)]
    return len(jobs) == 2 and all((j / "training.log").is_file() and len(episodes(j)) >= 2
                                  for j in jobs)


def assert_stopped_with_checkpoints(sweep_dir: Path) -> None:
    """Each job ended at the end of an episode, saved it, and is "stopped", not failed."""
    jobs = job_dirs(sweep_dir)
    assert len(jobs) == 2
    for job in jobs:
        assert result(job)["status"] == "stopped", result(job)
        done = len(episodes(job))
        assert (job / "checkpoints" / f"ep_{done:04d}.pt").is_file(), job


def stop_parallel_sweep(run: Path, cwd: Path, args: list[str], stop) -> tuple[int, str]:
    """Start a sweep, ``stop(process)`` once both jobs train, then wait for its output and
    for every process of its group to exit. Returns the exit status and the output."""
    process = start_in_own_group(run, cwd, args)
    try:
        wait_for(lambda: both_jobs_training(run), "both jobs' second episode", process)
        stop(process)
        out, err = process.communicate(timeout=WAIT)
        wait_for(lambda: not group_members(process.pid), "the workers to exit")
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        if process.poll() is None:
            process.communicate()
    return process.returncode, " ".join((out + err).split())


def stopped_sweep(run: Path, code: int, output: str, args: list[str]) -> Path:
    """A sweep the user stopped: status 130, how to resume it, its jobs saved and stopped."""
    assert code == 130 and "Traceback" not in output, output[-3000:]
    # Quoted as a shell needs it: interval(...) has parentheses.
    assert f"Resume it with: {shlex.join(['retro-gamer', 'train', str(run), *args])}" in output
    [sweep_dir] = sweep_folders(run)
    assert_stopped_with_checkpoints(sweep_dir)
    return sweep_dir


def long_run(snake: Path, tmp_path: Path) -> Path:
    return fresh(snake, tmp_path, "training_episodes=100000", "checkpoint_every=1000")


@pytest.mark.slow
@pytest.mark.parametrize("to_group, signal_number", [(True, signal.SIGINT),
                                                      (False, signal.SIGTERM)],
                         ids=["ctrl-c", "sigterm"])
def test_a_parallel_sweep_stops_every_job_with_a_checkpoint(snake, tmp_path, to_group,
                                                             signal_number):
    run = long_run(snake, tmp_path)

    def stop(process: subprocess.Popen) -> None:
        if to_group:  # a terminal's Ctrl+C reaches every process of the foreground group
            os.killpg(process.pid, signal_number)
        else:  # kill PID: the command alone
            process.send_signal(signal_number)

    sweep_dir = stopped_sweep(run, *stop_parallel_sweep(run, tmp_path, PARALLEL, stop),
                              PARALLEL)
    report = summary(sweep_dir)
    assert report["state"] == "stopped"
    assert [j["status"] for j in report["jobs"]] == ["stopped", "stopped"]


@pytest.mark.slow
def test_a_parallel_optuna_search_stops_without_burning_its_trials(snake, tmp_path):
    run = long_run(snake, tmp_path)
    args = ["-m", "hydra/sweeper=retro_optuna", "hydra.sweeper.n_trials=4",
            "hydra.sweeper.n_jobs=2", "gamma=interval(0.9,0.99)", *PARALLEL[2:]]
    outcome = stop_parallel_sweep(run, tmp_path, args, lambda p: p.send_signal(signal.SIGTERM))
    sweep_dir = stopped_sweep(run, *outcome, args)
    # No trial was asked for after the stop, and the stopped ones are retried on resuming.
    assert states(sweep_dir) == ["RUNNING", "RUNNING"]


@pytest.mark.slow
@pytest.mark.parametrize("launcher", ["joblib", "submitit_local"])
def test_workers_of_a_killed_sweep_command_stop_on_their_own(snake, tmp_path, launcher):
    run = long_run(snake, tmp_path)
    # submitit_local's jobs are grandchildren of the command, which stays a zombie until
    # this test reaps it: the jobs must tell a dead command from a live one all the same.
    args = ["-m", "gamma=0.9,0.95", f"hydra/launcher={launcher}"]
    code, _ = stop_parallel_sweep(run, tmp_path, args, lambda p: p.kill())
    assert code == -signal.SIGKILL
    [sweep_dir] = sweep_folders(run)
    assert_stopped_with_checkpoints(sweep_dir)
    shown = json.loads(succeeded(cli("info", sweep_dir, "--json", cwd=tmp_path)).stdout)
    assert [job["status"] for job in shown["jobs"]] == ["stopped", "stopped"]


def test_a_job_killed_in_its_final_evaluation_is_stopped_not_running(snake, tmp_path):
    run = fresh(snake, tmp_path, "training_episodes=1", "eval_episodes=100000")
    process = start("train", run, "-m", "gamma=0.9", cwd=tmp_path)
    # SIGKILL once training has saved final.pt: the job is in its evaluation of 100000 games.
    stop_when(process, lambda: any((j / "checkpoints" / "final.pt").is_file()
                                   for f in sweep_folders(run) for j in job_dirs(f)),
              "the end of training")
    [sweep_dir] = sweep_folders(run)
    shown = json.loads(succeeded(cli("info", sweep_dir, "--json", cwd=tmp_path)).stdout)
    assert [job["status"] for job in shown["jobs"]] == ["stopped"]


def test_a_sweep_refused_by_hydra_leaves_no_sweep_to_resume(snake, tmp_path):
    run = fresh(snake, tmp_path)
    before = snapshot(run)
    command = ["train", run, "-m", "gamma=0.9,0.95", "hydra.sweep.subdir=${hydra.job.nosuch}"]
    refused(run_in_process(*command, cwd=tmp_path), "Hydra could not run this command")
    assert snapshot(run) == before, "no sweep folder is left behind"
    again = run_in_process(*command, cwd=tmp_path)
    refused(again, "Hydra could not run this command")
    assert "Resuming" not in again.stdout
    assert snapshot(run) == before


# ------------------------------------------------------------- the Optuna search


def test_an_optuna_search_killed_midway_resumes_with_its_finished_trials(snake, tmp_path):
    run = fresh(snake, tmp_path, "training_episodes=3")
    command = ["train", run, "-m", "hydra/sweeper=retro_optuna", "hydra.sweeper.n_trials=3",
               "hydra.sweeper.pruner=none", "gamma=interval(0.8,0.99)",
               "batch_size=choice(8,16)"]
    process = start(*command, cwd=tmp_path)
    def one_complete() -> bool:
        folders = sweep_folders(run)
        return bool(folders) and (folders[0] / JOURNAL_NAME).is_file() and \
            states(folders[0]).count("COMPLETE") >= 1

    # SIGKILL, as a cluster's time limit or the OOM killer would.
    stop_when(process, one_complete, "a finished trial")
    [sweep_dir] = sweep_folders(run)
    finished = {t.number: t.params for t in study(sweep_dir).get_trials()
                if t.state.name == "COMPLETE"}
    kept = {job.name: snapshot(job) for job in job_dirs(sweep_dir)
            if int(job.name.split("_")[0]) in finished}

    again = succeeded(cli(*command, cwd=tmp_path))
    output = " ".join(again.stdout.split())
    assert "Resuming the unfinished sweep" in output
    assert sweep_folders(run) == [sweep_dir]
    trials = study(sweep_dir).get_trials()
    complete = [t for t in trials if t.state.name == "COMPLETE"]
    assert len(complete) == 3, "n_trials counts the whole study"
    assert {t.number: t.params for t in complete if t.number in finished} == finished
    for name, files in kept.items():
        assert snapshot(sweep_dir / name) == files, f"finished trial {name} was redone"
    best = study(sweep_dir).best_trial
    assert f"Best trial {best.number}: objective {best.value:g}" in output
    assert f"optuna-dashboard {sweep_dir / JOURNAL_NAME}" in output


@pytest.mark.slow
def test_a_search_prunes_the_setting_that_cannot_learn(tmp_path):
    """The corridor: 30 turns a game learns the walk to the goal; 3 turns can never reach it
    (6 cells away). Once a 30-turn trial has finished, 3-turn trials are pruned early, from
    the evaluations during training (every 10 episodes)."""
    project = write_project(tmp_path / "project", "rg_corridor")
    succeeded(cli("create", "--game", "rg_corridor", "--output", "run",
                  "--training-episodes", "60", "--n-layers", "1", "--layer-size", "32",
                  "--epsilon-decay", "0.93", "--gamma", "0.9", "--learning-rate", "0.003",
                  "--lr-decay", "1.0", "--batch-size", "32", "--memory-capacity", "2000",
                  "--target-update-freq", "50", "--eval-episodes", "3", "--eval-every", "10",
                  "--torch-threads", "1", "--device", "cpu", cwd=project))
    run = project / "run"
    succeeded(cli("train", run, "-m", "hydra/sweeper=retro_optuna",
                  "hydra.sweeper.sampler=grid", "hydra.sweeper.seed=0",
                  "hydra.sweeper.n_trials=6", "hydra.sweeper.n_startup_trials=1",
                  "hydra.sweeper.n_warmup_steps=10", "max_turns_per_episode=choice(30,3)",
                  "seed=choice(1,2,3)", cwd=project))
    [sweep_dir] = sweep_folders(run)
    trials = sorted(study(sweep_dir).get_trials(), key=lambda t: t.number)
    first_good = min(t.number for t in trials if t.params["max_turns_per_episode"] == 30)
    for trial in trials:
        [job] = [j for j in job_dirs(sweep_dir) if j.name.startswith(f"{trial.number}_")]
        if trial.params["max_turns_per_episode"] == 30:
            assert trial.state.name == "COMPLETE" and trial.value == 10.0, trial
        elif trial.number > first_good:
            assert trial.state.name == "PRUNED", trial
            assert result(job)["status"] == "pruned"
            assert len(episodes(job)) < 60, "pruned before it finished"
            assert list((job / "checkpoints").glob("ep_*.pt")), "its folder is kept"
    assert any(t.state.name == "PRUNED" for t in trials)
    shown = succeeded(cli("info", sweep_dir, cwd=project, env=environment())).stdout
    assert "pruned" in shown and "done" in shown
