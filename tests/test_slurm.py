"""Sweeps on a real Slurm cluster: ``retro-gamer train RUN -m ... hydra/launcher=submitit_slurm``.

Needs a running Slurm whose jobs see this machine's files: ``scripts/local_slurm.sh start``
makes a one-node cluster (``.ci/run`` does, and sets RETRO_GAMER_SLURM=required so that
these tests fail rather than skip when that cluster does not answer). Without one they
are skipped, with the reason. Everything goes through sbatch, srun, scancel and
scontrol as a user's sweep does; runs are Snake (or a small test game) with a tiny
network, so a job is mostly Python's start-up. The three sweeps start at once and each
test then checks its own; the interrupted one comes first, since it must act while its
jobs still run.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from cli_runners import finish, run_in_process, start
from conftest import CHAR_GAME_PYPROJECT, CHAR_GAME_SOURCE
from test_sweep import TINY, assert_complete_run, episodes, job_dirs, summary, sweep_folders

from retro_gamer import slurm
from retro_gamer.config import GameMetadata, Hyperparameters

SLURM = ["hydra/launcher=submitit_slurm"]
REQUEUED_EPISODES = 60  # long enough for a notice mid-training, short enough to finish
WAIT_S = 300  # a generous bound for a job to reach a state; never a timing assertion
ACTIVE = {"PENDING", "CONFIGURING", "RUNNING", "COMPLETING", "REQUEUED", "SUSPENDED"}


def cluster_state() -> str:
    """Why no Slurm can run jobs here, or "" when one can."""
    if shutil.which("sbatch") is None or shutil.which("sinfo") is None:
        return "Slurm's commands (sbatch, sinfo) are not installed"
    try:
        states = subprocess.run(["sinfo", "--noheader", "--format=%T"], capture_output=True,
                                text=True, timeout=20)
    except subprocess.TimeoutExpired:
        return "sinfo did not answer within 20 s"
    usable = {"idle", "mixed", "allocated", "completing"}
    if states.returncode != 0 or not usable & set(states.stdout.split()):
        said = (states.stdout + states.stderr).strip() or "nothing"
        return f"no Slurm node can take jobs (sinfo said: {said})"
    return ""


@pytest.fixture(scope="module")
def cluster():
    problem = cluster_state()
    if problem and os.environ.get("RETRO_GAMER_SLURM") == "required":
        pytest.fail(f"RETRO_GAMER_SLURM=required, but {problem}.")
    if problem:
        pytest.skip(f"{problem}; start a one-node cluster with 'sudo scripts/local_slurm.sh "
                    "start' to run these tests.")


def slurm_record(job: str) -> dict[str, str]:
    """``scontrol show job``: Slurm's own record of a job (no accounting database needed),
    once the job has ended (its result is out a moment before its process has exited)."""
    def ended() -> dict[str, str]:
        shown = subprocess.run(["scontrol", "show", "job", "--oneliner", job],
                               capture_output=True, text=True, timeout=30, check=True).stdout
        record = dict(item.split("=", 1) for item in shown.split() if "=" in item)
        return record if record["JobState"] not in ACTIVE else {}

    return wait_for(ended, f"Slurm job {job} to end")


def result(job_dir: Path) -> dict:
    try:
        return json.loads((job_dir / "result.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def info_json(path: Path) -> dict:
    shown = run_in_process("info", path, "--json", cwd=path.parent)
    assert shown.returncode == 0, shown.stderr
    return json.loads(shown.stdout)


def submitit_logs(sweep_dir: Path, job: str) -> tuple[str, str]:
    """The job's stdout and stderr, where submitit's sbatch script sends them."""
    folder = sweep_dir / ".submitit" / job
    return ((folder / f"{job}_0_log.out").read_text(encoding="utf-8"),
            (folder / f"{job}_0_log.err").read_text(encoding="utf-8"))


def wait_for(condition, what: str):
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.3)
    raise AssertionError(f"waited {WAIT_S} s for {what}")


@pytest.fixture(scope="module")
def sweeps(cluster, tmp_path_factory):
    """The three sweeps of this file, submitted one right after the other (the one to
    interrupt first); their processes and runs."""
    folder = tmp_path_factory.mktemp("slurm")
    project = folder / "crashgame"
    project.mkdir()
    # Coin walk, except that the game itself crashes mid-episode in array task 1.
    crash = ("    def play_turn(self, game):\n"
             "        import os\n"
             "        if os.environ.get('SLURM_ARRAY_TASK_ID') == '1':\n"
             "            raise RuntimeError('the game crashed in array task 1')\n")
    source = CHAR_GAME_SOURCE.replace("    def play_turn(self, game):\n", crash)
    assert source != CHAR_GAME_SOURCE
    (project / "rg_crash_game.py").write_text(source, encoding="utf-8")
    (project / "pyproject.toml").write_text(CHAR_GAME_PYPROJECT, encoding="utf-8")
    created = [start("create", "--game", "retro.examples.snake", "--output", "grid", *TINY,
                     cwd=folder),
               start("create", "--game", "rg_crash_game", "--output", "run", *TINY,
                     cwd=project)]
    for process in created:
        assert finish(process).returncode == 0
    shutil.copytree(folder / "grid", folder / "interrupted")
    runs = {"grid": folder / "grid", "interrupted": folder / "interrupted",
            "crash": project / "run"}
    commands = {
        "interrupted": ["-m", f"training_episodes={REQUEUED_EPISODES},100000",
                        "checkpoint_every=10", *SLURM],
        "grid": ["-m", "gamma=0.9,0.99", *SLURM],
        "crash": ["-m", "seed=1,2", *SLURM, "hydra.launcher.mem_gb=2"],
    }
    processes = {}
    try:
        for name, args in commands.items():
            processes[name] = start("train", runs[name], *args, cwd=runs[name].parent)
            if name == "interrupted":  # first in the queue: its requeue waits while others run
                wait_for(lambda: submitted(runs["interrupted"]), "the first sweep's sbatch")
        yield runs, processes
    finally:
        for process in processes.values():  # only what this file started
            if process.poll() is None:
                process.kill()
                process.communicate()
        # A job still queued or running (a test failed early) is cancelled: this file's own.
        arrays = set().union(*map(submitted, runs.values()))
        if arrays:
            subprocess.run(["scancel", *sorted(arrays)], timeout=30)


def submitted(run: Path) -> set[str]:
    """The sbatch arrays of ``run``'s sweeps, named by the folders submitit keeps for them."""
    return {p.name for sweep_dir in sweep_folders(run)
            for p in (sweep_dir / ".submitit").glob("*") if p.name.isdigit()}


