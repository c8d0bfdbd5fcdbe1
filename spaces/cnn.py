"""A plain CNN space: depth, per-layer widths, kernel size, batch norm, plus compression knobs.

Parameters are named so they exist only when used: ``width_3`` is suggested only when
``depth >= 4``.
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

__all__ = ["CNNSpace", "CNNSpec", "ConvNet"]


@dataclass(frozen=True)
class CNNSpec:
    """One CNN candidate: conv widths (one per layer), kernel, batch norm and knobs."""

    widths: tuple[int, ...]
    kernel: int = 3
    batch_norm: bool = True
    compress: CompressSpec = field(default_factory=CompressSpec)
    train: TrainSpec = field(default_factory=TrainSpec)

    @property
    def depth(self) -> int:
        """Number of conv layers."""
        return len(self.widths)


class ConvNet(nn.Sequential):
    """``Sequential(blocks, AdaptiveAvgPool2d, Flatten, Linear)`` (``AdaptiveAvgPool1d`` for 1-D
    signals). Module names (and state-dict keys) are those of the plain Sequential:
    ``0.<block>.0`` is a conv, ``0.<block>.1`` its batch norm, ``3`` the head."""


_OPTIONS = ("min_depth", "max_depth", "widths", "kernels", "batch_norm")


@register_space("cnn")
class CNNSpace(Space):
    """Conv → (BN) → ReLU → (2×2 max-pool while the map is ≥ 4 px) blocks, then a linear head.
    A ``(channels, length)`` input (a 1-D signal) gets the same blocks in 1-D: Conv1d,
    BatchNorm1d, MaxPool1d (while the length is ≥ 4), AdaptiveAvgPool1d."""

    spec_type = CNNSpec
    knobs: Knobs  # parse_options gives them

    def __init__(self, options: Mapping[str, Any] | None = None, /, **kwargs: Any) -> None:
        """Options as a mapping (``CNNSpace({"max_depth": 3})``, as ``[space]`` gives them) or
        keywords (``CNNSpace(max_depth=3, widths=[8, 16])``); ``options`` keeps them."""
        self.options, self.knobs, opts = parse_options(self.name, options, kwargs, _OPTIONS)
        self.depth = count_range(opts, "min_depth", "max_depth", (1, 4))
        self.widths: Choice = int_choices("widths", opts.get("widths", [4, 8, 12, 16, 24, 32]))
        self.kernels: Choice = int_choices("kernels", opts.get("kernels", [3]))
        self.batch_norm: Domain = parse_domain(
            "space.batch_norm", opts.get("batch_norm", [True]), kind=bool
        )
        if any(k % 2 == 0 for k in self.kernels.values):
            raise ValueError("space.kernels: use odd kernel sizes (1, 3, 5, ...) so maps keep size")

    def sample(self, trial: optuna.Trial) -> CNNSpec:
        """Draw a CNNSpec; the only place this space calls ``trial.suggest_*``."""
        depth = int(suggest(trial, "depth", self.depth))
        widths = tuple(int(suggest(trial, f"width_{i}", self.widths)) for i in range(depth))
        kernel = int(suggest(trial, "kernel", self.kernels))
        batch_norm = bool(suggest(trial, "batch_norm", self.batch_norm))
        arch = CNNSpec(widths, kernel, batch_norm)
        compress, train = self.knobs.sample(trial, *self.layer_counts(arch))
        return dataclasses.replace(arch, compress=compress, train=train)

    def build(self, spec: CNNSpec, input_shape: tuple[int, ...], num_classes: int) -> nn.Module:
        """Build the module for ``spec``; input_shape is (channels, height, width), or
        (channels, length) for 1-D signals (Conv1d, BatchNorm1d, MaxPool1d layers)."""
        if len(input_shape) not in (2, 3):
            raise ValueError(f"{self.name}: input_shape must be (C, H, W) or (C, L), got "
                             f"{input_shape}")
        conv, norm, pool, avg = _LAYERS[len(input_shape) - 1]
        channels, size = input_shape[0], list(input_shape[1:])
        blocks: list[nn.Module] = []
        for out in spec.widths:
            layers: list[nn.Module] = [
                conv(channels, out, spec.kernel, padding=spec.kernel // 2,
                     bias=not spec.batch_norm)
            ]
            if spec.batch_norm:
                layers.append(norm(out))
            layers.append(nn.ReLU(inplace=True))
            if min(size) >= 4:
                layers.append(pool(2))
                size = [s // 2 for s in size]
            blocks.append(nn.Sequential(*layers))
            channels = out
        pooled = tuple(min(s, 2) for s in size)
        return ConvNet(
            nn.Sequential(*blocks),
            avg(pooled),
            nn.Flatten(),
            nn.Linear(channels * math.prod(pooled), num_classes),
        )


#: (conv, batch norm, max-pool, adaptive average pool) by the number of spatial dimensions.
_LAYERS: dict[int, tuple[Any, Any, Any, Any]] = {
    1: (nn.Conv1d, nn.BatchNorm1d, nn.MaxPool1d, nn.AdaptiveAvgPool1d),
    2: (nn.Conv2d, nn.BatchNorm2d, nn.MaxPool2d, nn.AdaptiveAvgPool2d),
}
