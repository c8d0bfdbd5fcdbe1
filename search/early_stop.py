"""Pareto-aware early stopping for multi-objective studies (Optuna's pruners are single-objective).

The rule: at a checkpoint (every ``eval_every`` training epochs, after the first and the last
epoch of the pruning fine-tune) a candidate's validation accuracy is extrapolated
optimistically, by the smaller of two bounds learnt from the finished trials' curves:

* the *gain* bound: it gains as much as the most any finished trial gained from that same
  checkpoint to its final value;
* the *envelope* bound: it ends no higher than the best final accuracy of the finished trials
  that were no better than it at that checkpoint (within ``envelope_width``); used once
  ``min_completed`` such trials exist.

``accuracy_margin`` is then added, for a candidate that learns late better than any trial
before it. Its size
objectives are projected by compressing a copy of the current weights (prune to the sampled
ratio, quantize to the sampled bits) and lowered by ``size_slack`` for what fine-tuning may
still zero. If a finished, feasible trial is at least as good on every objective as that
optimistic projection (and better on one), the candidate cannot reach the front: it is stopped
(Optuna's state PRUNED, which Frontier shows as STOPPED: :func:`state_name`) with the checkpoint
and the dominating trial stored as its reason.

Nothing is stopped before ``min_completed`` finished trials have recorded the checkpoint.
Latency has no projection before training ends, so a study with latency as an objective never
stops a trial on it.
"""

from __future__ import annotations

from dataclasses import dataclass

from optuna.trial import FrozenTrial, TrialState

from search.keys import CURVE_ATTR, METRICS_ATTR

__all__ = ["EarlyStopping", "ParetoStopper", "checkpoint_epochs", "state_name"]


def state_name(state: TrialState) -> str:
    """A trial's state as Frontier shows it (tables, ``ls``, progress, report): Optuna's name,
    except that an early-stopped trial (Optuna's ``PRUNED``) is ``STOPPED``; "pruned" is kept
    for zeroed weights."""
    return "STOPPED" if state == TrialState.PRUNED else state.name


@dataclass(frozen=True)
class EarlyStopping:
    """``[early_stopping]`` of a study: on by default."""

    enabled: bool = True
    record_curves: bool = True
    min_completed: int = 8
    eval_every: int = 0
    size_slack: float = 0.2
    accuracy_margin: float = 0.02
    envelope_width: float = 0.01


def checkpoint_epochs(epochs: int, eval_every: int) -> set[int]:
    """Training epochs at which the curve is recorded (``eval_every`` 0: quarters)."""
    every = eval_every or max(1, epochs // 4)
    return {e for e in range(every, epochs + 1, every)} | {epochs}


@dataclass(frozen=True)
class _Finished:
    number: int
    values: dict[str, float]
    curve: dict[str, float]


class ParetoStopper:
    """Decides, from a study's finished trials, whether a running candidate can still reach the
    front. Build one per trial (it reads the finished trials once)."""

    def __init__(self, cfg: EarlyStopping, objectives: tuple[str, ...],
                 trials: list[FrozenTrial]) -> None:
        self.cfg = cfg
        self.objectives = objectives
        self.finished = [
            _Finished(t.number, dict(t.user_attrs[METRICS_ATTR]), dict(t.user_attrs[CURVE_ATTR]))
            for t in trials
            if t.state == TrialState.COMPLETE and CURVE_ATTR in t.user_attrs
            and METRICS_ATTR in t.user_attrs and all(c <= 0 for c in t.constraints.values())
        ]

    def ready(self, point: str) -> bool:
        """Whether enough finished trials reached ``point`` for :meth:`check` to decide (so a
        candidate's sizes need not be projected before then)."""
        return self.cfg.enabled and sum(point in f.curve for f in self.finished) >= \
            self.cfg.min_completed

    def check(self, point: str, accuracy: float, projected: dict[str, float]) -> str | None:
        """A reason to stop the candidate at checkpoint ``point``, or None to go on.

        ``projected`` maps minimised objectives (params, size_bytes, macs) to the candidate's
        projected final values.
        """
        if not self.ready(point):
            return None
        reached = [f for f in self.finished if point in f.curve]
        gain = max(f.values["val_accuracy"] - f.curve[point] for f in reached)
        best, how = accuracy + gain, f"largest gain of {len(reached)} finished trials"
        below = [f.values["val_accuracy"] for f in reached
                 if f.curve[point] <= accuracy + self.cfg.envelope_width]
        if len(below) >= self.cfg.min_completed and max(below) < best:
            best = max(below)
            how = f"best final of the {len(below)} finished trials no better here"
        margin = self.cfg.accuracy_margin
        best_case = {"val_accuracy": min(1.0, best + margin)}
        for name in self.objectives:
            if name == "val_accuracy":
                continue
            if name not in projected:
                return None  # no projection (latency): never stop on it
            slack = self.cfg.size_slack if name in ("params", "size_bytes") else 0.0
            best_case[name] = projected[name] * (1.0 - slack)
        for f in self.finished:
            if _dominates(f.values, best_case, self.objectives):
                return (f"{point}: val accuracy {accuracy:.3f} reaches at best "
                        f"{best_case['val_accuracy']:.3f} ({how} + margin {margin:g}), and trial "
                        f"{f.number} already has "
                        + ", ".join(f"{n} {f.values[n]:.4g}" for n in self.objectives)
                        + " against at best "
                        + ", ".join(f"{n} {best_case[n]:.4g}" for n in self.objectives))
        return None


def _dominates(a: dict[str, float], b: dict[str, float], objectives: tuple[str, ...]) -> bool:
    better = False
    for name in objectives:
        x, y = (a[name], b[name]) if name != "val_accuracy" else (-a[name], -b[name])
        if x > y:
            return False
        better = better or x < y
    return better