def sweep_of(run: Path) -> Path:
    [sweep_dir] = sweep_folders(run)
    return sweep_dir


@pytest.fixture(scope="module")
def interrupted(sweeps):
    """Job 0 gets Slurm's notice (SIGUSR2) mid-training, job 1 is cancelled (scancel)."""
    runs, processes = sweeps
    sweep_dir = wait_for(lambda: sweep_folders(runs["interrupted"]), "the sweep to start")[0]

    def started(number: int) -> Path | None:
        """Job ``number``'s folder once its Slurm job has started training there."""
        found = [p for p in job_dirs(sweep_dir) if p.name.startswith(f"{number}_")]
        return found[0] if found and result(found[0]).get("slurm_job") else None

    def ready_for_notice(job_dir: Path) -> bool:
        # Between two periodic checkpoints (every 10 episodes), so that resuming from the
        # last periodic one would train episodes again that the job had already trained.
        trained = len(episodes(job_dir)) if (job_dir / "training.log").is_file() else 0
        return trained >= 13 and trained % 10 >= 3

    def ready_for_cancel(job_dir: Path) -> bool:
        return (job_dir / "training.log").is_file() and len(episodes(job_dir)) >= 3

    # What Slurm sends before a time limit or a preemption (submitit asks for it with
    # --signal=USR2@...; submitit's own tests interrupt a job the same way), and scancel.
    actions = {0: (ready_for_notice, ["scancel", "--signal=USR2"]),
               1: (ready_for_cancel, ["scancel"])}
    jobs, seen = {}, {}
    deadline = time.monotonic() + WAIT_S
    while len(seen) < len(actions) and time.monotonic() < deadline:
        for number, (ready, command) in actions.items():
            job_dir = started(number)
            if number in seen or job_dir is None or not ready(job_dir):
                continue
            seen[number] = len(episodes(job_dir))
            jobs[number] = (job_dir, result(job_dir)["slurm_job"])
            subprocess.run([*command, jobs[number][1]], check=True, timeout=30)
        time.sleep(0.2)
    assert len(seen) == len(actions), f"the jobs never got far enough to interrupt ({sweep_dir})"
    done = finish(processes["interrupted"], WAIT_S)
    return {"done": done, "requeued": jobs[0][0], "cancelled": jobs[1][0],
            "seen": {"notice": seen[0], "cancel": seen[1]},
            "ids": {"notice": jobs[0][1], "cancel": jobs[1][1]}, "sweep_dir": sweep_dir}


