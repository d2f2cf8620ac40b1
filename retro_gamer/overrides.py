"""Checking Hydra overrides against retro-gamer's schema before anything runs.

Hydra itself accepts ``+gama=0.9`` (it adds a new key), deletes fields with
``~gamma`` and reports a typo without a suggestion. This module parses the
overrides with Hydra's own grammar, then refuses anything that is not a known
field with a valid value, in the words a user needs to fix it.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import ChoiceSweep, Override, QuotedString, ValueType
from hydra.errors import HydraException, OverrideParseException

from retro_gamer.config import (
    HYPERPARAMETER_FIELDS,
    GameMetadata,
    check_value,
    describe_range,
    field_kind,
)
from retro_gamer.errors import ConfigError, GameDescriptionError, did_you_mean

GAME_FIELDS = tuple(f.name for f in dataclasses.fields(GameMetadata))
# The [game] fields an override may change (module and board_size describe the game itself).
GAME_OVERRIDABLE = tuple(GameMetadata.DESCRIPTION_FIELDS)


def parse(overrides: Sequence[str]) -> list[Override]:
    try:
        return OverridesParser.create().parse_overrides(list(overrides))
    except OverrideParseException as error:
        first = str(error).splitlines()[0]
        raise ConfigError(
            f"{first}. Overrides look like name=value (gamma=0.95), or name=a,b for a sweep "
            "with -m. Quote a value with characters such as < > ^ or spaces, e.g. "
            "\"center_on='<>^v'\"."
        ) from None


def config_groups() -> tuple[str, ...]:
    """Names of retro-gamer's own config groups in conf/ (e.g. ``preset``)."""
    from retro_gamer.conf import group_names

    return group_names()


def check(overrides: Sequence[str], multirun: bool) -> list[Override]:
    """Parse and validate ``overrides``; raise :class:`ConfigError` for the first bad one."""
    parsed = parse(overrides)
    groups = config_groups()
    for override in parsed:
        key = override.key_or_group
        if key == "hydra" or key.startswith(("hydra.", "hydra/")):
            continue  # Hydra's own settings: Hydra validates them
        if key in groups:
            continue
        if override.is_delete() or override.is_add() or override.is_force_add():
            sign = "~" if override.is_delete() else "+"
            raise ConfigError(
                f"'{override.input_line}': '{sign}' would {'delete' if sign == '~' else 'add'} "
                f"a config key. retro-gamer's fields are fixed; write {key}=VALUE to change one."
            )
        if override.is_sweep_override() and not multirun:
            raise ConfigError(
                f"'{override.input_line}' lists several values: that is a sweep. Add -m "
                "(--multirun) to run one job per value, or give a single value."
            )
        name = _field_name(key)
        for value in concrete_values(override):
            _check_one(key, name, value)
    return parsed


def hyperparameter_overrides(overrides: Sequence[str]) -> dict[str, Any]:
    """Single-value hyperparameter overrides as a dict (used by ``create``)."""
    values: dict[str, Any] = {}
    for override in check(overrides, multirun=False):
        key = override.key_or_group
        if key.startswith("game.") or "/" in key or key.startswith("hydra"):
            raise ConfigError(
                f"'{override.input_line}': create takes hyperparameters only; the game's "
                "description comes from its pyproject.toml."
            )
        if key in config_groups():
            raise ConfigError(f"'{override.input_line}': presets apply when training, "
                              f"e.g. retro-gamer train RUN_DIR {override.input_line}")
        values[key] = coerce(key, override.value())
    return values


def coerce(name: str, value: Any) -> Any:
    """Hydra reads ``gamma=1`` as an int; store it as the float the field is."""
    if field_kind(name) is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def _field_name(key: str) -> str:
    if key.startswith("game."):
        name = key[5:]
        if name not in GAME_FIELDS:
            raise ConfigError(
                f"Unknown game field '{name}'.{did_you_mean(name, GAME_OVERRIDABLE)} "
                f"Game fields: {', '.join(GAME_OVERRIDABLE)}."
            )
        if name not in GAME_OVERRIDABLE:
            raise ConfigError(
                f"game.{name} describes the game itself and cannot be overridden; it is read "
                "from the game module."
            )
        return key
    if key not in HYPERPARAMETER_FIELDS:
        candidates = [*HYPERPARAMETER_FIELDS, *(f"game.{g}" for g in GAME_OVERRIDABLE)]
        groups = config_groups()
        raise ConfigError(
            f"Unknown hyperparameter '{key}'.{did_you_mean(key, [*candidates, *groups])} "
            "See 'retro-gamer train --help' or config.toml for the names."
        )
    return key


