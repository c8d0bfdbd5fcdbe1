"""A multilayer perceptron space for flat (or flattened) inputs.

``depth`` hidden layers (0 is a linear classifier), each with its own ``width_i``; ``width_2``
is suggested only when ``depth >= 3``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import optuna
from torch import nn

from spaces.domain import Choice, Domain, parse_domain, suggest
from spaces.knobs import Knobs
from spaces.options import count_range, int_choices, parse_options
from spaces.space import Space, register_space
from spaces.spec import CompressSpec, TrainSpec

__all__ = ["MLPSpace", "MLPSpec"]

_OPTIONS = ("min_depth", "max_depth", "widths", "batch_norm")


@dataclass(frozen=True)
class MLPSpec:
    """One MLP candidate: hidden widths (one per hidden layer), batch norm and knobs."""

    widths: tuple[int, ...]
    batch_norm: bool = False
    compress: CompressSpec = field(default_factory=CompressSpec)
    train: TrainSpec = field(default_factory=TrainSpec)

    @property
    def depth(self) -> int:
        """Number of hidden layers."""
        return len(self.widths)


@register_space("mlp")
class MLPSpace(Space):
    """Flatten → (Linear → (BN) → ReLU) × depth → Linear; works on any input shape."""

    spec_type = MLPSpec
    knobs: Knobs  # parse_options gives them

    def __init__(self, options: Mapping[str, Any] | None = None, /, **kwargs: Any) -> None:
        """Options as a mapping or keywords (``MLPSpace(max_depth=2)``); see ``CNNSpace``."""
        self.options, self.knobs, opts = parse_options(self.name, options, kwargs, _OPTIONS)
        self.knobs.require(self.name, per_layer_prune=True, per_layer_bits=False)
        self.depth = count_range(opts, "min_depth", "max_depth", (1, 3), minimum=0)
        self.widths: Choice = int_choices("widths", opts.get("widths", [32, 64, 128, 256]))
        self.batch_norm: Domain = parse_domain(
            "space.batch_norm", opts.get("batch_norm", [False]), kind=bool
        )

    def sample(self, trial: optuna.Trial) -> MLPSpec:
        """Draw an MLPSpec; the only place this space calls ``trial.suggest_*``."""
        depth = int(suggest(trial, "depth", self.depth))
        widths = tuple(int(suggest(trial, f"width_{i}", self.widths)) for i in range(depth))
        batch_norm = bool(suggest(trial, "batch_norm", self.batch_norm))
        arch = MLPSpec(widths, batch_norm)
        compress, train = self.knobs.sample(trial, *self.layer_counts(arch))
        return dataclasses.replace(arch, compress=compress, train=train)

    def build(self, spec: MLPSpec, input_shape: tuple[int, ...], num_classes: int) -> nn.Module:
        """Build the module for ``spec``; any ``input_shape`` is flattened."""
        features = math.prod(input_shape)
        layers: list[nn.Module] = [nn.Flatten()]
        for width in spec.widths:
            layers.append(nn.Linear(features, width, bias=not spec.batch_norm))
            if spec.batch_norm:
                layers.append(nn.BatchNorm1d(width))
            layers.append(nn.ReLU(inplace=True))
            features = width
        layers.append(nn.Linear(features, num_classes))
        return nn.Sequential(*layers)
