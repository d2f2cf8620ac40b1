"""Hydra's view of a run: the structured schema, the primary config, the config groups.

The schema (every hyperparameter at the top level, the game description
under ``game``) is registered in Hydra's ConfigStore, so Hydra type-checks
whatever it composes. A run's primary config is a small YAML file whose
defaults list is ``[schema, _self_, preset]`` and whose values are the run's
``config.toml``; it is written where every launcher can read it, including
jobs that a cluster starts on other machines.
"""

from __future__ import annotations

import dataclasses
import typing
from pathlib import Path

from hydra.core.config_store import ConfigStore
from omegaconf import OmegaConf

from retro_gamer.conf import group_names
from retro_gamer.config import GameMetadata, Hyperparameters

SCHEMA_NAME = "retro_gamer_schema"
PRIMARY_NAME = "run"
CONF_PACKAGE = "pkg://retro_gamer.conf"


def _schema_class() -> type:
    hints = typing.get_type_hints(Hyperparameters)
    fields = [
        (f.name, hints[f.name], dataclasses.field(default=f.default))
        for f in dataclasses.fields(Hyperparameters)
    ]
    game_hints = typing.get_type_hints(GameMetadata)
    game_fields = [
        (f.name, game_hints[f.name],
         dataclasses.field(default_factory=f.default_factory)
         if f.default_factory is not dataclasses.MISSING else dataclasses.field(default=f.default))
        for f in dataclasses.fields(GameMetadata)
    ]
    game = dataclasses.make_dataclass("GameSchema", game_fields)
    return dataclasses.make_dataclass(
        "RunSchema", [*fields, ("game", game, dataclasses.field(default_factory=game))])


RunSchema = _schema_class()
ConfigStore.instance().store(name=SCHEMA_NAME, node=RunSchema)


def write_primary(folder: Path, game: dict, hyperparameters: dict, hydra: dict) -> Path:
    """Write the primary config for a run with these values; return its folder.

    ``hydra`` holds retro-gamer's defaults for Hydra's own settings (run and
    sweep folders, callbacks); a user's ``hydra.*`` overrides still win.
    """
    values = dict(hyperparameters)
    defaults: list = [SCHEMA_NAME, "_self_"]
    defaults += [{group: None} for group in group_names()]
    defaults += [{"override hydra/job_logging": "disabled"},
                 {"override hydra/hydra_logging": "disabled"}]
    node = {
        "defaults": defaults,
        "hydra": {"searchpath": [CONF_PACKAGE], "output_subdir": None,
                  **hydra, "job": {"chdir": False, **hydra.get("job", {})}},
        **values,
        "game": game,
    }
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{PRIMARY_NAME}.yaml").write_text(
        OmegaConf.to_yaml(OmegaConf.create(node)), encoding="utf-8")
    return folder


def planned_jobs(config) -> list[list[str]]:
    """The jobs Hydra's basic sweeper runs for a sweep's composed ``config`` (the one Hydra
    saves as ``multirun.yaml``), in Hydra's order; ``[]`` for any other sweeper (Optuna
    decides its jobs as it goes). Raises ConfigError on an override Hydra cannot parse."""
    from retro_gamer.hydra_adapter import basic_sweep_jobs
    from retro_gamer.overrides import parse

    if "BasicSweeper" not in str(config.hydra.sweeper.get("_target_", "")):
        return []
    params = config.hydra.sweeper.get("params") or {}
    arguments = [f"{k}={v}" for k, v in params.items()] + list(config.hydra.overrides.task)
    return basic_sweep_jobs(parse(arguments))
