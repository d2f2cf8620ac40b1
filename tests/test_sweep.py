"""The Hydra experiment runner, as a user drives it: ``retro-gamer train RUN_DIR [OVERRIDES] [-m]``.

Commands run as real processes (``python -m retro_gamer.cli``) in folders outside
the checkout, on Snake with a network and episodes so small that a training costs
about a second; the launchers (joblib, submitit) and the Optuna sweeper are the
real Hydra plugins. Most of such a command is process start-up and waiting, so the
independent commands of this file are all started at once (each test registers
how its command is prepared with ``@prepared``) and each test then checks its own.
The refused overrides, which stop before anything runs, go through the command's
``main()`` in this process; two of them also run as real processes.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
import tomlkit
from cli_runners import environment, finish, run_in_process, start
from conftest import CHAR_GAME_PYPROJECT, CHAR_GAME_SOURCE
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from retro_gamer import overrides as override_rules
from retro_gamer.config import GameMetadata, Hyperparameters
from retro_gamer.hydra_conf import PRIMARY_NAME, write_primary
from retro_gamer.run_dir import RunDirectory
from retro_gamer.sweep import values_from

CONF = Path(__file__).resolve().parents[1] / "retro_gamer" / "conf"
# Two short Snake episodes with a tiny network: about a second of training.
TINY = ["--training-episodes", "2", "--memory-capacity", "200", "--batch-size", "8",
        "--layer-size", "16", "--n-layers", "1", "--eval-episodes", "1",
        "--max-turns-per-episode", "50", "--train-every", "4", "--torch-threads", "1",
        "--device", "cpu"]
EPISODE = re.compile(r"^\[EP (\d{4})\] total_reward=\S+ steps=\d+ epsilon=\S+ avg_loss=\S+$")


# ------------------------------------------------------------------------- helpers








def cli(*args, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    return finish(start(*args, cwd=cwd, env=env))


def cli_in_process(*args, cwd: Path) -> subprocess.CompletedProcess:
    return run_in_process(*args, cwd=cwd)


def succeeded(result: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    assert "Traceback" not in output, output[-3000:]
    return result


def refused(result: subprocess.CompletedProcess, *phrases: str) -> str:
    """Assert one clean error naming ``phrases``; return the message, whitespace-normalised."""
    output = result.stdout + result.stderr
    assert result.returncode not in (0, None), output[-3000:]
    assert "Traceback" not in output, output[-3000:]
    message = " ".join(result.stderr.split())
    for phrase in phrases:
        assert phrase in message, message
    return message


def snapshot(folder: Path) -> dict[str, str]:
    """Every file and folder under ``folder`` (hidden ones too) with its content's hash."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            if p.is_file() else "<dir>" for p in sorted(folder.rglob("*"))}


def copy_run(source: Path, destination: Path) -> Path:
    shutil.copytree(source, destination)
    return destination


def config(run: Path) -> dict:
    return tomlkit.parse((run / "config.toml").read_text(encoding="utf-8")).unwrap()


def episodes(run: Path) -> list[int]:
    lines = (run / "training.log").read_text(encoding="utf-8").splitlines()
    return [int(m.group(1)) for m in map(EPISODE.match, lines) if m]


def sweep_folders(run: Path) -> list[Path]:
    sweeps = run / "sweeps"
    if not sweeps.is_dir():
        return []
    return sorted(p for p in sweeps.iterdir() if p.is_dir() and not p.name.startswith("."))


def summary(sweep_dir: Path) -> dict:
    return json.loads((sweep_dir / "sweep.json").read_text(encoding="utf-8"))


def job_dirs(sweep_dir: Path) -> list[Path]:
    return sorted(p for p in sweep_dir.iterdir() if (p / "config.toml").is_file())


def assert_complete_run(job: Path, n_episodes: int = 2) -> None:
    assert episodes(job) == list(range(1, n_episodes + 1))
    assert (job / "checkpoints" / "final.pt").is_file()
    RunDirectory(job).read_config()  # a valid config.toml
    result = json.loads((job / "result.json").read_text(encoding="utf-8"))
    assert result["status"] == "done"


