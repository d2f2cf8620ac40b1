"""The CLI tells a stop from an error by the exception's class, not by its name."""

from __future__ import annotations

import pytest

from retro_gamer import cli, errors, trainer


def test_training_interrupted_lives_in_errors_and_the_trainer_reexports_it():
    assert trainer.TrainingInterrupted is errors.TrainingInterrupted
    assert issubclass(errors.TrainingInterrupted, errors.RunDirectoryError)


@pytest.mark.parametrize("raised, code, label", [
    (errors.TrainingInterrupted("Training stopped at episode 3."), cli.EXIT_INTERRUPTED,
     "stopped:"),
    (errors.RunHasProgress("runs/snake"), cli.EXIT_USER_ERROR, "error:"),
])
def test_a_stop_exits_130_and_an_error_2(monkeypatch, capsys, raised, code, label):
    class Later(type(raised)):  # a subclass has another name: still the same kind of stop
        pass

    def command(args, console):
        raise Later(*raised.args) if isinstance(raised, errors.TrainingInterrupted) else raised

    monkeypatch.setitem(cli.COMMANDS, "info", command)
    assert cli.main(["info", "anywhere"]) == code
    err = capsys.readouterr().err
    assert err.startswith(label) and "Traceback" not in err


def test_run_has_progress_says_how_to_continue():
    message = str(errors.RunHasProgress("runs/snake"))
    assert "already holds training progress" in message
    assert "retro-gamer train runs/snake --resume latest" in message
