"""Hyperparameters and GameMetadata: the specification's defaults and their validation."""

from __future__ import annotations

import dataclasses
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from retro_gamer.config import (
    HYPERPARAMETER_FIELDS,
    GameMetadata,
    Hyperparameters,
    field_kind,
)
from retro_gamer.errors import ConfigError, GameDescriptionError, RetroGamerError

# The specification's hyperparameter table, default for default.
SPEC_DEFAULTS = {
    "learning_rate": 0.001,
    "lr_decay": 0.995,
    "gamma": 0.99,
    "epsilon": 1.0,
    "epsilon_decay": 0.995,
    "epsilon_min": 0.05,
    "batch_size": 64,
    "memory_capacity": 10000,
    "prioritize_experiences": False,
    "n_layers": 2,
    "layer_size": 128,
    "training_episodes": 1000,
    "max_turns_per_episode": 2000,
    "target_update_freq": 100,
    "exploration_turns": 200,
    "unknown_character_strategy": "ignore",
}


def test_defaults_are_the_specifications_table():
    params = Hyperparameters()
    for name, expected in SPEC_DEFAULTS.items():
        value = getattr(params, name)
        assert value == expected, name
        assert type(value) is type(expected), name


def test_every_specified_hyperparameter_is_a_field():
    assert set(SPEC_DEFAULTS) <= set(HYPERPARAMETER_FIELDS)


@pytest.mark.parametrize("cls", [Hyperparameters, GameMetadata])
def test_every_field_has_a_help_text(cls):
    for f in dataclasses.fields(cls):
        help_text = f.metadata.get("help")
        assert isinstance(help_text, str) and help_text.strip(), f.name


@pytest.mark.parametrize(
    ("values", "fragments"),
    [
        pytest.param({"gamma": 0}, ["gamma", "(0.0, 1.0]", "got 0"], id="gamma-zero"),
        pytest.param({"gamma": 1.5}, ["gamma", "(0.0, 1.0]", "1.5"], id="gamma-above-one"),
        pytest.param({"gamma": "abc"}, ["gamma", "a number", "'abc'"], id="gamma-string"),
        pytest.param({"gamma": None}, ["gamma", "a number", "None"], id="gamma-none"),
        pytest.param({"epsilon": 1.2}, ["epsilon", "[0.0, 1.0]", "1.2"], id="epsilon-above-one"),
        pytest.param(
            {"epsilon": 0.1, "epsilon_min": 0.2},
            ["epsilon_min (0.2)", "epsilon (0.1)", "at most epsilon"],
            id="epsilon_min-above-epsilon",
        ),
        pytest.param(
            {"batch_size": 128, "memory_capacity": 100},
            ["batch_size (128)", "memory_capacity (100)"],
            id="batch-larger-than-memory",
        ),
        pytest.param({"batch_size": 0}, ["batch_size", "[1, 65536]", "got 0"], id="batch-zero"),
        pytest.param(
            {"batch_size": True}, ["batch_size", "an integer", "True"], id="batch-bool"
        ),
        pytest.param({"batch_size": 64.0}, ["batch_size", "an integer", "64.0"], id="batch-float"),
        pytest.param({"n_layers": -1}, ["n_layers", "[0, 32]", "-1"], id="n_layers-negative"),
        pytest.param(
            {"learning_rate": math.nan}, ["learning_rate", "(0.0, 10.0]", "nan"], id="lr-nan"
        ),
        pytest.param(
            {"learning_rate": math.inf}, ["learning_rate", "(0.0, 10.0]", "inf"], id="lr-inf"
        ),
        pytest.param(
            {"prioritize_experiences": "yes"},
            ["prioritize_experiences", "true or false", "'yes'"],
            id="prioritize-string",
        ),
        pytest.param(
            {"prioritize_experiences": 1},
            ["prioritize_experiences", "true or false"],
            id="prioritize-int",
        ),
        pytest.param(
            {"unknown_character_strategy": "drop"},
            ["unknown_character_strategy", "'ignore'", "'extend'", "'drop'"],
            id="strategy-drop",
        ),
        pytest.param({"device": "gpu"}, ["device", "'cpu'", "'cuda'", "'gpu'"], id="device-gpu"),
    ],
)
def test_invalid_values_name_the_field_and_allowed_range(values, fragments):
    with pytest.raises(ConfigError) as direct:
        Hyperparameters(**values)
    with pytest.raises(ConfigError) as mapped:
        Hyperparameters.from_mapping(values, source="config.toml [hyperparameters]")
    for fragment in fragments:
        assert fragment in str(direct.value)
        assert fragment in str(mapped.value)
    assert str(mapped.value).startswith("config.toml [hyperparameters]: ")
    assert isinstance(direct.value, RetroGamerError)


