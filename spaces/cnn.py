"""A plain CNN space: depth, per-layer widths, kernel size, batch norm, plus compression knobs.

Parameters are named so they exist only when used: ``width_3`` is suggested only when
``depth >= 4``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import optuna
from torch import nn

from spaces.domain import Choice, Domain, parse_domain, suggest
from spaces.knobs import KNOB_NAMES, Knobs
from spaces.registry import register_space
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
    """``Sequential(blocks, AdaptiveAvgPool2d, Flatten, Linear)``. Module names (and state-dict
    keys) are those of the plain Sequential: ``0.<block>.0`` is a conv, ``0.<block>.1`` its
    batch norm, ``3`` the head."""


_OPTIONS = ("min_depth", "max_depth", "widths", "kernels", "batch_norm")


@register_space("cnn")
class CNNSpace:
    """Conv → (BN) → ReLU → (2×2 max-pool while the map is ≥ 4 px) blocks, then a linear head."""

    name: str = "cnn"
    spec_type: type = CNNSpec

    def __init__(self, options: Mapping[str, Any] | None = None) -> None:
        opts = dict(options or {})
        self.knobs = Knobs.from_options(opts)
        unknown = set(opts) - set(_OPTIONS)
        if unknown:
            key = sorted(unknown)[0]
            raise ValueError(
                f"space.{key}: unknown option for space 'cnn'; known options: "
                f"{sorted((*_OPTIONS, *KNOB_NAMES))}"
            )
        self.min_depth = _positive_int("space.min_depth", opts.get("min_depth", 1))
        self.max_depth = _positive_int("space.max_depth", opts.get("max_depth", 4))
        if self.min_depth > self.max_depth:
            raise ValueError(
                f"space.min_depth: {self.min_depth} exceeds space.max_depth {self.max_depth}"
            )
        self.widths: Domain = parse_domain(
            "space.widths", opts.get("widths", [4, 8, 12, 16, 24, 32]), kind=int
        )
        self.kernels: Domain = parse_domain("space.kernels", opts.get("kernels", [3]), kind=int)
        self.batch_norm: Domain = parse_domain(
            "space.batch_norm", opts.get("batch_norm", [True]), kind=bool
        )
        for name, domain in (("widths", self.widths), ("kernels", self.kernels)):
            if not isinstance(domain, Choice):
                raise ValueError(f"space.{name}: give a list of integers, not a range")
            bad = [v for v in domain.values if v < 1]
            if bad:
                raise ValueError(f"space.{name}: values must be >= 1, got {bad[0]}")
        if isinstance(self.kernels, Choice) and any(k % 2 == 0 for k in self.kernels.values):
            raise ValueError("space.kernels: use odd kernel sizes (1, 3, 5, ...) so maps keep size")

    def sample(self, trial: optuna.Trial) -> CNNSpec:
        """Draw a CNNSpec; the only place this space calls ``trial.suggest_*``."""
        if self.min_depth == self.max_depth:
            depth = self.min_depth
        else:
            depth = trial.suggest_int("depth", self.min_depth, self.max_depth)
        widths = tuple(int(suggest(trial, f"width_{i}", self.widths)) for i in range(depth))
        kernel = int(suggest(trial, "kernel", self.kernels))
        batch_norm = bool(suggest(trial, "batch_norm", self.batch_norm))
        compress, train = self.knobs.sample(trial, n_groups=depth, n_layers=depth + 1)
        return CNNSpec(widths, kernel, batch_norm, compress, train)

    def build(self, spec: CNNSpec, input_shape: tuple[int, ...], num_classes: int) -> nn.Module:
        """Build the module for ``spec``; input_shape is (channels, height, width)."""
        if len(input_shape) != 3:
            raise ValueError(f"cnn: input_shape must be (C, H, W), got {input_shape}")
        channels, height, width = input_shape
        blocks: list[nn.Module] = []
        for out in spec.widths:
            layers: list[nn.Module] = [
                nn.Conv2d(channels, out, spec.kernel, padding=spec.kernel // 2,
                          bias=not spec.batch_norm)
            ]
            if spec.batch_norm:
                layers.append(nn.BatchNorm2d(out))
            layers.append(nn.ReLU(inplace=True))
            if min(height, width) >= 4:
                layers.append(nn.MaxPool2d(2))
                height, width = height // 2, width // 2
            blocks.append(nn.Sequential(*layers))
            channels = out
        pooled = (min(height, 2), min(width, 2))
        return ConvNet(
            nn.Sequential(*blocks),
            nn.AdaptiveAvgPool2d(pooled),
            nn.Flatten(),
            nn.Linear(channels * pooled[0] * pooled[1], num_classes),
        )


def _positive_int(field_name: str, value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{field_name}: expected an integer >= 1, got {value!r}")
    return value