def without_hyperparameters(data: dict, *names: str) -> dict:
    """``config.toml`` data minus the named hyperparameters (and the seed chosen in training)."""
    hyper = {k: v for k, v in data["hyperparameters"].items() if k not in (*names, "seed")}
    return {"game": data["game"], "hyperparameters": hyper}


# ------------------------------------------------- commands started all at once


class Commands:
    """Commands started together (they are independent) and awaited one by one."""

    def __init__(self):
        self.processes: dict[str, subprocess.Popen] = {}
        self.results: dict[str, subprocess.CompletedProcess] = {}

    def start(self, name: str, *args, cwd: Path, env: dict | None = None) -> None:
        self.processes[name] = start(*args, cwd=cwd, env=env)

    def result(self, name: str) -> subprocess.CompletedProcess:
        if name not in self.results:
            self.results[name] = finish(self.processes[name])
        return self.results[name]

    def stop(self) -> None:
        for process in self.processes.values():  # only what this file started
            if process.poll() is None:
                process.kill()
                process.communicate()


@dataclasses.dataclass
class Launch:
    """One prepared command: its run directory, anything its test needs, its result."""

    run: Path
    args: list
    cwd: Path
    env: dict | None = None
    notes: dict = dataclasses.field(default_factory=dict)
    result: Callable[[], subprocess.CompletedProcess] | None = None
    process: subprocess.Popen | None = None


PREPARED: dict[str, Callable[..., Launch]] = {}


def prepared(function: Callable[..., Launch]) -> Callable[..., Launch]:
    """Register ``prepare_NAME(folder, base_run, pid_game) -> Launch``: started with the rest."""
    PREPARED[function.__name__.removeprefix("prepare_")] = function
    return function


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("sweep")


@pytest.fixture(scope="module")
def base_and_pid_game(workspace) -> tuple[Path, tuple[Path, Path]]:
    """A Snake run directory, created and never trained; and a game project whose
    create_game() appends its process's PID to $RG_PID_FILE, with a run of its own."""
    project = workspace / "pidgame_project"
    project.mkdir()
    hook = ("def create_game():\n"
            "    import os\n"
            "    if os.environ.get('RG_PID_FILE'):\n"
            "        with open(os.environ['RG_PID_FILE'], 'a') as handle:\n"
            "            handle.write(f'{os.getpid()}\\n')\n")
    source = CHAR_GAME_SOURCE.replace("def create_game():\n", hook)
    assert source != CHAR_GAME_SOURCE
    (project / "rg_pid_game.py").write_text(source, encoding="utf-8")
    (project / "pyproject.toml").write_text(CHAR_GAME_PYPROJECT, encoding="utf-8")
    snake = start("create", "--game", "retro.examples.snake", "--output", "base", *TINY,
                  cwd=workspace)
    pid = start("create", "--game", "rg_pid_game", "--output", "run", *TINY, cwd=project)
    succeeded(finish(snake))
    succeeded(finish(pid))
    return workspace / "base", (project, project / "run")


@pytest.fixture(scope="module")
def base_run(base_and_pid_game) -> Path:
    return base_and_pid_game[0]


@pytest.fixture(scope="module")
def launched(workspace, base_and_pid_game):
    base, pid_game = base_and_pid_game
    commands = Commands()
    launches = {}

    def begin(name: str, launch: Launch) -> None:
        commands.start(name, *launch.args, cwd=launch.cwd, env=launch.env)
        launch.process = commands.processes[name]
        launch.result = lambda: commands.result(name)
        launches[name] = launch

    try:
        for name, prepare in PREPARED.items():
            folder = workspace / name
            folder.mkdir()
            begin(name, prepare(folder, base, pid_game))
        for name in BAD_IN_A_PROCESS:
            run = copy_run(base, workspace / f"bad_{name}")
            begin(f"bad_{name}", Launch(run, ["train", run, *BAD_OVERRIDES[name][0]], workspace,
                                        notes={"before": snapshot(run)}))
        yield launches
    finally:
        commands.stop()


