"""The Hydra sweeper class; the search is :func:`retro_gamer.optuna_search.run_search`."""

from __future__ import annotations

from typing import Any

from hydra.core.plugins import Plugins
from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig


class RetroOptunaSweeper(Sweeper):
    """Runs an Optuna study whose trials are jobs of the configured Hydra launcher."""

    def __init__(self, **settings: Any):
        self.settings = settings
        self.config: DictConfig | None = None
        self.launcher = None

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction,
              config: DictConfig) -> None:
        self.config = config
        self.launcher = Plugins.instance().instantiate_launcher(
            hydra_context=hydra_context, task_function=task_function, config=config)

    def sweep(self, arguments: list[str]) -> Any:
        from retro_gamer.optuna_search import run_search

        return run_search(self.settings, self.config, self.launcher, arguments)
