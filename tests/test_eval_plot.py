"""``retro-gamer eval`` (statistics of the greedy score) and ``retro-gamer plot`` (PNG curves)."""

from __future__ import annotations

import json
import math
import shutil
import statistics
import struct
from pathlib import Path

import pytest
from cli_runners import run_captured
from conftest import train_snake
from matplotlib.image import imread

from retro_gamer.evaluation import evaluate, summarize
from retro_gamer.plot import RUN_SIZE, SWEEP_SIZE
from retro_gamer.run_dir import RunDirectory, atomic_write
from retro_gamer.runs import create_run

TINY = {"n_layers": 1, "layer_size": 16, "batch_size": 8, "memory_capacity": 200,
        "max_turns_per_episode": 25, "eval_episodes": 3, "device": "cpu", "torch_threads": 1}
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    return train_snake(tmp_path_factory.mktemp("evalplot") / "snake",
                       {**TINY, "training_episodes": 4, "checkpoint_every": 2, "seed": 11})


def run_cli(capsys, *args) -> tuple[int, str, str]:
    return run_captured(capsys, *args)


# ------------------------------------------------------------------ statistics


def test_summarize_matches_a_hand_computed_case():
    scores = [2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]
    result = summarize(scores)
    # mean 40/8 = 5; squared deviations 9+1+1+1+0+0+4+16 = 32; sample variance 32/7
    assert result.episodes == 8
    assert result.mean == 5.0
    assert result.median == 4.5
    assert (result.minimum, result.maximum) == (2.0, 9.0)
    assert result.stdev == pytest.approx(math.sqrt(32 / 7))
    assert result.ci95 == pytest.approx(1.96 * math.sqrt(32 / 7) / math.sqrt(8))
    # stdev sqrt(32/7) = 2.13809; 1.96 * 2.13809 / sqrt(8) = 1.48162
    assert result.ci95 == pytest.approx(1.48162, abs=1e-5)
    assert (result.ci95_low, result.ci95_high) == pytest.approx((3.51838, 6.48162), abs=1e-5)


def test_summarize_edge_cases():
    one = summarize([3.0])
    assert (one.mean, one.median, one.minimum, one.maximum) == (3.0, 3.0, 3.0, 3.0)
    assert math.isnan(one.ci95)  # no interval from a single game
    assert one.to_dict()["ci95"] is None  # and JSON gets null, not NaN
    assert summarize([]).episodes == 0


# ------------------------------------------------------------------ eval


def test_eval_reports_and_records_the_statistics(trained, capsys):
    code, out, err = run_cli(capsys, "eval", trained, "--episodes", "6", "--seed", "4",
                             "--json")
    assert code == 0, err
    printed = json.loads(out)
    record_path = RunDirectory(trained).eval_path("final")
    assert record_path == trained / "eval" / "final.json"
    saved = json.loads(record_path.read_text(encoding="utf-8"))
    assert {k: v for k, v in printed.items() if k != "path"} == saved
    assert saved["checkpoint"] == "final" and saved["checkpoint_episode"] == 4
    assert saved["episodes"] == 6 == len(saved["scores"]) == len(saved["turns"])
    assert saved["seed"] == 4
    scores = saved["scores"]
    assert saved["mean"] == pytest.approx(statistics.fmean(scores))
    assert saved["median"] == pytest.approx(statistics.median(scores))
    assert (saved["minimum"], saved["maximum"]) == (min(scores), max(scores))
    assert saved["ci95"] == pytest.approx(1.96 * statistics.stdev(scores) / math.sqrt(6))
    assert all(1 <= t <= TINY["max_turns_per_episode"] for t in saved["turns"])
    assert "evaluating: 6/6" in err  # progress, as plain lines when not in a terminal

    # The same seed plays the same games; the rendered report shows the same numbers.
    again = evaluate(trained, "final", 6, 4)
    assert again.scores == scores
    code, rendered, _ = run_cli(capsys, "eval", trained, "--episodes", "6", "--seed", "4")
    assert code == 0
    assert f"{saved['mean']:g}" in rendered and f"± {saved['ci95']:.4g}" in rendered
    assert "eval/final.json" in rendered


def test_eval_of_a_named_checkpoint_and_info_lists_it(trained, capsys):
    code, _, err = run_cli(capsys, "eval", trained, "--checkpoint", "ep_0002",
                           "--episodes", "2", "--seed", "1")
    assert code == 0, err
    assert (trained / "eval" / "ep_0002.json").is_file()
    code, out, _ = run_cli(capsys, "info", trained, "--json")
    evaluations = {e["checkpoint"]: e for e in json.loads(out)["evaluations"]}
    assert evaluations["ep_0002"]["checkpoint_episode"] == 2
    assert evaluations["ep_0002"]["episodes"] == 2


def test_eval_errors_are_one_clean_line(trained, capsys):
    code, out, err = run_cli(capsys, "eval", trained, "--checkpoint", "ep_0099")
    assert code == 2 and "ep_0099" in err and "Traceback" not in out + err
    code, _, err = run_cli(capsys, "eval", trained, "--episodes", "0")
    assert code == 2 and "--episodes" in err


