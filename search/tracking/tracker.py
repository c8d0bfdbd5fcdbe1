"""The :class:`TrialLogger` protocol, and :class:`Tracker`: one object the objective and the
optimize loop call, fanning each event out to the enabled loggers.

Logging never fails a trial: every logger call is guarded; the first error of a logger is
reported once on stderr (``frontier: warning: tensorboard logging failed: ...; the search goes
on``) and that logger is turned off for the rest of the process."""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from typing import Any, Protocol

import optuna
from optuna.trial import TrialState

from search.errors import describe
from search.tracking.settings import Logging

__all__ = ["Tracker", "TrialLogger", "make_tracker", "plain_params"]


class TrialLogger(Protocol):
    """What a tracker backend implements. ``step`` counts epochs across a trial's phases."""

    name: str

    def trial_start(self, trial: int, params: dict[str, Any]) -> None:
        """A trial sampled its parameters and starts training."""

    def epoch(self, trial: int, phase: str, step: int, values: dict[str, float]) -> None:
        """One epoch of ``phase`` ("train", "prune", "qat"): loss, lr, epoch_seconds and
        val_accuracy."""

    def trial_end(self, trial: int, state: str, params: dict[str, Any],
                  metrics: dict[str, float], stop_reason: str | None) -> None:
        """The trial ended: ``state`` COMPLETE, STOPPED or FAIL; ``metrics`` its final
        metrics (empty unless COMPLETE); ``stop_reason`` why early stopping ended it (or why
        it failed)."""

    def study_update(self, finished: int, hypervolume: float, front_size: int) -> None:
        """After a finished trial: the study's hypervolume and front size at ``finished``."""

    def close(self) -> None:
        """Flush and release files; the process stops logging."""


def plain_params(params: dict[str, Any]) -> dict[str, bool | int | float | str]:
    """Trial parameters as the scalar types trackers store (anything else as its repr)."""
    return {k: v if isinstance(v, bool | int | float | str) else repr(v)
            for k, v in params.items()}


def finite(metrics: dict[str, Any]) -> dict[str, float]:
    """The numeric, finite entries of ``metrics`` as floats (e.g. no NaN latency)."""
    out = {}
    for k, v in metrics.items():
        if isinstance(v, bool | int | float) and math.isfinite(float(v)):
            out[k] = float(v)
    return out


class Tracker:
    """The enabled loggers of this process, each guarded (see the module docstring)."""

    def __init__(self, loggers: list[TrialLogger] | None = None) -> None:
        self.loggers: list[TrialLogger] = list(loggers or [])

    @property
    def enabled(self) -> bool:
        """Whether any logger is still on (the objective then scores every epoch)."""
        return bool(self.loggers)

    def _each(self, call: Callable[[TrialLogger], None]) -> None:
        for logger in list(self.loggers):
            try:
                call(logger)
            except Exception as err:  # logging never fails a trial
                self.loggers.remove(logger)
                print(f"frontier: warning: {logger.name} logging failed: "
                      f"{describe(err)}; the search goes on", file=sys.stderr)

    def trial_start(self, trial: int, params: dict[str, Any]) -> None:
        """See :meth:`TrialLogger.trial_start`."""
        self._each(lambda lg: lg.trial_start(trial, plain_params(params)))

    def epoch(self, trial: int, phase: str, step: int, values: dict[str, float]) -> None:
        """See :meth:`TrialLogger.epoch`."""
        self._each(lambda lg: lg.epoch(trial, phase, step, finite(values)))

    def trial_end(self, trial: int, state: str, params: dict[str, Any],
                  metrics: dict[str, Any], stop_reason: str | None) -> None:
        """See :meth:`TrialLogger.trial_end`."""
        self._each(lambda lg: lg.trial_end(trial, state, plain_params(params), finite(metrics),
                                           stop_reason))

    def study_update(self, study: optuna.Study) -> None:
        """Hypervolume of ``study``'s COMPLETE trials and its front size (feasible
        non-dominated trials, as exported) at the number of finished trials, read from the
        storage after a trial of this process ended; computed only when a logger is on."""
        if not self.enabled:
            return
        from search.results.pareto import hypervolume  # pareto imports the objective

        seen: list[tuple[int, float, int]] = []  # read once, for every logger

        def update(lg: TrialLogger) -> None:
            if not seen:
                trials = study.get_trials(deepcopy=False)
                done = sum(t.state in (TrialState.COMPLETE, TrialState.PRUNED) for t in trials)
                seen.append((done, hypervolume(trials), len(study.best_trials)))
            lg.study_update(*seen[0])

        self._each(update)

    def close(self) -> None:
        """Close every logger (guarded as well)."""
        self._each(lambda lg: lg.close())
        self.loggers = []


def make_tracker(settings: Logging, study: optuna.Study, worker: str) -> Tracker:
    """The loggers ``settings`` turns on for this process (``worker``: its id, naming its
    study-level TensorBoard folder). A logger that cannot start (e.g. its package is not
    installed) is reported as in :class:`Tracker` and left out."""
    tracker = Tracker()
    makers: list[tuple[str, Callable[[], TrialLogger]]] = []
    if settings.tensorboard:
        from search.tracking.tensorboard import TensorBoardLogger

        makers.append(("tensorboard", lambda: TensorBoardLogger(
            settings.tensorboard, study.study_name, worker)))
    if settings.mlflow:
        from search.tracking.mlflow import MlflowLogger

        makers.append(("mlflow", lambda: MlflowLogger(settings.mlflow, study)))
    for name, make in makers:
        try:
            tracker.loggers.append(make())
        except Exception as err:
            print(f"frontier: warning: {name} logging failed: {describe(err)}; "
                  "the search goes on", file=sys.stderr)
    return tracker
