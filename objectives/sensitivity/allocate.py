"""The warm start: from a sensitivity table, the allocation (one value per unit) that loses the
least estimated score while the estimated cost meets a budget, for several budgets at once."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.optimize import Bounds, LinearConstraint, milp

from objectives.sensitivity.units import IDENTITY, KINDS

__all__ = ["OBJECTIVES", "allocate", "typed_value"]

#: The cost columns a budget can be set on.
OBJECTIVES = ("macs", "params", "size_bytes")
#: Tie-break weight: among allocations of equal estimated drop, compress fewer units, and each
#: as little as the budget needs (far below any drop a val split can measure).
_EPS = 1e-6
_SOLVER_SCALE = 1e4


@dataclass(frozen=True)
class _Option:
    kind: str
    unit: str
    value: float | int | bool
    drop: float  # clipped at 0
    delta: float  # cost minus the base's
    identity: bool


def typed_value(kind: str, value: Any) -> float | int | bool:
    """``value`` of a ``kind`` unit as its type (keep ratio float, bits int, dropped bool), also
    as a table read back from CSV holds it (a string)."""
    if kind == "width":
        return float(value)
    if kind == "bits":
        return int(float(value))
    if isinstance(value, bool | np.bool_):
        return bool(value)
    text = str(value).strip().lower()
    if text not in ("true", "false", "1", "0", "1.0", "0.0"):
        raise ValueError(f"value: {value!r} of a depth unit is not True or False")
    return text in ("true", "1", "1.0")


def _options(table: pd.DataFrame, objective: str) -> tuple[float, list[list[_Option]]]:
    """(the base's cost, each unit's options in table order, identity added where missing)."""
    missing = sorted({"kind", "unit", "value", "drop", objective} - set(table.columns))
    if missing:
        raise ValueError(f"table: no column {missing[0]!r}; pass the table sensitivity() made")
    base = table[table["kind"] == "base"]
    if len(base) != 1:
        raise ValueError(f"table: {len(base)} base rows; a sensitivity table has exactly one")
    base_cost = float(np.asarray(base[objective], dtype=float)[0])
    units: dict[tuple[str, str], list[_Option]] = {}
    for row in table[table["kind"] != "base"].to_dict("records"):
        kind, unit = str(row["kind"]), str(row["unit"])
        if kind not in KINDS:
            raise ValueError(f"table: unknown unit kind {kind!r} of unit {unit!r}")
        value = typed_value(kind, row["value"])
        opts = units.setdefault((kind, unit), [])
        if any(o.value == value for o in opts):
            raise ValueError(f"table: unit {unit!r} ({kind}) has two rows at value {value!r}")
        opts.append(_Option(kind, unit, value, max(0.0, float(row["drop"])),
                            float(row[objective]) - base_cost, value == IDENTITY[kind]))
    for (kind, unit), opts in units.items():
        if not any(o.identity for o in opts):
            opts.insert(0, _Option(kind, unit, IDENTITY[kind], 0.0, 0.0, True))
    return base_cost, list(units.values())


def _inside(unit: str, module: str) -> bool:
    return unit == module or unit.startswith(module + ".")


def _exclusions(flat: list[_Option]) -> list[tuple[int, int]]:
    """Pairs of options that cannot both be chosen: a dropped module and any compression of a
    unit inside it (its saving is already counted by the drop)."""
    pairs = []
    for j, d in enumerate(flat):
        if d.kind == "depth" and d.value is True:
            pairs += [(j, k) for k, o in enumerate(flat)
                      if not o.identity and o.unit != d.unit and _inside(o.unit, d.unit)]
    return pairs


def _solve(units: list[list[_Option]], weights: np.ndarray, room: float | None
           ) -> list[_Option] | None:
    """One option per unit minimising ``weights`` (one per option, in order) with the summed
    cost deltas ≤ ``room`` (None: no limit); None where none exists."""
    flat = [o for opts in units for o in opts]
    if not flat:
        return [] if room is None or room >= 0 else None
    onehot = np.zeros((len(units), len(flat)))
    col = 0
    for i, opts in enumerate(units):
        onehot[i, col:col + len(opts)] = 1.0
        col += len(opts)
    constraints = [LinearConstraint(onehot, 1.0, 1.0)]
    if room is not None:
        constraints.append(LinearConstraint(np.array([[o.delta for o in flat]]), -np.inf, room))
    pairs = _exclusions(flat)
    if pairs:
        excl = np.zeros((len(pairs), len(flat)))
        for row, (j, k) in enumerate(pairs):
            excl[row, [j, k]] = 1.0
        constraints.append(LinearConstraint(excl, -np.inf, 1.0))
    res = milp(weights, integrality=np.ones(len(flat)), bounds=Bounds(0.0, 1.0),
               constraints=constraints, options={"mip_rel_gap": 0.0})
    if res.x is None or res.status != 0:
        return None
    return [o for o, x in zip(flat, res.x, strict=True) if x > 0.5]


def _least_drop(units: list[list[_Option]], scale: float) -> np.ndarray:
    """Weights: the clipped drop, plus a tie-break (far below any drop a val split measures)
    for each compressed unit, growing with its saving; scaled up so that the tie-break stays
    above the solver's absolute tolerance (1e-6)."""
    return _SOLVER_SCALE * np.array(
        [o.drop + (0.0 if o.identity else _EPS * (1.0 + max(0.0, -o.delta) / scale))
         for opts in units for o in opts])