@pytest.mark.parametrize(
    "values",
    [
        {"gamma": 1.0},
        {"gamma": 1},
        {"epsilon": 0.3, "epsilon_min": 0.3},
        {"epsilon": 0.0, "epsilon_min": 0.0},
        {"batch_size": 500, "memory_capacity": 500},
        {"n_layers": 0},
        {"unknown_character_strategy": "extend"},
        {"device": "cpu"},
        {"device": "cuda:1"},
        {"prioritize_experiences": True},
    ],
)
def test_boundary_values_are_accepted(values):
    params = Hyperparameters(**values)
    for name, value in values.items():
        assert getattr(params, name) == value


def test_misspelled_hyperparameter_suggests_the_right_name():
    with pytest.raises(ConfigError) as excinfo:
        Hyperparameters.from_mapping({"gama": 0.9})
    assert "'gama'" in str(excinfo.value)
    assert "Did you mean 'gamma'?" in str(excinfo.value)


def test_unrelated_unknown_hyperparameter_is_refused_without_a_guess():
    with pytest.raises(ConfigError) as excinfo:
        Hyperparameters.from_mapping({"zzzz": 1})
    assert "'zzzz'" in str(excinfo.value)
    assert "Did you mean" not in str(excinfo.value)


def test_partial_mapping_keeps_the_other_defaults():
    params = Hyperparameters.from_mapping({"gamma": 0.5, "batch_size": 32})
    assert params == dataclasses.replace(Hyperparameters(), gamma=0.5, batch_size=32)
    assert Hyperparameters.from_mapping({}) == Hyperparameters()


def _field_strategy(name: str):
    """Valid values for one hyperparameter, derived from its declared limits."""
    f = HYPERPARAMETER_FIELDS[name]
    meta, kind = f.metadata, field_kind(name)
    if "choices" in meta:
        return st.sampled_from(meta["choices"])
    if "pattern" in meta:
        return st.sampled_from(["auto", "cpu", "cuda", "cuda:0", "cuda:7", "mps"])
    if kind is bool:
        return st.booleans()
    if kind is int:
        values = st.integers(meta["lo"], meta["hi"])
    elif kind is float:
        values = st.floats(
            meta["lo"], meta["hi"], exclude_min=bool(meta.get("lo_open")), allow_nan=False
        )
    else:  # pragma: no cover - a new kind of field needs a strategy here
        raise AssertionError(f"no strategy for {name}")
    return st.none() | values if "Optional" in str(f.type) else values


@st.composite
def valid_hyperparameters(draw) -> dict:
    values = {name: draw(_field_strategy(name)) for name in HYPERPARAMETER_FIELDS}
    low, high = sorted([values["epsilon_min"], values["epsilon"]])
    values["epsilon_min"], values["epsilon"] = low, high
    values["batch_size"] = min(values["batch_size"], values["memory_capacity"])
    return values


# No deadline: on a loaded machine one example can take longer than hypothesis' 200 ms.
@settings(deadline=None)
@given(valid_hyperparameters())
def test_valid_hyperparameters_round_trip_through_a_mapping(values):
    params = Hyperparameters(**values)
    as_dict = params.to_dict()
    assert as_dict == values
    assert all(v is None or type(v) in (bool, int, float, str) for v in as_dict.values())
    assert Hyperparameters.from_mapping(as_dict) == params


def test_game_metadata_defaults_follow_the_specification():
    metadata = GameMetadata.from_mapping({"actions": ["a"], "reward": "score"}, "test")
    assert metadata.spatial is True
    assert metadata.observe_state == []
    assert metadata.character_set is None
    assert metadata.n_actions == 2  # the described action plus the no-op


def test_game_metadata_round_trips_through_to_dict():
    metadata = GameMetadata(
        actions=["KEY_LEFT", "KEY_RIGHT"],
        reward="score",
        character_set=["^", "O"],
        spatial=False,
        observe_state=["lives"],
        module="retro.examples.nav",
        board_size=[25, 25],
    )
    assert GameMetadata.from_mapping(metadata.to_dict(), "config.toml") == metadata


def test_game_metadata_rejects_a_bad_board_size():
    with pytest.raises(GameDescriptionError, match="board_size"):
        GameMetadata.from_mapping(
            {"actions": ["a"], "reward": "score", "board_size": [0, 5]}, "config.toml"
        )