@pytest.fixture(scope="module")
def trained_run(launched) -> Path:
    """The base run trained for its two episodes (tests copy it)."""
    launch = launched["trained"]
    succeeded(launch.result())
    assert episodes(launch.run) == [1, 2]
    return launch.run


@prepared
def prepare_trained(folder, base, pid_game) -> Launch:
    run = copy_run(base, folder / "run")
    return Launch(run, ["train", run], folder)


# ---------------------------------------------------------------- one run, patched


@prepared
def prepare_single(folder, base, pid_game) -> Launch:
    run = copy_run(base, folder / "run")
    text = (run / "config.toml").read_text(encoding="utf-8")
    edited = (text.replace("gamma = 0.99\n", "# my note: 0.99 looked too far-sighted\n"
                           "gamma = 0.99\n")
              .replace("lr_decay = 0.995\n", "lr_decay = 0.995   # as in the paper\n"))
    assert edited.count("my note") == 1 and edited.count("as in the paper") == 1
    (run / "config.toml").write_text(edited, encoding="utf-8")
    return Launch(run, ["train", run, "gamma=0.95", "batch_size=16"], folder,
                  notes={"edited": edited})


def test_single_run_override_lands_in_config_and_keeps_the_users_text(launched):
    launch = launched["single"]
    succeeded(launch.result())
    after = (launch.run / "config.toml").read_text(encoding="utf-8")
    seed_lines = [line for line in after.splitlines() if line.startswith("seed = ")]
    assert len(seed_lines) == 1, "training records the seed it chose"
    expected = launch.notes["edited"].replace("gamma = 0.99\n", "gamma = 0.95\n").replace(
        "batch_size = 8\n", "batch_size = 16\n")
    assert after.replace(seed_lines[0] + "\n", "") == expected
    values = config(launch.run)["hyperparameters"]
    assert (values["gamma"], values["batch_size"]) == (0.95, 16)
    assert episodes(launch.run) == [1, 2]


# Each bad override, with what its message must say.
BAD_OVERRIDES = {
    "typo": (["gama=0.9"], ["Unknown hyperparameter 'gama'. Did you mean 'gamma'?"]),
    "not-a-number": (["gamma=abc"], ["gamma must be a number", "'abc'"]),
    "out-of-range": (["gamma=1.5"], ["gamma must be a number in (0.0, 1.0]", "1.5"]),
    "add-existing": (["+gamma=0.3"], ["'+gamma=0.3'", "would add a config key"]),
    "delete": (["~gamma"], ["'~gamma'", "would delete a config key"]),
    "add-new": (["+newkey=1"], ["'+newkey=1'", "would add a config key"]),
    "sweep-without-m": (["gamma=0.9,0.99"], ["lists several values", "-m"]),
    "unknown-launcher": (["hydra/launcher=nosuch"],
                         ["Unknown launcher 'nosuch'", "basic", "joblib", "submitit_local"]),
    "game-field-typo": (["game.actoins=[a]"],
                        ["Unknown game field 'actoins'. Did you mean 'actions'?"]),
    "parse-error": (["gamma=("], ["gamma=(", "Overrides look like name=value"]),
}
# These also run as real processes (the exit code and stderr of the real command).
BAD_IN_A_PROCESS = ("typo", "unknown-launcher")


@pytest.mark.parametrize("name", BAD_OVERRIDES)
def test_a_bad_override_is_refused_and_changes_nothing(base_run, tmp_path, name):
    run = copy_run(base_run, tmp_path / "run")
    before = snapshot(run)
    refused(cli_in_process("train", run, *BAD_OVERRIDES[name][0], cwd=tmp_path),
            *BAD_OVERRIDES[name][1])
    assert snapshot(run) == before


