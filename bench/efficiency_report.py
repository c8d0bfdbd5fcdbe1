"""Records and figures of bench/search_efficiency.py: what each search finished and when, the
hypervolume, the time a search first reached a target hypervolume, the best test accuracy on a
front under a parameter cap, and the per-seed and summary lines the bench prints.

Every search hands back a History: one Record per finished candidate, in the order they
finished, so that all figures of a search come from the same records.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import optuna
from optuna.trial import FrozenTrial, TrialState

from objectives.pipeline import Budget
from search.early_stop import EarlyStopping, ParetoStopper
from search.keys import CURVE_ATTR, METRICS_ATTR
from search.results.pareto import hv_point, points_hypervolume

#: Parameter caps of the "best test accuracy on the front" figures.
CAPS = (1_000, 2_600)
#: Shares of the budget at which the hypervolume of each search is printed.
QUARTERS = (0.25, 0.5, 0.75)


class Record(NamedTuple):
    """One finished candidate of a search."""

    time: float  # seconds since the search started
    point: tuple[float, float]  # (1 - val accuracy, log10 size in bits), see hv_point
    test_accuracy: float
    params: int  # nonzero parameters (objectives.metrics.nonzero_params)


History = list[Record]


class Outcome(NamedTuple):
    """What one search of one seed gave: its History, its Optuna trials (Frontier's; None for
    a search that has none to replay) and when it reached the reference search's final
    hypervolume (seconds; None: never, or it is the reference)."""

    history: History
    trials: list[FrozenTrial] | None
    reach: float | None


def record(at: float, val_accuracy: float, size_bytes: float, test_accuracy: float,
           params: int) -> Record:
    return Record(at, hv_point(val_accuracy, size_bytes), test_accuracy, int(params))


def from_trials(trials: list[FrozenTrial], stamps: dict[int, float], budget_s: float
                ) -> History:
    """The History of a Frontier study: its COMPLETE trials finished within ``budget_s``
    (``stamps``: trial number -> seconds since the start), metrics from ``user_attrs``."""
    out = []
    for t in trials:
        if t.state == TrialState.COMPLETE and stamps.get(t.number, budget_s + 1) <= budget_s:
            m = t.user_attrs[METRICS_ATTR]
            out.append(record(stamps[t.number], m["val_accuracy"], m["size_bytes"],
                              m["test_accuracy"], m["params"]))
    return sorted(out)


def final_hv(history: History) -> float:
    return points_hypervolume([r.point for r in history])


def hv_at(history: History, seconds: float) -> float:
    """Hypervolume of the records finished within ``seconds`` of the start."""
    return points_hypervolume([r.point for r in history if r.time <= seconds])


def curve_line(history: History, budget_s: float) -> str:
    """The hypervolume at a quarter, half and three quarters of the budget."""
    return " / ".join(f"{hv_at(history, q * budget_s):.4f}" for q in QUARTERS)


def first_reach(history: History, target: float) -> float | None:
    points: list[tuple[float, float]] = []
    for r in history:
        points.append(r.point)
        if points_hypervolume(points) >= target:
            return r.time
    return None


def front(history: History) -> History:
    """The records no other record dominates in (val accuracy, size), both of its hv point."""
    return [r for r in history if not any(
        o.point[0] <= r.point[0] and o.point[1] <= r.point[1] and o.point != r.point
        for o in history)]


def best_test(history: History, cap: int) -> float | None:
    """Best test accuracy among the front's candidates of at most ``cap`` nonzero params."""
    accs = [r.test_accuracy for r in front(history) if r.params <= cap]
    return max(accs) if accs else None


def best_line(history: History) -> str:
    figures = [best_test(history, cap) for cap in CAPS]
    return ", ".join(f"{'-' if a is None else f'{a:.3f}'} at <= {cap:,} params"
                     for a, cap in zip(figures, CAPS, strict=True))


def fine_tuning(trials: list[FrozenTrial], budget: Budget) -> str:
    """How many fine-tune phases the finished trials ran and skipped (Budget.skip_finetune)."""
    done = [t for t in trials if t.state == TrialState.COMPLETE]
    epochs = [t.user_attrs[METRICS_ATTR]["epochs_run"] for t in done]
    full = [budget.epochs + budget.finetune_epochs * (t.params["prune_ratio"] > 0)
            + budget.qat_epochs * (t.params["bits"] < 32) for t in done]
    trained = budget.epochs
    none = sum(e == trained < f for e, f in zip(epochs, full, strict=True))
    some = sum(trained < e < f for e, f in zip(epochs, full, strict=True))
    return (f"fine-tuning skipped entirely in {none} and in part in {some} of {len(done)} "
            f"finished trials; {sum(epochs) / max(1, len(done)):.1f} epochs per trial against "
            f"{sum(full) / max(1, len(done)):.1f} if every phase ran")