# ------------------------------------------------------------------ plot


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def test_plot_writes_the_training_curves_as_a_png(trained, tmp_path, capsys):
    output = tmp_path / "curve.png"
    code, out, err = run_cli(capsys, "plot", trained, "-o", output)
    assert code == 0, err
    assert str(output) in out
    width, height = png_size(output)
    assert (width, height) == (RUN_SIZE[0] * 100, RUN_SIZE[1] * 100)
    pixels = imread(output)  # decodes: a real image, not only a header
    assert pixels.shape[:2] == (height, width)
    assert pixels[..., :3].std() > 0.05  # something is drawn on it

    code, _, _ = run_cli(capsys, "plot", trained)  # the default place, inside the run
    assert code == 0 and png_size(RunDirectory(trained).plot_path()) == (width, height)


def test_plot_compares_the_jobs_of_a_sweep(trained, tmp_path, capsys):
    sweep = tmp_path / "runs" / "sweeps" / "2030-01-01_00-00-00"
    for number, (gamma, objective) in enumerate([(0.9, 3.0), (0.99, 7.5)]):
        job = sweep / f"{number}_gamma={gamma}"
        shutil.copytree(trained, job, ignore=shutil.ignore_patterns("eval", "*.png"))
        atomic_write(job / "result.json", json.dumps(
            {"overrides": [f"gamma={gamma}"], "status": "done", "objective": objective,
             "error": None}).encode())
    code, out, err = run_cli(capsys, "plot", sweep)
    assert code == 0, err
    path = sweep / "comparison.png"
    assert str(path) in out
    assert png_size(path) == (SWEEP_SIZE[0] * 100, SWEEP_SIZE[1] * 100)
    assert imread(path).shape[:2] == (SWEEP_SIZE[1] * 100, SWEEP_SIZE[0] * 100)


def test_plot_errors_are_one_clean_line(trained, tmp_path, capsys):
    create_run("retro.examples.snake", tmp_path / "fresh", {})
    code, out, err = run_cli(capsys, "plot", tmp_path / "fresh")
    assert code == 2 and "no episodes" in err and "Traceback" not in out + err
    code, _, err = run_cli(capsys, "plot", tmp_path)
    assert code == 2 and "neither a run directory" in err
    code, _, err = run_cli(capsys, "plot", trained, "-o", tmp_path / "curve.jpg")
    assert code == 2 and ".png" in err and not (tmp_path / "curve.jpg").exists()


# ------------------------------------------------------------------ the yardstick (issue 27)


def test_eval_shows_random_play_and_the_normalised_score_on_the_coin_walk(tmp_path, capsys):
    from retro_gamer.games import find_create_game
    from retro_gamer.suite import SUITE
    from retro_gamer.suite.runner import reference_choice, score_policy

    module = "retro_gamer.suite.games.keys"
    run = tmp_path / "keys"
    create_run(module, run, {**TINY, "training_episodes": 2, "max_turns_per_episode": 30,
                             "seed": 5})
    from conftest import one_torch_thread

    from retro_gamer.runs import train_run

    with one_torch_thread():
        train_run(run)
    code, out, err = run_cli(capsys, "eval", run, "--episodes", "8", "--seed", "3", "--json")
    assert code == 0, err
    record = json.loads(out)
    # Random keys on the same seeded games, scored apart: the figures eval reports.
    metadata, hyper = RunDirectory(run).read_config()
    from retro_gamer.evaluation import evaluate_random, normalised_score

    random_play = evaluate_random(metadata, find_create_game(module), 8, 30, 3)
    assert record["random"]["episodes"] == 8
    assert record["random"]["mean"] == pytest.approx(random_play.mean)
    coin_walk = next(game for game in SUITE if game.module == module)
    reference = score_policy(module, 30, reference_choice(coin_walk.reference()), 8, 3).mean
    assert record["reference"] == pytest.approx(reference)
    assert reference > random_play.mean  # the coin walker collects coins; random keys few
    assert record["normalised"] == pytest.approx(
        normalised_score(record["mean"], random_play.mean, reference))
    code, rendered, _ = run_cli(capsys, "eval", run, "--episodes", "8", "--seed", "3")
    assert "random play, same games" in rendered and "normalised score" in rendered
    code, out, _ = run_cli(capsys, "info", run, "--json")
    row = json.loads(out)["evaluations"][0]
    assert row["random"] == pytest.approx(random_play.mean)
    assert row["normalised"] == pytest.approx(record["normalised"])
    code, rendered, _ = run_cli(capsys, "info", run)
    assert "final: random play on the same games mean" in rendered
    assert "normalised" in rendered


def test_a_game_outside_the_suite_has_no_reference_and_no_normalised_score():
    from retro_gamer.evaluation import normalised_score
    from retro_gamer.suite.runner import reference_score

    assert reference_score("my_own.game", 2, 10, 0) is None
    assert math.isnan(normalised_score(5.0, 1.0, None))
    assert normalised_score(5.0, 1.0, 9.0) == pytest.approx(0.5)
