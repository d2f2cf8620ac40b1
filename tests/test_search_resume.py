"""Searches a user can stop, resume and believe (issue 26), on the coin-walk game.

An Optuna search is stopped the way a terminal's Ctrl+C stops it (SIGINT to the whole
process group) and resumed with the command it printed, pasted into bash; a journal cut
off mid-line is recovered; settings that would run nothing, or something else, are
refused; the leaderboard keeps its objective at 80 columns.
"""

from __future__ import annotations

import json
import math
import os
import re
import signal
import statistics
import subprocess
from pathlib import Path

import pytest
from cli_runners import CLI, environment, finish, run_in_process, start
from conftest import CHAR_GAME_PYPROJECT, CHAR_GAME_SOURCE
from gamekit import write_project
from test_sweep import episodes, job_dirs, refused, snapshot, succeeded, summary, sweep_folders
from test_sweep_faults import JOURNAL_NAME, result, start_in_own_group, study, wait_for

MODULE = "rg_coin_search"
# Coin walk with a tiny network: an episode is a few milliseconds of training.
OPTIONS = ["--training-episodes", "40", "--max-turns-per-episode", "20",
           "--memory-capacity", "200", "--batch-size", "8", "--layer-size", "16",
           "--n-layers", "1", "--eval-episodes", "2", "--train-every", "4",
           "--torch-threads", "1", "--device", "cpu"]
EPISODES = 40
SEARCH = ["-m", "hydra/sweeper=retro_optuna", "hydra.sweeper.n_trials=4",
          "hydra.sweeper.seed=2", "hydra.sweeper.pruner=none",
          "gamma=tag(log,interval(0.8,0.99))"]


