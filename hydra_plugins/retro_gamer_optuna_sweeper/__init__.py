"""retro-gamer's Optuna sweeper for Hydra: ``hydra/sweeper=retro_optuna``.

Hydra finds it because this package sits in the ``hydra_plugins`` namespace
package; :mod:`.config` registers its config in the ``hydra/sweeper`` group and
:mod:`.sweeper` holds the :class:`~hydra.plugins.sweeper.Sweeper` class. The
search itself is :mod:`retro_gamer.optuna_search`.
"""
