"""The sensitivity table and the warm start of a compress-mode study (``docs/compress.md``).

:func:`space_units` lists the units the study's ``base`` space searches, at values taken from
its own domains; :func:`allocation_params` turns one allocation of
``objectives.sensitivity.allocate`` into the trial parameters of that space (``drop_{i}``,
``prune_ratio_{i}`` = 1 − keep, ``bits_{i}``, each inside its distribution), and
:func:`enqueue_warm_start` enqueues one trial per distinct allocation.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import optuna
import pandas as pd

from objectives.sensitivity import IDENTITY, OBJECTIVES, Unit, units_of
from search.compress_mode.fit import fitted_allocations
from search.keys import WARM_START_ATTR, WARM_START_TRIAL
from spaces.base import BaseSpace
from spaces.domain import Choice, Domain
from spaces.layers import prunable_layers, ratio_targets

__all__ = [
    "BUDGETS",
    "allocation_line",
    "allocation_params",
    "budget_objective",
    "enqueue_warm_start",
    "realise",
    "space_units",
    "summary",
    "warm_allocations",
]

#: The budget factors of the warm start: that many times less cost than the base.
BUDGETS = (1.5, 2.0, 4.0, 8.0)
#: Where inside a prune_ratio Range the width units are tried (low, ¼, ½, ¾, high).
_QUANTILES = (0.0, 0.25, 0.5, 0.75, 1.0)


def _searched(domain: Domain) -> bool:
    """Whether a trial suggests a parameter of ``domain`` (a fixed one is never suggested)."""
    if isinstance(domain, Choice):
        return not domain.fixed
    return domain.low != domain.high


def _keep_values(domain: Domain) -> tuple[float, ...]:
    """Keep ratios (1 − prune ratio) at a few points inside a prune_ratio domain."""
    if isinstance(domain, Choice):
        ratios = [float(r) for r in domain.values]
    else:
        ratios = [domain.low + q * (domain.high - domain.low) for q in _QUANTILES]
    return tuple(sorted({round(1.0 - r, 9) for r in ratios}, reverse=True))


def _bits_values(domain: Domain) -> tuple[int, ...]:
    if isinstance(domain, Choice):
        return tuple(sorted({int(b) for b in domain.values}, reverse=True))
    return tuple(range(int(domain.high), int(domain.low) - 1, -1))


def _width_searched(space: BaseSpace) -> bool:
    k = space.knobs
    methods = k.prune_method.values if isinstance(k.prune_method, Choice) else ()
    return k.per_layer_prune and "structured" in methods and _searched(k.prune_ratio)


def space_units(space: BaseSpace, input_shape: tuple[int, ...]) -> list[Unit]:
    """The units ``space`` searches on its base: width units (channel groups) when it samples
    per-group ratios with structured pruning (``per_layer_prune``, ``prune_method`` holding
    ``"structured"``), at keep ratios inside ``prune_ratio``; bits units (per layer) with
    ``per_layer_bits``, at the ``bits`` choices; depth units (``space.units``) with
    ``drop_blocks``. The identity values (keep 1.0, 32 bits, kept) are added to each unit."""
    k = space.knobs
    ratios = _keep_values(k.prune_ratio) if _width_searched(space) else ()
    bits = _bits_values(k.bits) if k.per_layer_bits and _searched(k.bits) else ()
    return units_of(space.base(), input_shape, ratios=ratios, bits=bits,
                    depth_units=space.units)


def budget_objective(objectives: Sequence[str]) -> str:
    """The cost column budgets are set on: the first of macs, params, size_bytes among the
    study's ``objectives`` (macs when none is)."""
    return next((o for o in objectives if o in OBJECTIVES), "macs")


def _inside(domain: Domain, value: float) -> Any:
    """``value`` as the nearest value of ``domain`` (an identity value outside it, such as
    ratio 0 of ``{low = 0.2, high = 0.6}`` or 32 bits of ``[4, 8]``, becomes the least
    compression the domain allows)."""
    if isinstance(domain, Choice):
        return min(domain.values, key=lambda v: abs(float(v) - value))
    clipped = min(max(value, domain.low), domain.high)
    return round(clipped) if domain.integer else float(clipped)


def realise(space: BaseSpace, choice: Mapping[str, Mapping[str, Any]]
            ) -> dict[str, dict[str, Any]]:
    """``choice`` as a trial of ``space`` runs it: each keep ratio and bit width moved to the
    nearest value its domain allows (``1 − prune_ratio``, ``bits``)."""
    k = space.knobs
    out = {kind: dict(units) for kind, units in choice.items()}
    for name, keep in out.get("width", {}).items():
        out["width"][name] = 1.0 - float(_inside(k.prune_ratio, 1.0 - float(keep)))
    for name, bits in out.get("bits", {}).items():
        out["bits"][name] = int(_inside(k.bits, float(bits)))
    return out


