"""The units a sensitivity analysis compresses one at a time, and the values each can take.

- ``"width"``: one group of coupled channels that Torch-Pruning removes together
  (``objectives.compress.structured``), named by its ratio-target layer
  (``spaces.layers.ratio_targets``: the earliest target among the layers whose outputs the group
  prunes, as ``PrunedGroup.layer`` names it); values are **keep** ratios (1.0: whole). Frontier's
  structured pruning takes *prune* ratios: ``prune = 1 − keep`` (:func:`prune_ratio`).
- ``"bits"``: the weight of one prunable layer (``spaces.layers.prunable_layers``), head
  included; values are bit widths (32: full precision).
- ``"depth"``: a removable module named by the caller (e.g. a residual block whose shortcut is
  the identity), replaced by ``nn.Identity``; values ``(False, True)`` (True: dropped).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from objectives.compress.structured import prune_structured
from spaces.layers import PrunesItself, prunable_layers, ratio_targets

__all__ = ["IDENTITY", "KINDS", "Unit", "prune_ratio", "units_of", "width_units"]

#: Unit kinds, in the order :func:`units_of` lists them.
KINDS = ("width", "bits", "depth")
#: The value of each kind that leaves the model as it is.
IDENTITY: dict[str, float | int | bool] = {"width": 1.0, "bits": 32, "depth": False}

DEFAULT_KEEP = (1.0, 0.75, 0.5, 0.25)
DEFAULT_BITS = (32, 8, 6, 4, 3, 2)


@dataclass(frozen=True)
class Unit:
    """One unit compressed on its own: its ``kind`` (:data:`KINDS`), its ``name`` (a layer or
    module of the model) and the ``values`` it is tried at (keep ratios, bits, dropped)."""

    kind: str
    name: str
    values: tuple[float | int | bool, ...]

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind: unknown unit kind {self.kind!r}; choose from {KINDS}")
        if not self.values:
            raise ValueError(f"values: unit {self.name!r} has no values; give at least one")
        for v in self.values:
            _check_value(self.kind, v, self.name)


def _check_value(kind: str, value: float | int | bool, name: str) -> None:
    if kind == "width" and not (isinstance(value, int | float) and 0.0 < float(value) <= 1.0):
        raise ValueError(f"values: keep ratio {value!r} of width unit {name!r} is out of range; "
                         "use keep ratios in (0, 1]")
    if kind == "bits" and not (isinstance(value, int) and not isinstance(value, bool)
                               and 2 <= value <= 32):
        raise ValueError(f"values: {value!r} bits of layer {name!r}; use integer bit widths "
                         "from 2 to 32")
    if kind == "depth" and not isinstance(value, bool):
        raise ValueError(f"values: depth unit {name!r} takes True (dropped) or False (kept), "
                         f"not {value!r}")


def prune_ratio(keep: float) -> float:
    """The structured-pruning ratio (``1 − keep``) of keep ratio ``keep``."""
    return 1.0 - float(keep)


def width_units(model: nn.Module, input_shape: tuple[int, ...]) -> list[str]:
    """The ratio-target layer naming each channel group structured pruning can shrink, in
    ``named_modules`` order; a target whose outputs are never pruned (an output layer) or that
    shares its group with an earlier target names no unit of its own. Empty for a model that
    prunes its own structure (``spaces.layers.PrunesItself``). Traced on a copy of ``model``."""
    if isinstance(model, PrunesItself):
        return []
    targets = ratio_targets(model)
    if not targets:
        return []
    probe = copy.deepcopy(model)
    first = next(probe.parameters())
    example = torch.zeros((1, *input_shape), device=first.device, dtype=first.dtype)
    # A distinct ratio so small that no channel goes (keep_count rounds it away) tags each
    # target; a group reports the ratio of the target it took it from.
    tags = {t: (i + 1) * 1e-9 for i, t in enumerate(targets)}
    by_tag = {tag: t for t, tag in tags.items()}
    groups = prune_structured(probe, example, tags)
    return [by_tag[g.ratio] for g in groups if g.ratio in by_tag]


def units_of(model: nn.Module, input_shape: tuple[int, ...],
             ratios: Sequence[float] = DEFAULT_KEEP, bits: Sequence[int] = DEFAULT_BITS,
             depth_units: Sequence[str] = ()) -> list[Unit]:
    """Every unit of ``model``: one width unit per channel group (:func:`width_units`) at keep
    ``ratios``, one bits unit per prunable layer at ``bits``, and one depth unit per module named
    in ``depth_units`` (kept or dropped). An empty ``ratios`` or ``bits`` leaves that kind out.
    The identity value (keep 1.0, 32 bits, kept) is added to each unit where it is missing."""
    modules = dict(model.named_modules())
    for name in depth_units:
        if not name or name not in modules:
            raise ValueError(f"depth_units: {name!r} is not a module of {type(model).__name__}; "
                             "name modules as in named_modules()")
    units: list[Unit] = []
    if ratios:
        keep = _with_identity("width", [float(r) for r in ratios])
        units += [Unit("width", n, keep) for n in width_units(model, tuple(input_shape))]
    if bits:
        widths = _with_identity("bits", [int(b) for b in bits])
        units += [Unit("bits", n, widths) for n in prunable_layers(model)]
    units += [Unit("depth", n, (False, True)) for n in depth_units]
    return units


def _with_identity(kind: str, values: list[float] | list[int]) -> tuple[float | int | bool, ...]:
    ident = IDENTITY[kind]
    out: list[float | int | bool] = list(dict.fromkeys(values))
    return tuple(out) if ident in out else (ident, *out)