def test_game_overrides_are_checked_together_not_one_by_one(base_and_pid_game, tmp_path):
    """Observing 'score' is fine once the reward is another key (coin walk: level)."""
    project, pid_run = base_and_pid_game[1]
    run = copy_run(pid_run, tmp_path / "run")
    try:
        succeeded(cli_in_process("train", run, "game.reward=level",
                                 "game.observe_state=[score]", cwd=project))
    finally:
        sys.modules.pop("rg_pid_game", None)
    game = config(run)["game"]
    assert (game["reward"], game["observe_state"]) == ("level", ["score"])
    assert episodes(run) == [1, 2]


@pytest.mark.parametrize("name", BAD_IN_A_PROCESS)
def test_a_bad_override_is_refused_by_the_real_command(launched, name):
    launch = launched[f"bad_{name}"]
    result = launch.result()
    refused(result, *BAD_OVERRIDES[name][1])
    assert result.returncode == 2
    assert snapshot(launch.run) == launch.notes["before"]


# ------------------------------------------------------------------------- sweeps


@prepared
def prepare_grid(folder, base, pid_game) -> Launch:
    run = copy_run(base, folder / "run")
    return Launch(run, ["train", run, "-m", "gamma=0.9,0.99", "layer_size=16,32"], folder,
                  notes={"config": (run / "config.toml").read_bytes()})


def test_multirun_grid_makes_one_complete_run_directory_per_job(launched):
    launch = launched["grid"]
    result = succeeded(launch.result())
    run, base_config = launch.run, launch.notes["config"]

    assert (run / "config.toml").read_bytes() == base_config
    assert not (run / "training.log").exists(), "the base run itself is not trained"
    [sweep_dir] = sweep_folders(run)
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}_\d{2}-\d{2}-\d{2}", sweep_dir.name)
    jobs = job_dirs(sweep_dir)
    assert len(jobs) == 4
    base = tomlkit.parse(base_config.decode("utf-8")).unwrap()
    seen = set()
    for job in jobs:
        assert_complete_run(job)
        data = config(job)
        hyper = data["hyperparameters"]
        seen.add((hyper["gamma"], hyper["layer_size"]))
        assert without_hyperparameters(data, "gamma", "layer_size") == \
            without_hyperparameters(base, "gamma", "layer_size")
    assert seen == {(0.9, 16), (0.9, 32), (0.99, 16), (0.99, 32)}

    report = summary(sweep_dir)
    assert report["state"] == "finished" and report["failed"] == 0
    assert len(report["jobs"]) == 4
    for job in report["jobs"]:
        assert job["status"] == "done"
        assert isinstance(job["objective"], float)
        assert job["episodes_done"] == 2
    assert {tuple(sorted(j["overrides"])) for j in report["jobs"]} == {
        ("gamma=0.9", "layer_size=16"), ("gamma=0.9", "layer_size=32"),
        ("gamma=0.99", "layer_size=16"), ("gamma=0.99", "layer_size=32")}
    assert "Sweep finished: 4 jobs, 4 done, 0 failed" in " ".join(result.stdout.split())


@prepared
def prepare_own_sweep_dir(folder, base, pid_game) -> Launch:
    run = copy_run(base, folder / "run")
    mine = folder / "my sweeps" / "gamma"
    return Launch(run, ["train", run, "-m", "gamma=0.9", f"hydra.sweep.dir={mine}"], folder,
                  notes={"mine": mine})


def test_the_users_own_sweep_dir_wins(launched):
    launch = launched["own_sweep_dir"]
    succeeded(launch.result())
    mine = launch.notes["mine"]
    assert sweep_folders(launch.run) == []
    [job] = job_dirs(mine)
    assert_complete_run(job)
    assert config(job)["hyperparameters"]["gamma"] == 0.9
    assert [j["status"] for j in summary(mine)["jobs"]] == ["done"]


@prepared
def prepare_joblib(folder, base, pid_game) -> Launch:
    project, pid_run = pid_game
    run = copy_run(pid_run, folder / "run")
    pids = folder / "pids.txt"
    return Launch(run, ["train", run, "-m", "gamma=0.9,0.99", "hydra/launcher=joblib",
                        "hydra.launcher.n_jobs=2"], project,
                  env=environment(RG_PID_FILE=str(pids)), notes={"pids": pids})


