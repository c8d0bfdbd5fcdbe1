"""How a running study reports itself: progress bars, nothing, or JSON lines for scripts.

``bar``   a bar over the study's finished trials (front size, last state) and, below it, a bar
          over the current trial's epochs; failures are printed above the bars (stderr).
``quiet`` nothing while running.
``jsonl`` one JSON object per line on stdout: ``start``, ``epoch``, ``trial`` and ``done``
          events, for scripts and log collectors.

The mode is chosen here (:func:`log_mode`: ``--log``, else ``bar``, or ``quiet`` without
progress), and so is what each mode prints outside the trials (:func:`phase_printer`).
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from typing import Any, Protocol, TextIO

import optuna
from optuna.trial import FrozenTrial, TrialState
from tqdm import tqdm

from search.early_stop import state_name
from search.keys import FAIL_REASON, METRICS_ATTR, STOP_REASON

__all__ = ["DEFAULT_LOG", "LOG_MODES", "Reporter", "log_mode", "make_reporter", "phase_printer"]

LOG_MODES = ("bar", "quiet", "jsonl")
#: The mode of ``--log`` when none is given.
DEFAULT_LOG = "bar"


def log_mode(log: str | None = None, progress: bool = True) -> str:
    """The mode a run reports in: ``log`` when given, else :data:`DEFAULT_LOG`, or ``quiet``
    when ``progress`` is False."""
    return log or (DEFAULT_LOG if progress else "quiet")


def phase_printer(mode: str, event: str = "oneshot") -> Callable[[str], None]:
    """How a run in ``mode`` prints a message outside its trials (e.g. the one-shot phase):
    to stderr for bars, as a JSON ``event`` event for JSON lines, not at all when quiet."""
    if mode == "quiet":
        return lambda _: None
    if mode == "jsonl":
        return lambda text: print(json.dumps({"event": event, "message": text}), flush=True)
    return lambda text: print(text, file=sys.stderr, flush=True)


class Reporter(Protocol):
    """Receives the events of a run."""

    def start(self, study: optuna.Study, finished: int, target: int) -> None: ...

    def epoch(self, trial: int, phase: str, epoch: int, done: int, total: int) -> None: ...

    def trial(self, study: optuna.Study, trial: FrozenTrial, finished: int) -> None: ...

    def close(self, finished: int) -> None: ...


class _Quiet:
    def start(self, study: optuna.Study, finished: int, target: int) -> None:
        pass

    def epoch(self, trial: int, phase: str, epoch: int, done: int, total: int) -> None:
        pass

    def trial(self, study: optuna.Study, trial: FrozenTrial, finished: int) -> None:
        pass

    def close(self, finished: int) -> None:
        pass


def _reason(trial: FrozenTrial) -> str:
    return str(trial.user_attrs.get(FAIL_REASON) or trial.user_attrs.get(STOP_REASON) or "")


class _Bars:
    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.trials: tqdm[Any] | None = None
        self.epochs: tqdm[Any] | None = None

    def start(self, study: optuna.Study, finished: int, target: int) -> None:
        self.target = target
        self.trials = tqdm(total=target, initial=finished, unit="trial", desc=study.study_name,
                           file=self.stream, dynamic_ncols=True, position=0)

    def epoch(self, trial: int, phase: str, epoch: int, done: int, total: int) -> None:
        if self.epochs is None:
            self.epochs = tqdm(total=total, unit="epoch", file=self.stream, leave=False,
                               dynamic_ncols=True, position=1)
        self.epochs.set_description(f"trial {trial} {phase}", refresh=False)
        self.epochs.total = total
        self.epochs.n = done
        self.epochs.refresh()

    def trial(self, study: optuna.Study, trial: FrozenTrial, finished: int) -> None:
        if self.epochs is not None:
            self.epochs.close()
            self.epochs = None
        assert self.trials is not None
        if trial.state != TrialState.COMPLETE:
            self.trials.write(f"trial {trial.number} {state_name(trial.state).lower()}: "
                              f"{_reason(trial)}")
        self.trials.n = min(self.target, finished)
        self.trials.set_postfix(front=len(study.best_trials), last=state_name(trial.state).lower(),
                                refresh=False)
        self.trials.refresh()

    def close(self, finished: int) -> None:
        if self.epochs is not None:
            self.epochs.close()
        if self.trials is not None:
            self.trials.n = min(self.target, finished)
            self.trials.close()


class _JsonLines:
    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def _emit(self, event: str, **fields: Any) -> None:
        record = {"event": event, "time": round(time.time(), 3), **fields}
        self.stream.write(json.dumps(record, default=str) + "\n")
        self.stream.flush()

    def start(self, study: optuna.Study, finished: int, target: int) -> None:
        self.study = study.study_name
        self._emit("start", study=self.study, finished=finished, target=target)

    def epoch(self, trial: int, phase: str, epoch: int, done: int, total: int) -> None:
        self._emit("epoch", study=self.study, trial=trial, phase=phase, epoch=epoch,
                   done=done, total=total)

    def trial(self, study: optuna.Study, trial: FrozenTrial, finished: int) -> None:
        self._emit("trial", study=self.study, trial=trial.number,
                   state=state_name(trial.state).lower(), values=trial.values, params=trial.params,
                   metrics=trial.user_attrs.get(METRICS_ATTR), reason=_reason(trial) or None,
                   finished=finished, front=len(study.best_trials))

    def close(self, finished: int) -> None:
        self._emit("done", study=self.study, finished=finished)


def make_reporter(mode: str, stream: TextIO | None = None) -> Reporter:
    """The reporter for ``mode`` (one of LOG_MODES)."""
    if mode == "bar":
        return _Bars(stream or sys.stderr)
    if mode == "quiet":
        return _Quiet()
    if mode == "jsonl":
        return _JsonLines(stream or sys.stdout)
    raise ValueError(f"--log: unknown mode {mode!r}; choose from {LOG_MODES}")
