"""Optuna samplers by name, so a config can say ``[sampler] name = "tpe"``."""

from __future__ import annotations

from collections.abc import Callable

import optuna

from search.errors import FrontierError

__all__ = ["SAMPLERS", "make_sampler"]

SamplerFactory = Callable[[int | None, int], optuna.samplers.BaseSampler]

SAMPLERS: dict[str, SamplerFactory] = {
    "nsga2": lambda seed, pop: optuna.samplers.NSGAIISampler(seed=seed, population_size=pop),
    "nsga3": lambda seed, pop: optuna.samplers.NSGAIIISampler(seed=seed, population_size=pop),
    "tpe": lambda seed, pop: optuna.samplers.TPESampler(seed=seed, n_startup_trials=pop,
                                                        multivariate=True),
    "gp": lambda seed, pop: optuna.samplers.GPSampler(seed=seed, n_startup_trials=pop),
    "random": lambda seed, pop: optuna.samplers.RandomSampler(seed=seed),
}


def make_sampler(name: str, seed: int | None, population_size: int) -> optuna.samplers.BaseSampler:
    """The sampler registered as ``name``."""
    if name not in SAMPLERS:
        raise FrontierError(f"sampler.name: unknown sampler {name!r}; choose one of "
                            f"{sorted(SAMPLERS)}")
    return SAMPLERS[name](seed, population_size)