def test_joblib_launcher_runs_jobs_in_separate_processes(launched):
    launch = launched["joblib"]
    succeeded(launch.result())
    [sweep_dir] = sweep_folders(launch.run)
    assert [j["status"] for j in summary(sweep_dir)["jobs"]] == ["done", "done"]
    for job in job_dirs(sweep_dir):
        assert_complete_run(job)
    seen = {int(line) for line in launch.notes["pids"].read_text().split()}
    assert len(seen) == 2, f"two jobs, two worker processes: {seen}"
    assert launch.process.pid not in seen, "the jobs ran outside the retro-gamer process"


@prepared
def prepare_submitit(folder, base, pid_game) -> Launch:
    run = copy_run(base, folder / "run")
    return Launch(run, ["train", run, "-m", "gamma=0.9,0.99",
                        "hydra/launcher=submitit_local"], folder)


def test_submitit_local_launcher_runs_the_jobs(launched):
    launch = launched["submitit"]
    succeeded(launch.result())
    [sweep_dir] = sweep_folders(launch.run)
    report = summary(sweep_dir)
    assert report["state"] == "finished"
    assert [j["status"] for j in report["jobs"]] == ["done", "done"]
    for job in job_dirs(sweep_dir):
        assert_complete_run(job)


@prepared
def prepare_optuna(folder, base, pid_game) -> Launch:
    run = copy_run(base, folder / "run")
    return Launch(run, ["train", run, "-m", "hydra/sweeper=optuna", "gamma=interval(0.8,0.99)",
                        "hydra.sweeper.n_trials=3", "hydra.sweeper.direction=maximize"], folder)


def test_optuna_sweeper_finds_best_params(launched):
    launch = launched["optuna"]
    succeeded(launch.result())
    [sweep_dir] = sweep_folders(launch.run)
    results = OmegaConf.load(sweep_dir / "optimization_results.yaml")
    assert 0.8 <= results.best_params.gamma <= 0.99
    assert "best_value" in results
    report = summary(sweep_dir)
    assert len(report["jobs"]) == 3
    for job in report["jobs"]:
        assert job["status"] == "done" and isinstance(job["objective"], float)
        [override] = job["overrides"]
        assert 0.8 <= float(override.split("=")[1]) <= 0.99


@prepared
def prepare_failing(folder, base, pid_game) -> Launch:
    run = copy_run(base, folder / "run")
    return Launch(run, ["train", run, "-m", "game.reward=score,nosuchkey"], folder)


def test_a_failed_job_is_recorded_and_rerunning_resumes_the_sweep(launched):
    launch = launched["failing"]
    first, run = launch.result(), launch.run
    assert first.returncode != 0 and "Traceback" not in first.stdout + first.stderr
    [sweep_dir] = sweep_folders(run)
    report = summary(sweep_dir)
    jobs = {tuple(j["overrides"]): j for j in report["jobs"]}
    assert jobs[("game.reward=score",)]["status"] == "done"
    failed = jobs[("game.reward=nosuchkey",)]
    assert failed["status"] == "failed"
    assert "reward key 'nosuchkey' is not in the game's state" in failed["error"]
    assert report["failed"] == 1
    assert "Failed: 1_game.reward=nosuchkey" in " ".join(first.stdout.split())
    done_dir = Path(jobs[("game.reward=score",)]["run_dir"])
    assert_complete_run(done_dir)
    done_files = snapshot(done_dir)

    second = cli(*launch.args, cwd=launch.cwd)
    assert second.returncode != 0 and "Traceback" not in second.stdout + second.stderr
    assert "Resuming the unfinished sweep" in " ".join(second.stdout.split())
    assert sweep_folders(run) == [sweep_dir], "no new timestamp folder"
    assert snapshot(done_dir) == done_files, "the finished job was skipped"
    assert summary(sweep_dir)["failed"] == 1


# ------------------------------------------------------ printing instead of training