@pytest.mark.slurm
@pytest.mark.slow
def test_a_requeued_job_continues_from_its_newest_checkpoint(interrupted):
    job_dir, job = interrupted["requeued"], interrupted["ids"]["notice"]
    done = interrupted["done"]
    assert "Traceback" not in done.stdout + done.stderr, done.stdout + done.stderr
    record = slurm_record(job)
    assert record["JobState"] == "COMPLETED" and record["Restarts"] == "1", record
    assert_complete_run(job_dir, REQUEUED_EPISODES)  # every episode exactly once, in order
    log = (job_dir / "training.log").read_text(encoding="utf-8")
    [resumed] = re.findall(r"^# resumed from ep_(\d{4})\.pt after episode (\d+)", log, re.M)
    # The notice made training save the episode it was in: nothing seen is trained again.
    assert int(resumed[0]) == int(resumed[1]) >= interrupted["seen"]["notice"]
    stdout, _ = submitit_logs(interrupted["sweep_dir"], job)
    assert stdout.count(f"Starting with JobEnvironment(job_id={job}") == 2  # two starts


@pytest.mark.slurm
@pytest.mark.slow
def test_a_cancelled_job_is_stopped_not_running(interrupted):
    job_dir, job = interrupted["cancelled"], interrupted["ids"]["cancel"]
    assert slurm_record(job)["JobState"] == "CANCELLED"
    shown = info_json(interrupted["sweep_dir"])
    statuses = {row["job"]: row["status"] for row in shown["jobs"]}
    assert statuses == {"0": "done", "1": "stopped"}
    # It saved the episode it was in when cancelled; `train --resume latest` goes on from it.
    trained = episodes(job_dir)
    assert trained == list(range(1, len(trained) + 1))
    assert len(trained) >= interrupted["seen"]["cancel"]
    assert (job_dir / "checkpoints" / f"ep_{len(trained):04d}.pt").is_file()
    assert "Resume with: retro-gamer train" in result(job_dir)["error"]


