"""Optuna samplers by name, so a config can say ``[sampler] name = "tpe"``; add your own with
:func:`register_sampler`.

NSGA-II and NSGA-III are Optuna's, with one change of ours (:class:`KeepStopped`): a trial the
early-stopping rule stopped stays in the genetic population with the values it had when it was
stopped. Optuna's GA samplers see only COMPLETE trials, so without this a stopped trial is a
sample thrown away: its generation waits for another finished trial, and the elite selection
never learns that this corner of the space was tried and found dominated.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import optuna
from optuna.samplers._ga._base import BaseGASampler
from optuna.study import Study
from optuna.trial import FrozenTrial, TrialState

from search.errors import FrontierError
from search.keys import STOPPED_VALUES_ATTR
from spaces.registry import Registry

__all__ = ["SAMPLERS", "KeepStopped", "NSGAIIISampler", "NSGAIISampler", "list_samplers",
           "make_sampler", "population_trials", "register_sampler"]


def population_trials(study: Study) -> list[FrozenTrial]:
    """The study's COMPLETE trials, and its stopped (PRUNED) trials as COMPLETE copies carrying
    the values stored when they were stopped, in trial order."""
    out = []
    for t in study._get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED),
                               use_cache=True):
        if t.state == TrialState.COMPLETE:
            out.append(t)
        elif STOPPED_VALUES_ATTR in t.user_attrs:
            out.append(_as_complete(t))
    return out


def _as_complete(trial: FrozenTrial) -> FrozenTrial:
    done = copy.copy(trial)
    done.state = TrialState.COMPLETE
    done.values = list(trial.user_attrs[STOPPED_VALUES_ATTR])
    return done


class KeepStopped(BaseGASampler):
    """Mixin for Optuna's GA samplers: generations and populations count the trials stopped
    early, with their stopped values (see the module docstring)."""

    def get_trial_generation(self, study: Study, trial: FrozenTrial) -> int:
        """Optuna's rule (a generation is full at ``population_size`` trials), counting stopped
        trials."""
        key = self._get_generation_key()
        generation = trial.system_attrs.get(key, None)
        if generation is not None:
            return int(generation)
        generations = [t.system_attrs.get(key, -1) for t in population_trials(study)]
        last = max([0, *generations])
        assert self.population_size is not None
        generation = last + int(generations.count(last) >= self.population_size)
        study._storage.set_trial_system_attr(trial._trial_id, key, generation)
        return generation

    def get_population(self, study: Study, generation: int) -> list[FrozenTrial]:
        key = self._get_generation_key()
        return [t for t in population_trials(study) if t.system_attrs.get(key) == generation]

    def get_parent_population(self, study: Study, generation: int) -> list[FrozenTrial]:
        return [_as_complete(t) if t.state == TrialState.PRUNED else t
                for t in super().get_parent_population(study, generation)]


class NSGAIISampler(KeepStopped, optuna.samplers.NSGAIISampler):
    """Optuna's NSGA-II, keeping stopped trials in its populations."""


class NSGAIIISampler(KeepStopped, optuna.samplers.NSGAIIISampler):
    """Optuna's NSGA-III, keeping stopped trials in its populations."""


#: ``factory(seed, population_size) -> sampler``; ``population_size`` is the GA's generation
#: size, and the number of random startup trials of the model-based samplers.
SamplerFactory = Callable[[int | None, int], optuna.samplers.BaseSampler]

#: Sampler name -> :data:`SamplerFactory`.
SAMPLERS: Registry[SamplerFactory] = Registry("sampler", "sampler.name")
#: ``@register_sampler("mine")`` above ``def mine(seed, population_size) -> sampler``.
register_sampler = SAMPLERS.register
#: The registered sampler names, sorted.
list_samplers = SAMPLERS.names


@register_sampler("nsga2")
def _nsga2(seed: int | None, population_size: int) -> optuna.samplers.BaseSampler:
    return NSGAIISampler(seed=seed, population_size=population_size)


@register_sampler("nsga3")
def _nsga3(seed: int | None, population_size: int) -> optuna.samplers.BaseSampler:
    return NSGAIIISampler(seed=seed, population_size=population_size)


@register_sampler("tpe")
def _tpe(seed: int | None, population_size: int) -> optuna.samplers.BaseSampler:
    return optuna.samplers.TPESampler(seed=seed, n_startup_trials=population_size,
                                      multivariate=True)


@register_sampler("gp")
def _gp(seed: int | None, population_size: int) -> optuna.samplers.BaseSampler:
    return optuna.samplers.GPSampler(seed=seed, n_startup_trials=population_size)


@register_sampler("random")
def _random(seed: int | None, population_size: int) -> optuna.samplers.BaseSampler:
    return optuna.samplers.RandomSampler(seed=seed)


def make_sampler(name: str, seed: int | None, population_size: int) -> optuna.samplers.BaseSampler:
    """The sampler registered as ``name``."""
    try:
        factory = SAMPLERS[name]
    except ValueError as err:
        raise FrontierError(str(err)) from None
    return factory(seed, population_size)