def warm_allocations(space: BaseSpace, table: pd.DataFrame, objective: str,
                     input_shape: tuple[int, ...], budgets: Sequence[float] = BUDGETS
                     ) -> list[dict[str, Any]]:
    """One allocation per budget, as the trials of ``space`` run it (:func:`realise`), solved
    again for a tighter budget while its measured cost misses
    (``search.compress_mode.fit.fitted_allocations``)."""
    return fitted_allocations(space.base(), table, objective, budgets, input_shape,
                              lambda choice: realise(space, choice))


def allocation_params(space: BaseSpace, choice: Mapping[str, Mapping[str, Any]]
                      ) -> dict[str, Any]:
    """The trial parameters of ``space`` for an allocation's ``choice`` (``{kind: {unit:
    value}}``): ``prune_ratio_{i}`` = 1 − keep (``i``: the unit's index among the base's ratio
    targets; ``prune_method = "structured"`` where it is a choice), ``bits_{i}`` (``i``: among its
    prunable layers), ``drop_{i}`` (``i``: among ``space.units``), each inside its domain. Units
    the allocation does not name are left to the sampler."""
    k, params = space.knobs, {}
    model = space.base()
    if choice.get("width"):
        targets = ratio_targets(model)
        for name, keep in choice["width"].items():
            params[f"prune_ratio_{targets.index(name)}"] = _inside(k.prune_ratio,
                                                                   1.0 - float(keep))
        if _searched(k.prune_method):
            params["prune_method"] = "structured"
    if choice.get("bits"):
        layers = list(prunable_layers(model))
        for name, bits in choice["bits"].items():
            params[f"bits_{layers.index(name)}"] = _inside(k.bits, float(bits))
    for i, unit in enumerate(space.units):
        if unit in choice.get("depth", {}):
            params[f"drop_{i}"] = bool(choice["depth"][unit])
    return params


def summary(allocation: Mapping[str, Any]) -> str:
    """One line of what an allocation compresses (units left whole are not named)."""
    parts = []
    for kind, units in allocation["choice"].items():
        changed = {u: v for u, v in units.items() if v != IDENTITY[kind]}
        if not changed:
            continue
        if kind == "depth":
            parts.append("drop " + ", ".join(changed))
        elif kind == "width":
            parts.append("keep " + ", ".join(f"{u}={float(v):.2f}" for u, v in changed.items()))
        else:
            parts.append("bits " + ", ".join(f"{u}={v}" for u, v in changed.items()))
    return "; ".join(parts) or "nothing compressed"


def allocation_line(alloc: Mapping[str, Any]) -> str:
    """One line of a warm allocation: budget, estimated drop, estimated and measured cost,
    what it compresses."""
    objective = alloc["objective"]
    missed = "" if alloc["feasible"] else " (misses the budget: the closest found)"
    return (f"x{alloc['budget']:g} {objective} (<= {alloc['limit']:,.0f}): estimated drop "
            f"{alloc['estimated_drop']:.4f}, estimated {objective} "
            f"{alloc['estimated_cost']:,.0f}, measured {alloc['measured_cost']:,}{missed}: "
            f"{summary(alloc)}")


def enqueue_warm_start(study: optuna.Study, space: BaseSpace, table: pd.DataFrame,
                       objective: str, input_shape: tuple[int, ...],
                       budgets: Sequence[float] = BUDGETS) -> list[dict[str, Any]]:
    """Allocate ``table`` for each budget (:func:`warm_allocations`) and enqueue one trial per
    distinct allocation (with the user attribute ``warm_start``); returns the allocations
    enqueued. Once per study: the study attribute ``warm_start_enqueued`` (how many) is set,
    and nothing is enqueued when it already is."""
    if WARM_START_ATTR in study.user_attrs:
        return []
    seen: set[tuple[tuple[str, Any], ...]] = set()
    enqueued = []
    for alloc in warm_allocations(space, table, objective, input_shape, budgets):
        params = allocation_params(space, alloc["choice"])
        key = tuple(sorted(params.items()))
        if not params or key in seen:
            continue
        seen.add(key)
        note = {k: alloc[k] for k in ("budget", "objective", "limit", "estimated_drop",
                                      "estimated_cost", "measured_cost", "repaired",
                                      "feasible")}
        study.enqueue_trial(params, user_attrs={WARM_START_TRIAL: note})
        enqueued.append(alloc)
    study.set_user_attr(WARM_START_ATTR, len(enqueued))
    return enqueued