@pytest.mark.slurm
@pytest.mark.slow
def test_a_two_job_sweep_runs_through_sbatch(sweeps):
    runs, processes = sweeps
    done = finish(processes["grid"], WAIT_S)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Sweep finished: 2 jobs, 2 done, 0 failed" in " ".join(done.stdout.split())
    sweep_dir = sweep_of(runs["grid"])
    report = summary(sweep_dir)
    assert [job["status"] for job in report["jobs"]] == ["done", "done"]
    for job_dir in job_dirs(sweep_dir):
        assert_complete_run(job_dir)
        job = result(job_dir)["slurm_job"]
        record = slurm_record(job)  # Slurm ran it: its own record says so
        assert record["JobState"] == "COMPLETED", record
        # The defaults follow the run: one task, torch_threads (1) CPUs, 1 GB for this size.
        assert (record["NumTasks"], record["NumCPUs"], record["MinMemoryNode"]) == ("1", "1",
                                                                                   "1G")
        stdout, stderr = submitit_logs(sweep_dir, job)
        assert f"Starting with JobEnvironment(job_id={job}" in stdout
        assert record["StdErr"] == str(sweep_dir / ".submitit" / job / f"{job}_0_log.err")
        # Not a terminal: plain progress lines, each starting with the job's name.
        assert f"{job_dir.name}: episode 2/2 " in stderr
    shown = run_in_process("info", sweep_dir, cwd=sweep_dir)
    assert shown.returncode == 0, shown.stderr
    text = " ".join(shown.stdout.split())
    assert "2 jobs: 2 done" in text and "Leaderboard" in text
    assert "gamma=0.9" in text and "gamma=0.99" in text


@pytest.mark.slurm
@pytest.mark.slow
def test_a_job_that_fails_in_the_game_is_failed_and_the_other_finishes(sweeps):
    runs, processes = sweeps
    done = finish(processes["crash"], WAIT_S)
    output = done.stdout + done.stderr
    assert done.returncode == 1 and "Traceback" not in output, output
    assert ("Failed: 1_seed=2: The game rg_crash_game raised RuntimeError during turn 1 of "
            "episode 1: the game crashed in array task 1") in " ".join(done.stdout.split())
    sweep_dir = sweep_of(runs["crash"])
    first, second = job_dirs(sweep_dir)
    assert_complete_run(first)
    assert result(second)["status"] == "failed"
    shown = info_json(sweep_dir)
    assert {job["job"]: job["status"] for job in shown["jobs"]} == {"0": "done", "1": "failed"}
    for job_dir in (first, second):
        record = slurm_record(result(job_dir)["slurm_job"])
        assert record["JobState"] == "COMPLETED", record  # the job itself ended cleanly
        assert record["MinMemoryNode"] == "2G"  # hydra.launcher.mem_gb=2 wins over the default


# --------------------------------------------- per-job resources (no cluster needed)

SNAKE = GameMetadata.from_pyproject("retro.examples.snake").to_dict()
DEFAULTS = Hyperparameters().to_dict()


def test_slurm_resources_follow_the_sweeps_largest_job():
    small = slurm.hydra_settings([*SLURM, "gamma=0.9,0.99"], SNAKE, DEFAULTS)["launcher"]
    assert small == {"tasks_per_node": 1, "cpus_per_task": 1, "mem_gb": 1}
    big = slurm.hydra_settings([*SLURM, "memory_capacity=1000,3000000", "torch_threads=2"],
                               SNAKE, DEFAULTS)["launcher"]
    # 3 million Snake transitions of two 32x16 uint8 boards each: 3.1 GB, twice over.
    assert big["cpus_per_task"] == 2 and big["mem_gb"] == 7
    # A preset's values count too, and an override on top of it.
    snake = slurm.largest_values(DEFAULTS, ["preset=snake", "memory_capacity=100000"])
    assert snake["training_episodes"] == 3000
    assert snake["memory_capacity"] == 100_000
    wide = slurm.hydra_settings([*SLURM, "layer_size=4096", "n_layers=3"], SNAKE, DEFAULTS)
    assert wide["launcher"]["mem_gb"] == 2  # 52 M parameters, 20 bytes each


def test_other_launchers_get_no_slurm_settings():
    for launcher in ([], ["hydra/launcher=joblib"], ["hydra/launcher=submitit_local"]):
        assert slurm.hydra_settings([*launcher, "gamma=0.9,0.99"], SNAKE, DEFAULTS) == {}
