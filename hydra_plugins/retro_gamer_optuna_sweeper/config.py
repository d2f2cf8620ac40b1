"""The sweeper's settings, ``hydra.sweeper.*``, and its place in Hydra's config store."""

# No "from __future__ import annotations": Hydra execs this module outside sys.modules,
# where dataclasses cannot resolve string annotations.

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional  # noqa: UP035 -- OmegaConf reads these annotations

from hydra.core.config_store import ConfigStore

SWEEPER_NAME = "retro_optuna"


@dataclass
class RetroOptunaSweeperConf:
    """``hydra.sweeper.*`` of ``hydra/sweeper=retro_optuna``."""

    _target_: str = "hydra_plugins.retro_gamer_optuna_sweeper.sweeper.RetroOptunaSweeper"
    # Trials of the whole study, counting those of earlier runs of the same command.
    n_trials: int = 20
    # Trials launched together; a parallel launcher (joblib, Slurm) runs them at once.
    n_jobs: int = 1
    # The objective is the mean greedy return after training: higher is better.
    direction: str = "maximize"
    # tpe (default), random, or grid (every combination of the listed values).
    sampler: str = "tpe"
    seed: Optional[int] = None  # noqa: UP045
    # median, successive_halving, or none.
    pruner: str = "median"
    # Median pruner: trials finished before any pruning; episodes before a trial may be pruned.
    n_startup_trials: int = 5
    n_warmup_steps: int = 0
    study_name: str = "retro-gamer"
    # Default: the journal file SWEEP_DIR/optuna.journal. Or a database URL (sqlite:///...).
    storage: Optional[str] = None  # noqa: UP045
    # Seeds each trial trains with, one job per seed ([1,2,3]); the objective is their mean.
    # Empty: one job per trial, with the base run's seed.
    seeds: List[int] = field(default_factory=list)  # noqa: UP006
    # The search space in Hydra's sweep syntax, like command-line sweep overrides.
    params: Dict[str, Any] = field(default_factory=dict)  # noqa: UP006


ConfigStore.instance().store(group="hydra/sweeper", name=SWEEPER_NAME,
                             node=RetroOptunaSweeperConf, provider="retro-gamer")
