"""Warm-start allocations that meet their budgets for real.

``objectives.sensitivity.allocate`` meets a budget on an *additive* cost estimate, which
overstates the saving of coupled units (pruning a layer's inputs and its outputs shrinks it by
the product of the keep ratios, not by the sum of the two savings). Here each allocation is
applied to a copy of the base and its real cost measured; while it misses the budget, it is
repaired greedily on measured costs (one unit compressed further at a time)."""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd
import torch
from torch import nn

from objectives.compress.depth import drop_units
from objectives.compress.quantize import planned_bits
from objectives.compress.structured import prune_structured
from objectives.metrics import macs, nonzero_params, size_bytes
from objectives.sensitivity import IDENTITY, allocate, prune_ratio, typed_value
from spaces.layers import prunable_layers

__all__ = ["ROUNDS", "fitted_allocations", "measured_cost"]

#: The greedy repair takes at most ROUNDS × (rows of the table) moves.
ROUNDS = 2

Choice = Mapping[str, Mapping[str, Any]]


def measured_cost(base: nn.Module, choice: Choice, objective: str,
                  input_shape: tuple[int, ...]) -> int:
    """The real ``objective`` (macs, params or size_bytes) of ``base`` with the whole
    allocation ``choice`` applied to a copy: its dropped units removed, its channel groups
    pruned to their keep ratios, its layers packed at their bits (``base`` is left as it is)."""
    model = copy.deepcopy(base)
    drops = [u for u, dropped in choice.get("depth", {}).items() if dropped]
    if drops:
        drop_units(model, drops)
    layers = prunable_layers(model)
    ratios = {n: prune_ratio(float(k)) for n, k in choice.get("width", {}).items()
              if float(k) < 1.0 and n in layers}
    if ratios:
        first = next(model.parameters())
        example = torch.zeros((1, *input_shape), device=first.device, dtype=first.dtype)
        prune_structured(model, example, ratios)
    if objective == "macs":
        return macs(model, input_shape)
    if objective == "params":
        return nonzero_params(model)
    bits = dict(planned_bits(model))
    bits.update({n: int(b) for n, b in choice.get("bits", {}).items()
                 if n in prunable_layers(model)})
    return size_bytes(model, bits)


def _inside(unit: str, module: str) -> bool:
    return unit == module or unit.startswith(module + ".")


def _moves(table: pd.DataFrame, choice: Choice) -> list[tuple[float, dict[str, dict[str, Any]]]]:
    """Every choice one unit further compressed than ``choice`` (another value of its rows),
    with the estimated drop it adds; units inside a dropped module are left alone, and
    dropping a module puts the units inside it back to whole."""
    rows = table[table["kind"] != "base"]
    drop = {(r["kind"], r["unit"], typed_value(r["kind"], r["value"])): max(0.0, float(r["drop"]))
            for r in rows.to_dict("records")}
    dropped = [u for u, v in choice.get("depth", {}).items() if v]
    out = []
    for (kind, unit, value), d in drop.items():
        now = choice.get(kind, {}).get(unit, IDENTITY[kind])
        if value == now or any(_inside(unit, m) for m in dropped):
            continue
        new = {k: dict(v) for k, v in choice.items()}
        new.setdefault(kind, {})[unit] = value
        if kind == "depth" and value:
            for k2, units in new.items():
                for u in units:
                    if u != unit and _inside(u, unit):
                        units[u] = IDENTITY[k2]
        out.append((d - drop.get((kind, unit, now), 0.0), new))
    return out


def _repair(base: nn.Module, table: pd.DataFrame, choice: Choice, cost: int, limit: float,
            objective: str, input_shape: tuple[int, ...], realise: Any
            ) -> tuple[dict[str, dict[str, Any]], int]:
    """Greedy on measured costs: while ``choice`` costs more than ``limit``, take the one-unit
    move that adds the least estimated drop per unit of measured saving."""
    current = {k: dict(v) for k, v in choice.items()}
    for _ in range(ROUNDS * max(1, len(table))):
        if cost <= limit:
            break
        best: tuple[float, dict[str, dict[str, Any]], int] | None = None
        for added, new in _moves(table, current):
            new = realise(new) if realise is not None else new
            new_cost = measured_cost(base, new, objective, input_shape)
            if new_cost < cost:
                rate = added / (cost - new_cost)
                if best is None or rate < best[0]:
                    best = (rate, new, new_cost)
        if best is None:
            break
        _, current, cost = best
    return current, cost


def fitted_allocations(base: nn.Module, table: pd.DataFrame, objective: str,
                       budgets: Sequence[float], input_shape: tuple[int, ...],
                       realise: Any = None) -> list[dict[str, Any]]:
    """``allocate(table, objective, budgets)``, each allocation measured (:func:`measured_cost`)
    and, where it misses ``base cost / factor``, repaired greedily on measured costs: one unit
    compressed further at a time, the least estimated drop per measured saving first.
    ``realise(choice)``: the choice as the trial will run it (values moved inside the space's
    domains), measured instead.

    Each result is ``allocate``'s dict plus ``measured_cost`` and ``repaired`` (whether the
    greedy changed it; ``estimated_drop`` is then the repaired choice's); ``feasible`` is True
    only where the measured cost meets the budget."""
    out = []
    for alloc in allocate(table, objective, budgets):
        limit = float(alloc["limit"])
        choice = realise(alloc["choice"]) if realise is not None else alloc["choice"]
        cost = measured_cost(base, choice, objective, input_shape)
        fixed, fixed_cost = _repair(base, table, choice, cost, limit, objective, input_shape,
                                    realise)
        repaired = fixed_cost < cost
        est = _estimated_drop(table, fixed) if repaired else alloc["estimated_drop"]
        out.append({**alloc, "choice": fixed if repaired else choice, "estimated_drop": est,
                    "measured_cost": fixed_cost, "repaired": repaired,
                    "feasible": bool(fixed_cost <= limit)})
    return out


def _estimated_drop(table: pd.DataFrame, choice: Choice) -> float:
    rows = table[table["kind"] != "base"]
    return float(sum(max(0.0, float(r["drop"])) for r in rows.to_dict("records")
                     if choice.get(r["kind"], {}).get(r["unit"], IDENTITY[r["kind"]])
                     == typed_value(r["kind"], r["value"])))