def cli(*args, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    return finish(start(*args, cwd=cwd, env=env))


def coin_run(folder: Path, *options: str) -> Path:
    """A coin-walk project in ``folder`` with a run directory ``folder/run``, never trained."""
    write_project(folder, MODULE, CHAR_GAME_SOURCE, CHAR_GAME_PYPROJECT)
    succeeded(cli("create", "--game", MODULE, "--output", "run", *OPTIONS, *options,
                  cwd=folder))
    return folder / "run"


def trial_folder(sweep_dir: Path, number: int) -> list[Path]:
    return [job for job in job_dirs(sweep_dir) if job.name.split("_")[0] == str(number)]


@pytest.fixture(scope="module")
def stopped_and_resumed(tmp_path_factory):
    """A seeded 4-trial search stopped by Ctrl+C in trial 1, then resumed by running the
    command it printed, as bash reads it. Returns what each step left."""
    project = tmp_path_factory.mktemp("search")
    run = coin_run(project)
    process = start_in_own_group(run, project, SEARCH)

    def second_trial_training() -> bool:
        folders = sweep_folders(run)
        jobs = trial_folder(folders[0], 1) if folders else []
        return bool(jobs) and (jobs[0] / "training.log").is_file() and \
            len(episodes(jobs[0])) >= 2

    try:
        wait_for(second_trial_training, "trial 1's second episode", process)
        os.killpg(process.pid, signal.SIGINT)  # a terminal's Ctrl+C reaches the group
        out, err = process.communicate(timeout=300)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
    stop_output = out + err
    [sweep_dir] = sweep_folders(run)
    [stopped_job] = trial_folder(sweep_dir, 1)
    stopped = {"params": {t.number: t.params for t in study(sweep_dir).get_trials()},
               "episodes": len(episodes(stopped_job)), "status": result(stopped_job)["status"],
               "finished": {job.name: snapshot(job) for job in trial_folder(sweep_dir, 0)}}
    assert process.returncode == 130, stop_output[-3000:]
    printed = stop_output.split("Resume it with: ", 1)[1].splitlines()[0]
    # What bash makes of the printed command, word by word.
    words = subprocess.run(["bash", "-c", f"printf '%s\\n' {printed}"], capture_output=True,
                           text=True)
    pasted = words.stdout.splitlines() if words.returncode == 0 else None
    # The resume, as pasted; the user's own command when the printed one would not paste.
    again = pasted[1:] if pasted and pasted[:2] == ["retro-gamer", "train"] else [
        "train", str(run), *SEARCH]
    resumed = subprocess.run([*CLI, *again], cwd=project, env=environment(),
                             capture_output=True, text=True, timeout=600)
    return {"run": run, "sweep_dir": sweep_dir, "stop_output": stop_output,
            "printed": printed, "bash": words, "pasted": pasted, "stopped": stopped,
            "resumed": resumed}


@pytest.mark.slow  # a search stopped by a signal and resumed: minutes
def test_the_printed_resume_command_can_be_pasted_into_bash(stopped_and_resumed):
    """Item 3: ``tag(log,interval(...))`` has parentheses; unquoted, bash refuses the line."""
    outcome = stopped_and_resumed
    assert outcome["bash"].returncode == 0, outcome["bash"].stderr
    assert outcome["pasted"] == ["retro-gamer", "train", str(outcome["run"]), *SEARCH]
    succeeded(outcome["resumed"])
    assert "Resuming the unfinished sweep" in outcome["resumed"].stdout


@pytest.mark.slow  # a search stopped by a signal and resumed: minutes
def test_a_resumed_seeded_search_asks_for_new_parameters(stopped_and_resumed):
    """Item 1: the sampler rebuilt with the same seed replayed trials 0 and 1 as 2 and 3."""
    outcome = stopped_and_resumed
    succeeded(outcome["resumed"])
    trials = study(outcome["sweep_dir"]).get_trials()
    gammas = [t.params["gamma"] for t in trials]
    assert len(gammas) == 4 and len(set(gammas)) == 4, gammas
    # The trials asked before the stop keep their parameters.
    for number, params in outcome["stopped"]["params"].items():
        assert trials[number].params == params


@pytest.mark.slow  # a search stopped by a signal and resumed: minutes
def test_a_stopped_trial_continues_from_its_checkpoint_and_counts_once(stopped_and_resumed):
    """Item 2: the trial stopped by Ctrl+C is the same trial, in the same folder, continued
    from its checkpoint; the study holds n_trials trials, each shown once, with its state,
    value and run folder, as optuna-dashboard reads the journal."""
    outcome = stopped_and_resumed
    succeeded(outcome["resumed"])
    sweep_dir, stopped = outcome["sweep_dir"], outcome["stopped"]
    assert stopped["status"] == "stopped" and 2 <= stopped["episodes"] < EPISODES
    trials = study(sweep_dir).get_trials()
    assert [t.number for t in trials] == [0, 1, 2, 3]
    for trial in trials:
        [job] = trial_folder(sweep_dir, trial.number)  # one folder per trial
        assert trial.state.name == "COMPLETE", trial
        assert trial.value == result(job)["objective"]
        assert Path(trial.user_attrs["run_dir"]) == job
        assert len(episodes(job)) == EPISODES, job
    [job] = trial_folder(sweep_dir, 1)
    log = (job / "training.log").read_text(encoding="utf-8")
    assert f"# resumed from ep_{stopped['episodes']:04d}.pt" in log
    assert episodes(job) == list(range(1, EPISODES + 1)), "each episode logged once"
    for name, files in stopped["finished"].items():
        assert snapshot(sweep_dir / name) == files, "the finished trial was not redone"
    report = summary(sweep_dir)
    assert report["state"] == "finished"
    assert [j["status"] for j in report["jobs"]] == ["done"] * 4


# ------------------------------------------------------------- 4. a damaged journal


def test_a_journal_cut_off_mid_line_is_recovered_and_never_written_behind(tmp_path):
    """A crash while writing leaves the journal's last line cut off; Optuna appended the next
    record right behind it, and the journal could no longer be read at all."""
    run = coin_run(tmp_path, "--training-episodes", "2")
    command = ["train", run, "-m", "hydra/sweeper=retro_optuna", "hydra.sweeper.n_trials=2",
               "hydra.sweeper.sampler=grid", "max_turns_per_episode=choice(2,3)"]
    succeeded(cli(*command, cwd=tmp_path))
    [sweep_dir] = sweep_folders(run)
    journal = sweep_dir / JOURNAL_NAME
    whole = journal.read_bytes()
    lines = whole.splitlines(keepends=True)
    journal.write_bytes(whole[:-len(lines[-1]) // 2])  # the last record, half written
    objectives = {j.name: result(j)["objective"] for j in job_dirs(sweep_dir)}

    again = succeeded(cli(*command, cwd=tmp_path))
    message = " ".join(again.stderr.split())
    assert f"{journal}: line {len(lines)} of {len(lines)} could not be read" in message
    assert f"kept as {journal}.damaged" in message
    assert (sweep_dir / f"{JOURNAL_NAME}.damaged").read_bytes() == whole[:-len(lines[-1]) // 2]
    for line in journal.read_bytes().splitlines(keepends=True):
        assert line.endswith(b"\n") and json.loads(line), "every line of the journal reads"
    trials = study(sweep_dir).get_trials()
    assert [t.state.name for t in trials] == ["COMPLETE", "COMPLETE"]
    assert sorted(t.value for t in trials) == sorted(objectives.values())
    assert {j.name: result(j)["objective"] for j in job_dirs(sweep_dir)} == objectives
    assert summary(sweep_dir)["state"] == "finished"


# ------------------------------------------------------- 5. settings that slip through


@pytest.fixture(scope="module")
def coin(tmp_path_factory) -> Path:
    return coin_run(tmp_path_factory.mktemp("coin"), "--training-episodes", "2")


def test_hydra_mode_multirun_without_m_sweeps_and_leaves_the_base_run_alone(coin, tmp_path):
    """Hydra's own spelling of -m: before, the job trained the base run itself and a sweep
    folder was left without jobs."""
    run = coin.parent / "mode_run"
    subprocess.run(["cp", "-r", str(coin), str(run)], check=True)
    before = snapshot(run)
    succeeded(cli("train", run, "hydra.mode=MULTIRUN", "gamma=0.9", cwd=coin.parent))
    assert not (run / "training.log").exists(), "the base run was not trained"
    assert {k: v for k, v in snapshot(run).items() if not k.startswith("sweeps")} == before
    [sweep_dir] = sweep_folders(run)
    assert [job.name for job in job_dirs(sweep_dir)] == ["0_gamma=0.9"]
    assert [j["status"] for j in summary(sweep_dir)["jobs"]] == ["done"]


@pytest.mark.parametrize("setting, phrase", [
    ("n_trials=-1", "hydra.sweeper.n_trials=-1"),
    ("n_trials=0", "hydra.sweeper.n_trials=0"),
    ("n_jobs=0", "hydra.sweeper.n_jobs=0"),
    ("seed=-3", "hydra.sweeper.seed=-3"),
    ("direction=up", "hydra.sweeper.direction=up"),
    ("n_startup_trials=-1", "hydra.sweeper.n_startup_trials=-1"),
])
def test_a_search_setting_that_would_run_nothing_is_refused(coin, tmp_path, setting, phrase):
    before = snapshot(coin)
    message = refused(run_in_process("train", coin, "-m", "hydra/sweeper=retro_optuna",
                                     f"hydra.sweeper.{setting}", "gamma=interval(0.9,0.99)",
                                     cwd=coin.parent), phrase)
    assert "Hydra could not run" not in message
    assert snapshot(coin) == before, "no sweep folder is left behind"


# ------------------------------------------------------------ 6. leaderboards that show it


@pytest.fixture(scope="module")
def searched(tmp_path_factory) -> Path:
    """A finished grid search with long floats on a coin walk that breaks at turn 3: the
    2-turn trials finish, the 30-turn ones fail."""
    from test_sweep_faults import BROKEN_SOURCE

    folder = tmp_path_factory.mktemp("board")
    write_project(folder, "rg_broken_coin", BROKEN_SOURCE, CHAR_GAME_PYPROJECT)
    succeeded(cli("create", "--game", "rg_broken_coin", "--output", "run", *OPTIONS,
                  "--training-episodes", "2", cwd=folder))
    run = folder / "run"
    outcome = cli("train", run, "-m", "hydra/sweeper=retro_optuna", "hydra.sweeper.n_trials=4",
                  "hydra.sweeper.sampler=grid", "max_turns_per_episode=choice(2,30)",
                  "gamma=choice(0.9433445741949895,0.9123456789012345)",
                  "learning_rate=choice(0.00012345678901234)", cwd=folder)
    assert outcome.returncode == 1, outcome.stderr[-3000:]  # two trials failed
    [sweep_dir] = sweep_folders(run)
    return sweep_dir


def test_job_folders_of_a_search_have_short_names(searched):
    names = [job.name for job in job_dirs(searched)]
    assert len(names) == 4
    for name in names:
        assert not re.search(r"\d\.0*[1-9]\d{5,}", name), f"{name}: a long float in a folder name"
        assert "gamma=0.9433" in name or "gamma=0.9123" in name, name
        assert len(name) <= 70, name
    exact = {o for job in job_dirs(searched) for o in result(job)["overrides"]}
    assert "gamma=0.9433445741949895" in exact, "the exact value stays in result.json"


@pytest.mark.parametrize("columns", ["80", None], ids=["80-columns", "piped"])
def test_the_leaderboard_keeps_objective_seconds_and_reason_at_80_columns(searched, columns):
    env = environment()
    env.pop("COLUMNS")
    if columns:
        env["COLUMNS"] = columns
    shown = succeeded(cli("info", searched, cwd=searched, env=env)).stdout
    assert max(len(line) for line in shown.splitlines()) <= 80
    header = next(line for line in shown.splitlines() if "rank" in line and "status" in line)
    for column in ("objective", "seconds"):
        assert column in header, shown
    words = " ".join(shown.split())
    for job in json.loads(succeeded(cli("info", searched, "--json", cwd=searched)).stdout)[
            "jobs"]:
        if job["status"] == "done":
            assert f" {job['objective']:g} " in f" {words} ", (job, shown)
            assert f"{job['seconds']:.1f}" in words
        else:
            assert job["error"] and "the game broke at turn 3" in job["error"]
            assert f"job {job['job']} failed: {job['error']}" in words, "the reason is whole"
    assert "gamma=0.9433 " in f"{words} "


# --------------------------------------------------------------- 7. seeds as an axis


@pytest.fixture(scope="module")
def over_seeds(tmp_path_factory) -> Path:
    """Two configurations, each trained with three seeds (Hydra's own sweep syntax)."""
    folder = tmp_path_factory.mktemp("seeds")
    run = coin_run(folder, "--training-episodes", "3")
    succeeded(cli("train", run, "-m", "gamma=0.5,0.9", "seed=1,2,3", cwd=folder))
    [sweep_dir] = sweep_folders(run)
    return sweep_dir


def test_a_sweep_over_seeds_ranks_each_configuration_by_its_mean(over_seeds):
    data = json.loads(succeeded(cli("info", over_seeds, "--json", cwd=over_seeds)).stdout)
    jobs = data["jobs"]
    assert len(jobs) == 6 and {j["status"] for j in jobs} == {"done"}
    for job in jobs:  # each job trained with the seed its override names
        [seed] = [o for o in job["overrides"] if o.startswith("seed=")]
        assert f"seed = {seed[5:]}\n" in (Path(job["run_dir"]) / "config.toml").read_text()
    configurations = data["configurations"]
    assert [c["overrides"] for c in configurations] in (
        [["gamma=0.5"], ["gamma=0.9"]], [["gamma=0.9"], ["gamma=0.5"]])
    means = []
    for configuration in configurations:
        mine = {o[5:]: j["objective"] for j in jobs if configuration["overrides"][0]
                in j["overrides"] for o in j["overrides"] if o.startswith("seed=")}
        assert {s["seed"]: s["objective"] for s in configuration["seeds"]} == mine
        values = list(mine.values())
        assert configuration["n"] == 3
        assert configuration["mean"] == pytest.approx(statistics.fmean(values))
        # Student's t with 2 degrees of freedom: 4.303 standard errors, not 1.96.
        assert configuration["ci95"] == pytest.approx(
            4.303 * statistics.stdev(values) / math.sqrt(3))
        means.append(configuration["mean"])
    assert means == sorted(means, reverse=True), "best mean first"

    env = environment()
    env["COLUMNS"] = "80"
    shown = succeeded(cli("info", over_seeds, cwd=over_seeds, env=env)).stdout
    assert "Across seeds (best mean first)" in shown
    words = " ".join(shown.split())
    for configuration in configurations:
        assert f"{configuration['mean']:.4g} ± {configuration['ci95']:.2g}" in words, shown


@pytest.mark.slow  # a search stopped by a signal and resumed: minutes
def test_a_search_over_seeds_resumes_after_a_kill_with_no_trial_repeated(tmp_path):
    """``hydra.sweeper.seeds=[1,2]``: each trial is one job per seed and its value is their
    mean; the command is killed (SIGKILL to its group) during trial 0's second seed, and the
    resumed search loses no seed and repeats no trial."""
    run = coin_run(tmp_path, "--training-episodes", "20")
    args = ["-m", "hydra/sweeper=retro_optuna", "hydra.sweeper.n_trials=2",
            "hydra.sweeper.seeds=[1,2]", "hydra.sweeper.seed=0", "gamma=interval(0.5,0.99)"]
    process = start_in_own_group(run, tmp_path, args)

    def second_seed_training() -> bool:
        folders = sweep_folders(run)
        jobs = trial_folder(folders[0], 1) if folders else []
        return bool(jobs) and (jobs[0] / "training.log").is_file() and \
            len(episodes(jobs[0])) >= 2

    try:
        wait_for(second_seed_training, "the second seed's second episode", process)
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate(timeout=300)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
    [sweep_dir] = sweep_folders(run)
    assert summary(sweep_dir)["state"] == "running"  # killed: nothing could record the end

    succeeded(cli("train", run, *args, cwd=tmp_path))
    trials = study(sweep_dir).get_trials()
    assert [t.number for t in trials] == [0, 1]
    assert trials[0].params != trials[1].params
    jobs = job_dirs(sweep_dir)
    assert [int(job.name.split("_")[0]) for job in jobs] == [0, 1, 2, 3], "no job twice"
    for job in jobs:
        number = int(job.name.split("_")[0])
        seed = (1, 2)[number % 2]
        assert result(job)["status"] == "done"
        assert f"seed={seed}" in result(job)["overrides"]
        assert f"seed = {seed}\n" in (job / "config.toml").read_text(encoding="utf-8")
        assert episodes(job) == list(range(1, 21)), "each episode once"
    for trial in trials:
        mine = [result(job)["objective"] for job in jobs
                if int(job.name.split("_")[0]) // 2 == trial.number]
        assert trial.state.name == "COMPLETE"
        assert trial.value == pytest.approx(statistics.fmean(mine))
        assert trial.user_attrs["seed_objectives"] == {"1": mine[0], "2": mine[1]}
        assert {trial.user_attrs[f"run_dir_seed_{s}"] for s in (1, 2)} == {
            str(job) for job in jobs if int(job.name.split("_")[0]) // 2 == trial.number}
    shown = json.loads(succeeded(cli("info", sweep_dir, "--json", cwd=tmp_path)).stdout)
    configurations = shown["configurations"]
    assert sorted(c["mean"] for c in configurations) == pytest.approx(
        sorted(t.value for t in trials))
    assert all([s["seed"] for s in c["seeds"]] == ["1", "2"] for c in configurations)