def replay(trials: list[FrozenTrial], budget: Budget) -> tuple[int, int, int, float]:
    """Would the rule have stopped any trial of a study run without early stopping that ended
    on its final front? Each trial is checked against the trials finished before it, with its
    final sizes standing in for the projection. Returns (would stop, front size, front stopped,
    fraction of the study's epochs the stops would have saved).
    """
    done = sorted((t for t in trials if t.state == TrialState.COMPLETE),
                  key=lambda t: t.datetime_complete)  # type: ignore[arg-type, return-value]
    objectives = ("val_accuracy", "size_bytes")
    pareto = {t.number for t in optuna.study._multi_objective._get_pareto_front_trials_by_trials(
        done, [optuna.study.StudyDirection.MAXIMIZE, optuna.study.StudyDirection.MINIMIZE])}
    stopped = set()
    total = saved = 0
    for i, t in enumerate(done):
        epochs = t.user_attrs[METRICS_ATTR]["epochs_run"]  # fine-tune phases may be skipped
        total += epochs
        stopper = ParetoStopper(EarlyStopping(), objectives, done[:i])
        projected = {"size_bytes": t.user_attrs[METRICS_ATTR]["size_bytes"]}
        for point, acc in t.user_attrs[CURVE_ATTR].items():
            if point != "final" and stopper.check(point, acc, projected):
                stopped.add(t.number)
                phase, epoch = point.split(":")
                saved += epochs - int(epoch) - (budget.epochs if phase == "prune" else 0)
                break
    return len(stopped), len(pareto), len(stopped & pareto), saved / max(1, total)


def trial_count(outcome: Outcome) -> str:
    if outcome.trials is None:
        return f"{len(outcome.history)} trials"
    stopped = sum(t.state == TrialState.PRUNED for t in outcome.trials)
    return f"{len(outcome.history)} complete + {stopped} stopped early"


def share(seconds: float | None, budget_s: float) -> str:
    return "never" if seconds is None else f"{seconds / budget_s:.0%}"


def summary(names: dict[str, str], runs: dict[str, list[Outcome]], seeds: Sequence[int],
            budget_s: float, reference: str, targets: dict[str, float],
            ceiling_hv: float) -> None:
    """The lines over all seeds: per search its trials, hypervolume, time to reach the
    reference search's final hypervolume and best test accuracies, then for each search of
    ``targets`` on how many seeds it reached it within that share of the budget."""
    def per_seed(values: list[str]) -> str:
        return " / ".join(values)

    print(f"efficiency: summary over seeds {per_seed([str(s) for s in seeds])}, "
          f"{budget_s / 60:g} min per search (ceiling of the space: HV {ceiling_hv:.4f})")
    ref_hv = [final_hv(o.history) for o in runs[reference]]
    for key, outcomes in runs.items():
        hv = [final_hv(o.history) for o in outcomes]
        counts = per_seed([trial_count(o) for o in outcomes])
        line = (f"efficiency:   ({key}) {names[key]}: {counts}; "
                f"HV {per_seed([f'{h:.4f}' for h in hv])}")
        if key != reference:
            ratios = per_seed([f"{h / r:.3f}" if r else "-" for h, r in zip(hv, ref_hv,
                                                                           strict=True)])
            line += (f" (x{ratios} of ({reference})); share of the budget at which it reached "
                     f"({reference})'s final HV: "
                     f"{per_seed([share(o.reach, budget_s) for o in outcomes])}")
        print(line)
        print(f"efficiency:       HV at 50% of the budget: "
              f"{per_seed([f'{hv_at(o.history, budget_s / 2):.4f}' for o in outcomes])}")
        for cap in CAPS:
            accs = [best_test(o.history, cap) for o in outcomes]
            print(f"efficiency:       best test accuracy on its front at <= {cap:,} params: "
                  f"{per_seed(['-' if a is None else f'{a:.3f}' for a in accs])}")
    for target, most in targets.items():
        if target not in runs:
            continue
        met = sum(o.reach is not None and o.reach <= most * budget_s for o in runs[target])
        print(f"efficiency: ({target}) reached ({reference})'s final HV in <= {most:.0%} of the "
              f"budget on {met} of {len(seeds)} seeds (target: all)")


def run_processes(target: Callable[..., None], args: Sequence[tuple[Any, ...]],
                  what: str) -> None:
    """One spawned process per ``args`` (spawn, not fork: the caller has started torch's
    thread pools), all started, then all joined; RuntimeError naming ``what`` if one failed
    (a search that lost a worker would otherwise report fewer trials)."""
    context = multiprocessing.get_context("spawn")
    procs = [context.Process(target=target, args=a) for a in args]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    if any(p.exitcode for p in procs):
        raise RuntimeError(f"a {what} worker process failed: exit codes "
                           f"{[p.exitcode for p in procs]}")