def _least_cost(units: list[list[_Option]], scale: float) -> np.ndarray:
    """Weights: the cost delta (relative to the base's), ties broken by the smaller drop."""
    return np.array([o.delta / scale + 1e-9 * o.drop for opts in units for o in opts])


def _result(factor: float, objective: str, limit: float, base_cost: float,
            chosen: list[_Option], kinds: list[str], feasible: bool) -> dict[str, Any]:
    choice: dict[str, dict[str, float | int | bool]] = {k: {} for k in kinds}
    for o in chosen:
        choice[o.kind][o.unit] = o.value
    return {"budget": factor, "objective": objective, "limit": limit, "choice": choice,
            "estimated_drop": float(sum(o.drop for o in chosen)),
            "estimated_cost": base_cost + float(sum(o.delta for o in chosen)),
            "feasible": feasible}


def allocate(table: pd.DataFrame, objective: str, budgets: Sequence[float]
             ) -> list[dict[str, Any]]:
    """For each budget factor (e.g. 1.5, 2, 4, 8: that many times less ``objective`` than the
    base, one of :data:`OBJECTIVES`), one value per unit of ``table`` (``sensitivity()``'s, or
    read back from CSV) that minimises the estimated drop under the estimated cost limit
    ``base cost / factor``, solved exactly with ``scipy.optimize.milp``.

    The model is additive: the estimated drop is the sum of the chosen rows' drops (each
    clipped at 0: a compression that raised the val score is counted as free, not as a gain),
    the estimated cost the base's cost plus the sum of the chosen rows' cost deltas. Both are
    estimates. Units interact: for width, pruning two coupled groups (a layer's inputs and its
    outputs) shrinks the layer between them by the product of the keep ratios, which the sum of
    the two deltas overstates as a saving, so the real cost can exceed the estimate; the study
    measures the real one. A unit inside a dropped module (by name) is kept at its identity
    value alongside the drop, so no saving is counted twice. Among equal estimated drops the
    fewest, least compressed units win, so a budget of 1 keeps every unit at its identity value
    (keep 1.0, 32 bits, kept); a unit whose identity value has no row gets one (drop 0, no
    cost change).

    Returns per budget ``{"budget", "objective", "limit", "choice": {kind: {unit: value}},
    "estimated_drop", "estimated_cost", "feasible"}``; where no allocation meets the limit, the
    one of least estimated cost with ``feasible: False``.
    """
    if objective not in OBJECTIVES:
        raise ValueError(f"objective: {objective!r} is not a cost column; choose from "
                         f"{OBJECTIVES}")
    base_cost, units = _options(table, objective)
    kinds = [k for k in KINDS if any(opts[0].kind == k for opts in units)]
    scale = abs(base_cost) or 1.0
    out = []
    for factor in budgets:
        if not float(factor) >= 1.0:
            raise ValueError(f"budgets: factor {factor!r} is below 1; give how many times "
                             f"less {objective} than the base (1 keeps the base)")
        limit = base_cost / float(factor)
        chosen = _solve(units, _least_drop(units, scale), limit - base_cost)
        if chosen is None:
            cheapest = _solve(units, _least_cost(units, scale), None) or []
            out.append(_result(float(factor), objective, limit, base_cost, cheapest, kinds,
                               False))
        else:
            out.append(_result(float(factor), objective, limit, base_cost, chosen, kinds, True))
    return out
