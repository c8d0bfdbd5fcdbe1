"""Specs: frozen dataclasses that describe one candidate and round-trip through JSON."""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from typing import Any, Protocol, TypeVar

__all__ = [
    "PRUNE_METHODS",
    "SCHEDULES",
    "CompressSpec",
    "Spec",
    "TrainSpec",
    "spec_from_dict",
    "spec_to_dict",
]

#: Learning-rate schedules the training loop knows (see objectives.train).
SCHEDULES = ("constant", "step", "cosine", "onecycle")

#: Pruning methods: magnitude zeros in place, or whole filters removed.
PRUNE_METHODS = ("unstructured", "structured")

T = TypeVar("T")


@dataclasses.dataclass(frozen=True)
class CompressSpec:
    """Compression knobs of one candidate.

    ``prune_ratio`` is the fraction of prunable weights (conv and linear weights) set to zero by
    global magnitude pruning (``method="unstructured"``), or the fraction of channels removed
    from every group of coupled layers but the output layer (``method="structured"``, see
    ``objectives.compress.structured``); ``layer_ratios`` overrides it per ratio target
    (``objectives.compress.plan.ratio_targets``: every conv layer, or for a model without convs
    every linear layer but the last; empty: ``prune_ratio`` everywhere). ``bits`` is the weight bit
    width (32 means no quantization); ``layer_bits`` overrides it per prunable layer, in
    ``objectives.compress.prune.prunable_layers`` order including the head (empty: ``bits``
    everywhere). ``act_bits`` < 32 fake-quantizes the input of every prunable layer.

    ``steps`` holds the knobs that registered compression steps add beyond these (e.g.
    ``{"rank_ratio": 0.5}``, see ``objectives.compress.steps``), by knob name; a knob at the
    value that turns its step off is left out, so a Spec without such steps has none.
    """

    prune_ratio: float = 0.0
    bits: int = 32
    method: str = "unstructured"
    layer_ratios: tuple[float, ...] = ()
    layer_bits: tuple[int, ...] = ()
    act_bits: int = 32
    steps: dict[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def max_ratio(self) -> float:
        """The largest prune ratio of any layer (0 means nothing is pruned)."""
        return max((self.prune_ratio, *self.layer_ratios))

    @property
    def quantized(self) -> bool:
        """Whether any weight or activation is quantized below 32 bits."""
        return min((self.bits, *self.layer_bits, self.act_bits)) < 32


@dataclasses.dataclass(frozen=True)
class TrainSpec:
    """Training knobs of one candidate."""

    lr: float = 0.01
    weight_decay: float = 1e-4
    schedule: str = "cosine"
    kd_weight: float = 0.0
    kd_temperature: float = 4.0


class Spec(Protocol):
    """What every space's Spec carries besides its architecture."""

    @property
    def compress(self) -> CompressSpec: ...

    @property
    def train(self) -> TrainSpec: ...


def spec_to_dict(spec: Any) -> dict[str, Any]:
    """A JSON-able dict of a Spec dataclass (tuples become lists)."""
    data: dict[str, Any] = json.loads(json.dumps(dataclasses.asdict(spec)))
    return data


def spec_from_dict(cls: type[T], data: dict[str, Any]) -> T:
    """Rebuild a (possibly nested) frozen dataclass from :func:`spec_to_dict` output."""
    if not isinstance(data, dict):
        raise ValueError(f"{cls.__name__}: expected a JSON object, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = set(data) - names
    if unknown:
        raise ValueError(f"{cls.__name__}: unknown fields {sorted(unknown)}")
    kwargs = {name: _convert(hints[name], value) for name, value in data.items()}
    return cls(**kwargs)


def _convert(hint: Any, value: Any) -> Any:
    origin = typing.get_origin(hint)
    if dataclasses.is_dataclass(hint) and isinstance(hint, type):
        return spec_from_dict(hint, value)
    if origin is tuple:
        args = typing.get_args(hint)
        inner = args[0] if args else Any
        return tuple(_convert(inner, v) for v in value)
    if origin in (typing.Union, types.UnionType):
        return value
    if hint is float and isinstance(value, int):
        return float(value)
    return value
