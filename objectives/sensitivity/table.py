"""The sensitivity table: the base model's val score with only one unit compressed at one value,
no fine-tuning, with the whole model's cost at that change (see ``docs/sensitivity.md``)."""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence

import pandas as pd
import torch
from torch import nn

from objectives.compress.depth import drop_units
from objectives.compress.quantize import fake_quantize, planned_bits
from objectives.compress.structured import prune_structured
from objectives.data import TensorData
from objectives.metrics import macs, nonzero_params, score, size_bytes
from objectives.sensitivity.units import Unit, prune_ratio

__all__ = ["COLUMNS", "compressed", "sensitivity"]

#: The table's columns, in order.
COLUMNS = ("kind", "unit", "value", "val_score", "drop", "params", "macs", "size_bytes")

#: ``(rows done, rows in all)`` after each row of the table.
Progress = Callable[[int, int], None]


def compressed(model: nn.Module, unit: Unit, value: float | int | bool,
               input_shape: tuple[int, ...]) -> tuple[nn.Module, dict[str, int]]:
    """A deep copy of ``model`` with only ``unit`` compressed at ``value`` (``model`` is left
    as it is), and the weight bits of its prunable layers by name for ``size_bytes``."""
    out = copy.deepcopy(model)
    bits = dict(planned_bits(model))
    if unit.kind == "width":
        if float(value) < 1.0:
            first = next(out.parameters())
            example = torch.zeros((1, *input_shape), device=first.device, dtype=first.dtype)
            prune_structured(out, example, {unit.name: prune_ratio(float(value))})
    elif unit.kind == "bits":
        layer = out.get_submodule(unit.name)
        weight = layer.weight
        assert isinstance(weight, torch.Tensor)
        with torch.no_grad():
            weight.copy_(fake_quantize(weight, int(value)))
        bits[unit.name] = int(value)
    elif value:
        drop_units(out, [unit.name])
    return out, bits


def _costs(model: nn.Module, bits: Mapping[str, int], input_shape: tuple[int, ...]
           ) -> dict[str, int]:
    return {"params": nonzero_params(model), "macs": macs(model, input_shape),
            "size_bytes": size_bytes(model, dict(bits))}


def sensitivity(model: nn.Module, data: TensorData, units: Sequence[Unit],
                metric: str | None = None, *, progress: Progress | None = None,
                batch_size: int = 2048) -> pd.DataFrame:
    """One row per (unit, value) of ``units`` plus the base row (kind ``"base"``): the
    ``metric`` (default: the data's) of trained ``model`` on ``data.val`` with only that unit
    compressed at that value, no fine-tuning and no batch-norm recalibration; ``drop`` is the
    base's score minus it; ``params`` (nonzero), ``macs`` and ``size_bytes`` (prunable weights at
    their bits) are the whole model's with that change. ``model`` (on the data's device) is left
    as it is. One val pass per row, identity values included; prints nothing; ``progress`` gets
    ``(done, total)`` after each row (the base row first)."""
    metric = metric or data.metric
    shape = tuple(data.input_shape)
    total = 1 + sum(len(u.values) for u in units)
    was_training = model.training
    try:
        rows = _rows(model, data, units, metric, shape, progress, total, batch_size)
    finally:
        model.train(was_training)
    return pd.DataFrame(rows, columns=list(COLUMNS))


def _rows(model: nn.Module, data: TensorData, units: Sequence[Unit], metric: str,
          shape: tuple[int, ...], progress: Progress | None, total: int, batch_size: int
          ) -> list[dict[str, object]]:
    base_score = score(model, data.val, metric, batch_size)
    rows: list[dict[str, object]] = [
        {"kind": "base", "unit": "", "value": None, "val_score": base_score, "drop": 0.0,
         **_costs(model, planned_bits(model), shape)}]
    if progress is not None:
        progress(1, total)
    for unit in units:
        for value in unit.values:
            changed, bits = compressed(model, unit, value, shape)
            val = score(changed, data.val, metric, batch_size)
            rows.append({"kind": unit.kind, "unit": unit.name, "value": value, "val_score": val,
                         "drop": base_score - val, **_costs(changed, bits, shape)})
            del changed
            if progress is not None:
                progress(len(rows), total)
    return rows
