"""Our GA samplers keep trials stopped early in their generations and populations."""

from __future__ import annotations

import optuna
import pytest
from optuna.trial import TrialState

from search.errors import FrontierError
from search.keys import STOPPED_VALUES_ATTR
from search.samplers import make_sampler, population_trials

KEY = "NSGAIISampler:generation"


def _study(stopped_values: bool, n: int = 24) -> optuna.Study:
    study = optuna.create_study(directions=["maximize", "minimize"],
                                sampler=make_sampler("nsga2", 0, 4))

    def objective(trial: optuna.Trial) -> tuple[float, float]:
        x = trial.suggest_float("x", 0, 1)
        y = trial.suggest_int("y", 1, 100)
        if trial.number % 3 == 1:  # every third trial is stopped early, with poor values
            if stopped_values:
                trial.set_user_attr(STOPPED_VALUES_ATTR, [x / 10, y])
            raise optuna.TrialPruned()
        return x, y

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study.optimize(objective, n_trials=n)
    return study


def test_stopped_trials_fill_generations_with_their_stopped_values() -> None:
    study = _study(stopped_values=True)
    # Generations of 4 trials, stopped ones included (Optuna's would wait for 4 COMPLETE).
    assert [t.system_attrs[KEY] for t in study.trials] == [i // 4 for i in range(24)]
    kept = population_trials(study)
    assert len(kept) == 24 and all(t.state == TrialState.COMPLETE for t in kept)
    stopped = [t for t in kept if t.number % 3 == 1]
    assert all(t.values == [t.params["x"] / 10, t.params["y"]] for t in stopped)
    # The stored trials themselves stay stopped (Optuna's PRUNED), without values.
    assert all(t.state == TrialState.PRUNED and t.values is None
               for t in study.get_trials(states=(TrialState.PRUNED,)))
    # Parent populations, cached in the study by trial id, come back with the stopped values.
    sampler = study.sampler
    assert isinstance(sampler, optuna.samplers.NSGAIISampler)
    for generation in range(1, 6):
        parents = sampler.get_parent_population(study, generation)
        assert len(parents) == 4
        assert all(p.state == TrialState.COMPLETE and p.values is not None for p in parents)


def test_stopped_trials_without_stopped_values_are_left_out() -> None:
    study = _study(stopped_values=False)
    assert len(population_trials(study)) == 16
    gens = [t.system_attrs[KEY] for t in study.trials if t.state == TrialState.COMPLETE]
    assert gens == [i // 4 for i in range(16)]  # Optuna's own rule: 4 COMPLETE a generation


def test_unknown_sampler_names_the_field() -> None:
    with pytest.raises(FrontierError, match=r"sampler\.name: unknown sampler 'cmaes'"):
        make_sampler("cmaes", 0, 4)
