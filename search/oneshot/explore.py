"""Exploring sub-networks of the supernet, and choosing which ones the study fine-tunes.

The exploration is a study of its own in the same storage, ``<study>:supernet``: the study's
sampler (with ``[oneshot] population_size``) draws ``[oneshot] candidates`` Specs, and each is
*estimated*: its weights are sliced from the supernet, its batch-norm statistics recalibrated
on ``[oneshot] calibration`` training inputs, and it is pruned, quantized and measured exactly
as a trial measures (``objectives.pipeline.evaluate`` with no training epochs). The estimates
run in memory and are stored in one go at the end (a storage round trip per candidate would
cost more than the estimate).

The study's trials are then the best distinct candidates by non-dominated sorting of their
estimates (the first front, then the next, ...): enqueued once with their parameters, their
estimates stored on them as ``supernet`` (``objectives`` and every metric), in the order that
grows the hypervolume of the estimates fastest (:func:`hv_order`), so that a study stopped
early (a timeout, a budget) has fine-tuned the candidates that span the front first.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable

import optuna
import torch
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial, TrialState

from objectives.data import TensorData
from objectives.oneshot import SuperCNN
from objectives.pipeline import evaluate
from search.config import StudyConfig
from search.keys import ENQUEUED_ATTR, ESTIMATE_ATTR, METRICS_ATTR, SECONDS_ATTR, SPEC_ATTR
from search.results.pareto import hv_point, points_hypervolume
from search.samplers import make_sampler
from spaces.cnn import CNNSpace
from spaces.space import spec_json

__all__ = ["EXPLORE_SUFFIX", "choose", "explore", "hv_order"]

EXPLORE_SUFFIX = ":supernet"


def explore(study: optuna.Study, cfg: StudyConfig, space: CNNSpace, data: TensorData,
            net: SuperCNN, calibration: torch.Tensor,
            log: Callable[[str], None]) -> list[FrozenTrial]:
    """The complete estimates of ``<study>:supernet``, exploring until it holds
    ``[oneshot] candidates`` of them (a resumed study continues where it stopped); batch norm
    is recalibrated on ``calibration`` (training inputs on the data's device)."""
    explored = optuna.create_study(study_name=study.study_name + EXPLORE_SUFFIX,
                                   storage=study._storage, directions=study.directions,
                                   load_if_exists=True)
    done = explored.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    todo = cfg.oneshot.candidates - len(done)
    if todo <= 0:
        return list(done)
    sampler = make_sampler(cfg.sampler.name, cfg.seed + len(done),
                           cfg.oneshot.population_size)
    memory = optuna.create_study(directions=study.directions, sampler=sampler)
    memory.add_trials(done)
    zero = dataclasses.replace(cfg.budget, epochs=0, finetune_epochs=0, qat_epochs=0,
                               latency_reps=cfg.budget.latency_reps
                               if "latency_ms" in cfg.objectives else 0)
    log(f"oneshot: estimating {todo} candidates on the supernet")
    start = time.perf_counter()

    def objective(trial: optuna.Trial) -> tuple[float, ...]:
        spec = space.sample(trial)
        began = time.perf_counter()
        measured, _ = evaluate(space, spec, data, zero, seed=cfg.seed,
                               init=net.inherit(spec, calibration))
        trial.set_user_attr(SECONDS_ATTR, time.perf_counter() - began)
        trial.set_user_attr(SPEC_ATTR, spec_json(space, spec))
        metrics = measured.as_dict()
        trial.set_user_attr(METRICS_ATTR, metrics)
        return tuple(float(metrics[name]) for name in cfg.objectives)

    memory.optimize(objective, n_trials=todo)
    new = memory.get_trials(deepcopy=False)[len(done):]
    explored.add_trials(new)
    seconds = time.perf_counter() - start
    log(f"oneshot: {todo} candidates estimated in {seconds:.1f} s "
        f"({1000 * seconds / max(1, todo):.0f} ms each)")
    return explored.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))


def _dominates(a: list[float], b: list[float], signs: list[float]) -> bool:
    better = [x * s >= y * s for x, y, s in zip(a, b, signs, strict=True)]
    return all(better) and any(x != y for x, y in zip(a, b, strict=True))


def choose(trials: list[FrozenTrial], directions: list[StudyDirection],
           count: int) -> list[FrozenTrial]:
    """The ``count`` best distinct candidates (by parameters): the non-dominated ones first,
    then the next front, ...; within a front in the order of their first objective."""
    signs = [1.0 if d == StudyDirection.MAXIMIZE else -1.0 for d in directions]
    distinct: dict[str, FrozenTrial] = {}
    for t in trials:
        distinct.setdefault(repr(sorted(t.params.items())), t)
    left, out = list(distinct.values()), list[FrozenTrial]()
    while left and len(out) < count:
        front = [t for t in left if not any(_dominates(u.values, t.values, signs)
                                            for u in left if u is not t)]
        front.sort(key=lambda t: (-signs[0] * t.values[0], t.number))
        out.extend(front[:count - len(out)])
        left = [t for t in left if t not in front]
    return out


def hv_order(trials: list[FrozenTrial]) -> list[FrozenTrial]:
    """``trials`` reordered so that the hypervolume of their estimates (Frontier's: validation
    accuracy against log size, :func:`search.results.pareto.hv_point`) grows fastest: greedily
    the candidate adding the most to those before it; those adding nothing (dominated, or
    outside the reference box) follow in their given order."""
    points = {}
    for t in trials:
        m = t.user_attrs.get(METRICS_ATTR, {})
        if m.get("size_bytes", 0) > 0 and "val_accuracy" in m:
            points[t.number] = hv_point(m["val_accuracy"], m["size_bytes"])
    # a point another one dominates (or equals) never adds anything: leave those out of the loop
    left = [t for t in trials if t.number in points and not any(
        q != points[t.number] and q[0] <= points[t.number][0] and q[1] <= points[t.number][1]
        for q in points.values())]
    first: list[FrozenTrial] = []
    taken: list[tuple[float, float]] = []
    volume = 0.0
    while left:
        gains = [points_hypervolume([*taken, points[t.number]]) - volume for t in left]
        best = max(range(len(left)), key=gains.__getitem__)
        if gains[best] <= 0:
            break
        first.append(left.pop(best))
        taken.append(points[first[-1].number])
        volume += gains[best]
    done = {t.number for t in first}
    return first + [t for t in trials if t.number not in done]


def enqueue_chosen(study: optuna.Study, cfg: StudyConfig, trials: list[FrozenTrial],
                   log: Callable[[str], None]) -> None:
    """Enqueue the chosen candidates as the study's trials, once per study."""
    if ENQUEUED_ATTR in study.user_attrs:
        return
    chosen = hv_order(choose(trials, study.directions, cfg.n_trials))
    for t in chosen:
        estimate = {"objectives": dict(zip(cfg.objectives, t.values, strict=True)),
                    **t.user_attrs.get(METRICS_ATTR, {})}
        study.enqueue_trial(t.params, user_attrs={ESTIMATE_ATTR: estimate},
                            skip_if_exists=True)
    study.set_user_attr(ENQUEUED_ATTR, len(chosen))
    log(f"oneshot: {len(chosen)} candidates chosen from {len(trials)} estimates; fine-tuning "
        "them from their inherited weights")