@prepared
def prepare_cfg_job(folder, base, pid_game) -> Launch:
    run = copy_run(base, folder / "run")
    return Launch(run, ["train", run, "--cfg", "job", "gamma=0.5"], folder,
                  notes={"before": snapshot(run)})


def test_cfg_job_prints_the_composed_config_and_trains_nothing(launched):
    launch = launched["cfg_job"]
    printed = OmegaConf.create(succeeded(launch.result()).stdout)
    assert printed.gamma == 0.5
    assert printed.layer_size == 16 and printed.training_episodes == 2  # the run's values
    assert printed.game.module == "retro.examples.snake"
    assert list(printed.game.actions) == ["KEY_RIGHT", "KEY_UP", "KEY_LEFT", "KEY_DOWN"]
    assert snapshot(launch.run) == launch.notes["before"]


@prepared
def prepare_info(folder, base, pid_game) -> Launch:
    run = copy_run(base, folder / "run")
    return Launch(run, ["train", run, "--info"], folder, notes={"before": snapshot(run)})


def test_info_prints_hydras_information(launched):
    launch = launched["info"]
    result = succeeded(launch.result())
    assert "Hydra" in result.stdout and "Config search path" in result.stdout
    assert snapshot(launch.run) == launch.notes["before"]


@prepared
def prepare_preset(folder, base, pid_game) -> Launch:
    run = copy_run(base, folder / "run")
    return Launch(run, ["train", run, "preset=quick", "--cfg", "job"], folder,
                  notes={"before": snapshot(run)})


def test_a_preset_applies(launched):
    launch = launched["preset"]
    printed = OmegaConf.create(succeeded(launch.result()).stdout)
    assert printed.training_episodes == 5
    assert printed.layer_size == 64
    assert printed.n_layers == 1  # what the preset does not set keeps the run's value
    assert snapshot(launch.run) == launch.notes["before"]


def test_train_help_lists_every_hyperparameter_with_its_default(tmp_path):
    text = " ".join(succeeded(cli("train", "--help", cwd=tmp_path)).stdout.split())
    for field in dataclasses.fields(Hyperparameters):
        assert f"{field.name} [{field.default}]" in text, field.name
    assert "preset=quick" in text


CONF_FILES = sorted(str(p.relative_to(CONF)) for p in CONF.rglob("*.yaml"))


def test_conf_holds_presets_and_sweeps():
    assert "preset/quick.yaml" in CONF_FILES and "sweep/gamma_lr.yaml" in CONF_FILES


@pytest.mark.parametrize("conf_file", CONF_FILES)
def test_every_config_in_conf_composes_against_the_schema(conf_file, tmp_path):
    """Compose a run's primary config (the typed schema plus the run's values) with the
    file's group option, as ``retro-gamer train`` does, then validate what it yields."""
    group, option = conf_file[:-len(".yaml")].split("/")
    game = GameMetadata.from_pyproject("retro.examples.snake")
    write_primary(tmp_path, game.to_dict(), Hyperparameters().to_dict(), {})
    with initialize_config_dir(config_dir=str(tmp_path), version_base=None):
        cfg = compose(PRIMARY_NAME, overrides=[f"{group}={option}"], return_hydra_config=True)
    params = cfg.hydra.sweeper.get("params")
    sweep_params = OmegaConf.to_container(params) if params else {}
    game_values, hyper = values_from(OmegaConf.masked_copy(
        cfg, [k for k in cfg if k != "hydra"]))
    Hyperparameters.from_mapping(hyper, conf_file)  # every value in type and range
    GameMetadata.from_mapping(game_values, conf_file)
    changed = {k for k, v in hyper.items() if v != getattr(Hyperparameters(), k)}
    assert changed or sweep_params, f"{conf_file} neither sets nor sweeps anything"
    override_rules.check([f"{key}={value}" for key, value in sweep_params.items()],
                         multirun=True)


# ------------------------------------------------------------------ create, resume


