"""The three things retro-gamer asks of Hydra that Hydra has no public API for.

Everything else goes through Hydra's public modules (``hydra.core``,
``hydra.plugins``, the override parser). Each function here names the private
piece it uses and why; :data:`PRIVATE_NAMES` lists them all, and
``tests/test_adapters.py`` checks they still exist with the signatures used, so
that a Hydra release that moves them fails that test by name instead of a user's
sweep. Tested on hydra-core 1.3.8 (``TESTED_VERSIONS``).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from typing import Any

TESTED_VERSIONS = "hydra-core 1.3.8 (pyproject.toml allows 1.3.*)"

# module, name: every private name this module uses.
PRIVATE_NAMES = (
    ("hydra._internal.utils", "_run_hydra"),
    ("hydra._internal.utils", "get_args_parser"),
    ("hydra._internal.utils", "create_config_search_path"),
    ("hydra._internal.config_repository", "ConfigRepository"),
    ("hydra._internal.core_plugins.basic_sweeper", "BasicSweeper"),
)


def run_hydra(argv: Sequence[str], task_function: Callable[[Any], Any], config_dir: str,
              config_name: str) -> None:
    """Run ``task_function`` as ``@hydra.main`` would, on the arguments ``argv``.

    Why private: ``hydra.main`` reads ``sys.argv`` and exits the process on errors;
    the CLI needs its own arguments and wants Hydra's errors back as exceptions to
    word for the user. ``_run_hydra`` is what ``hydra.main`` calls.
    """
    from hydra._internal.utils import _run_hydra, get_args_parser

    args: argparse.Namespace = get_args_parser().parse_args(list(argv))
    _run_hydra(args=args, args_parser=get_args_parser(), task_function=task_function,
               config_path=config_dir, config_name=config_name)


def basic_sweep_jobs(overrides: Sequence[Any]) -> list[list[str]]:
    """The jobs Hydra's basic sweeper runs for these parsed overrides, in its order.

    Why private: the order (and batching) of a basic sweep is defined only by
    ``BasicSweeper.split_arguments``; using it keeps ``retro-gamer info``'s list of
    planned jobs numbered as Hydra numbers them.
    """
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper

    return [list(job) for batch in BasicSweeper.split_arguments(list(overrides), None)
            for job in batch]


def group_options(group: str) -> list[str]:
    """Options of a Hydra config group (e.g. ``hydra/launcher``) that installed plugins give.

    Why private: Hydra lists a group's options only through its config repository,
    which has no public constructor; the plugins must be registered first (public).
    """
    from hydra._internal.config_repository import ConfigRepository
    from hydra._internal.utils import create_config_search_path
    from hydra.core.plugins import Plugins

    Plugins.instance()  # registers the plugins' own config search paths
    repository = ConfigRepository(config_search_path=create_config_search_path(None))
    return sorted(repository.get_group_options(group))


__all__ = ["PRIVATE_NAMES", "TESTED_VERSIONS", "basic_sweep_jobs", "group_options", "run_hydra"]