def concrete_values(override: Override) -> list[Any]:
    """Every concrete value an override stands for (intervals: their two ends)."""
    if override.value_type == ValueType.INTERVAL_SWEEP:
        interval = override.value()
        return [interval.start, interval.end]
    if override.is_sweep_override():
        # A quoted item of a plain list ('<>^v',auto) stays a QuotedString in Hydra's parse.
        return [v.text if isinstance(v, QuotedString) else v for v in override.sweep_iterator()]
    return [override.value()]


def value_text(value: Any) -> str:
    """``value`` written in Hydra's override grammar so that it parses back to itself.

    Strings with characters the grammar reserves (``<>^v``, spaces, commas) are
    quoted; Hydra's own sweepers drop such quotes (``choice('<>^v',auto)`` reaches
    the job as ``<>^v``), so every job override retro-gamer builds goes through here.
    """
    if isinstance(value, QuotedString):
        value = value.text
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(value_text(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ",".join(f"{k}:{value_text(v)}" for k, v in value.items()) + "}"
    text = str(value)
    try:
        plain = OverridesParser.create().parse_override(f"k={text}")
        if plain.value_type == ValueType.ELEMENT and plain.value() == text:
            return text
    except HydraException:  # the grammar refuses it bare: quote it
        pass
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


DISPLAY_DIGITS = 4  # significant digits of a float in a job's folder name or a leaderboard


def shown(override: str) -> str:
    """``name=value`` for a person to read: a long float (``gamma=0.9433445741949895``, as
    an Optuna trial draws them) rounded to a few significant digits (``gamma=0.9433``).

    Only for names and tables: the job's exact overrides stay in its ``result.json``.
    """
    name, sep, value = override.partition("=")
    if not sep or not any(c.isdigit() for c in value):
        return override
    try:
        number = float(value)
    except ValueError:
        return override
    digits = sum(c.isdigit() for c in value.split("e")[0].lstrip("-0."))
    if not math.isfinite(number) or digits <= DISPLAY_DIGITS + 1 or value.lstrip("-").isdigit():
        return override
    return f"{name}={number:.{DISPLAY_DIGITS}g}"


def portable_sweeps(overrides: Sequence[str]) -> list[str]:
    """``overrides`` with each ``choice(...)`` rewritten as a plain list of quoted values.

    Hydra's basic sweeper writes a ``choice`` item back without its quotes, so a
    job receives ``center_on=<>^v`` and cannot parse it; the plain list form
    (``center_on='<>^v',auto``) keeps them. Other overrides are returned as given.
    """
    result = []
    for text in overrides:
        try:
            override = OverridesParser.create().parse_override(text)
        except HydraException:
            result.append(text)  # check() words the error
            continue
        sweep = override.value() if override.value_type == ValueType.CHOICE_SWEEP else None
        if isinstance(sweep, ChoiceSweep) and not sweep.tags and not sweep.shuffle:
            items = ",".join(value_text(v) for v in sweep.list)
            result.append(f"{override.get_key_element()}={items}")
        else:
            result.append(text)
    return result


def _check_one(key: str, name: str, value: Any) -> None:
    if name.startswith("game."):
        field = name[5:]
        # The field alone: its probe partners must not clash with it (a reward of "score"
        # would refuse game.observe_state=[score] for a run rewarded by another key).
        # The whole [game] table is checked once Hydra has composed it.
        probe = {"actions": ["KEY_UP"], "reward": "\0"}
        probe[field] = value
        try:
            GameMetadata.from_mapping(probe, "override")
        except GameDescriptionError as error:
            raise ConfigError(f"'{key}={value}': {str(error).removeprefix('override: ')}") from None
        return
    if isinstance(value, float) and math.isnan(value):
        raise ConfigError(f"{name} must be {describe_range(name)}, got nan.")
    try:
        check_value(name, coerce(name, value))
    except ConfigError as error:
        raise ConfigError(f"Invalid override '{key}={value}': {error}") from None