@prepared
def prepare_create(folder, base, pid_game) -> Launch:
    return Launch(folder / "good", ["create", "--game", "retro.examples.snake", "--output",
                                    "good", "gamma=0.9", "batch_size=32"], folder)


def test_create_takes_overrides_validated_like_train(launched, tmp_path):
    good = launched["create"]
    succeeded(good.result())
    values = config(good.run)["hyperparameters"]
    assert (values["gamma"], values["batch_size"]) == (0.9, 32)
    refused(cli_in_process("create", "--game", "retro.examples.snake", "--output", "bad",
                           "gama=0.9", cwd=tmp_path),
            "Unknown hyperparameter 'gama'. Did you mean 'gamma'?")
    assert not (tmp_path / "bad").exists()


@pytest.fixture(scope="module")
def after_training(trained_run, workspace):
    """Commands on copies of the trained run, started together."""
    commands = Commands()
    cases = {"layer_size": ["layer_size=64", "--resume", "latest"],
             "game.reward": ["game.reward=reward", "--resume", "latest"],
             "extend": ["training_episodes=4", "--resume", "latest"]}
    runs, before = {}, {}
    try:
        for name, args in cases.items():
            runs[name] = copy_run(trained_run, workspace / f"after_{name}")
            before[name] = snapshot(runs[name])
            commands.start(name, "train", runs[name], *args, cwd=workspace)
        yield {name: (runs[name], before[name], commands.result(name)) for name in cases}
    finally:
        commands.stop()


@pytest.mark.parametrize("change", ["layer_size", "game.reward"])
def test_a_shape_or_game_change_on_a_run_with_checkpoints_is_refused(after_training, change):
    run, before, result = after_training[change]
    refused(result, "already has checkpoints", change, "Start a new run")
    assert snapshot(run) == before


def test_more_training_episodes_extend_a_finished_run(after_training):
    run, _, result = after_training["extend"]
    succeeded(result)
    assert episodes(run) == [1, 2, 3, 4]
    assert config(run)["hyperparameters"]["training_episodes"] == 4
    state = RunDirectory(run).load_checkpoint(run / "checkpoints" / "final.pt")
    assert state["episode"] == 4


# ------------------------------------------------------------ an installed package


@pytest.mark.slow
def test_an_installed_wheel_finds_its_conf_outside_the_checkout(base_run, tmp_path):
    checkout = Path(__file__).resolve().parents[1]
    source = tmp_path / "source"  # build from a copy: the checkout gets no build/ folder
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(checkout / name, source / name)
    shutil.copytree(checkout / "retro_gamer", source / "retro_gamer",
                    ignore=shutil.ignore_patterns("__pycache__"))
    wheels, target = tmp_path / "wheels", tmp_path / "installed"
    pip = [sys.executable, "-m", "pip"]
    built = subprocess.run([*pip, "wheel", "--no-deps", "-q", "-w", wheels, source],
                           capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr[-3000:]
    [wheel] = wheels.glob("retro_gamer-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for packaged in ("retro_gamer/conf/preset/quick.yaml", "retro_gamer/conf/sweep/gamma_lr.yaml",
                     "retro_gamer/bundled/retro.examples.snake.toml"):
        assert packaged in names
    installed = subprocess.run([*pip, "install", "--no-deps", "-q", "--target", target, wheel],
                               capture_output=True, text=True, timeout=300)
    assert installed.returncode == 0, installed.stderr[-3000:]

    work = tmp_path / "elsewhere"
    work.mkdir()
    env = environment(PYTHONPATH=str(target))
    where = subprocess.run(
        [sys.executable, "-c", "import retro_gamer; print(retro_gamer.__file__)"],
        cwd=work, env=env, capture_output=True, text=True, timeout=60)
    assert Path(where.stdout.strip()).is_relative_to(target), where.stdout + where.stderr
    copy_run(base_run, work / "run")
    result = succeeded(cli("train", "run", "--cfg", "job", "preset=quick", cwd=work, env=env))
    printed = OmegaConf.create(result.stdout)
    assert printed.training_episodes == 5 and printed.game.module == "retro.examples.snake"
