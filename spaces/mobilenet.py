"""A MobileNetV2-style space: stages of inverted residual blocks (1×1 expansion, 3×3 depthwise,
linear 1×1 projection) under one width multiplier and one expansion ratio.

Stage widths are ``base_widths`` × ``width_multiplier`` rounded to a multiple of ``divisor`` (as
in MobileNetV2). The number of blocks of stage i is ``depth_i``, suggested only when
``stages > i``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import optuna
from torch import nn

from spaces.blocks import Backbone, ConvBN, InvertedResidual, stem_and_stages
from spaces.domain import Choice, Domain, suggest
from spaces.knobs import Knobs
from spaces.options import (
    count_range,
    float_domain,
    int_choices,
    int_list,
    non_negative_int,
    parse_options,
    per_stage,
    stride_choices,
    stride_pattern,
)
from spaces.space import Space, register_space
from spaces.spec import CompressSpec, TrainSpec

__all__ = ["MobileNetSpace", "MobileNetSpec", "make_divisible"]

_OPTIONS = ("min_stages", "max_stages", "depths", "base_widths", "width_multiplier",
            "expansion", "strides", "stem_width", "stem_stride", "head_width", "divisor")


@dataclass(frozen=True)
class MobileNetSpec:
    """One MobileNetV2-style candidate; widths are final channel counts (multiplier applied)."""

    widths: tuple[int, ...]
    depths: tuple[int, ...]
    strides: tuple[int, ...]
    expansion: int = 6
    stem_width: int = 16
    stem_stride: int = 1
    head_width: int = 0
    compress: CompressSpec = field(default_factory=CompressSpec)
    train: TrainSpec = field(default_factory=TrainSpec)

    @property
    def stages(self) -> int:
        """Number of stages."""
        return len(self.widths)


def make_divisible(value: float, divisor: int) -> int:
    """``value`` rounded to a multiple of ``divisor``, never below ``divisor`` nor 90 % of
    ``value`` (MobileNetV2's rule)."""
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded


@register_space("mobilenet")
class MobileNetSpace(Space):
    """ConvBN stem → stages of InvertedResiduals → optional 1×1 head ConvBN → global average
    pool → linear classifier. Works for any input size and class count."""

    spec_type = MobileNetSpec
    knobs: Knobs  # parse_options gives them

    def __init__(self, options: Mapping[str, Any] | None = None, /, **kwargs: Any) -> None:
        """Options as a mapping or keywords (``MobileNetSpace(max_stages=4)``); see
        ``CNNSpace``."""
        self.options, self.knobs, opts = parse_options(self.name, options, kwargs, _OPTIONS)
        self.knobs.require(self.name, per_layer_prune=True, per_layer_bits=False)
        self.stages = count_range(opts, "min_stages", "max_stages", (3, 5))
        self.depths: Choice = int_choices("depths", opts.get("depths", [1, 2, 3]))
        self.base_widths = int_list("base_widths",
                                    opts.get("base_widths", [16, 24, 32, 64, 96, 160]))
        self.strides = stride_pattern("strides", opts.get("strides", [1, 2, 2, 2, 1, 2]))
        per_stage("base_widths", len(self.base_widths), int(self.stages.high))
        per_stage("strides", len(self.strides), int(self.stages.high))
        self.multiplier: Domain = float_domain(
            "width_multiplier", opts.get("width_multiplier", [0.25, 0.5, 0.75, 1.0]))
        self.expansion: Choice = int_choices("expansion", opts.get("expansion", [2, 4, 6]))
        self.stem_stride: Choice = stride_choices("stem_stride", opts.get("stem_stride", [1]))
        self.stem_width = non_negative_int("stem_width", opts.get("stem_width", 16))
        self.head_width = non_negative_int("head_width", opts.get("head_width", 0), minimum=0)
        self.divisor = non_negative_int("divisor", opts.get("divisor", 8))

    def sample(self, trial: optuna.Trial) -> MobileNetSpec:
        """Draw a MobileNetSpec; the only place this space calls ``trial.suggest_*``."""
        stages = int(suggest(trial, "stages", self.stages))
        depths = tuple(int(suggest(trial, f"depth_{i}", self.depths)) for i in range(stages))
        strides = tuple(int(suggest(trial, f"stride_{i}", self.strides[i]))
                        for i in range(stages))
        m = float(suggest(trial, "width_multiplier", self.multiplier))
        expansion = int(suggest(trial, "expansion", self.expansion))
        stem_stride = int(suggest(trial, "stem_stride", self.stem_stride))
        d = self.divisor
        head_width = make_divisible(self.head_width * max(1.0, m), d) if self.head_width else 0
        arch = MobileNetSpec(
            widths=tuple(make_divisible(w * m, d) for w in self.base_widths[:stages]),
            depths=depths,
            strides=strides,
            expansion=expansion,
            stem_width=make_divisible(self.stem_width * m, d),
            stem_stride=stem_stride,
            head_width=head_width,
        )
        compress, train = self.knobs.sample(trial, *self.layer_counts(arch))
        return dataclasses.replace(arch, compress=compress, train=train)

    def build(self, spec: MobileNetSpec, input_shape: tuple[int, ...], num_classes: int
              ) -> nn.Module:
        """Build the module for ``spec``; input_shape is (channels, height, width)."""
        stem, stages = stem_and_stages(
            self.name, input_shape, partial(InvertedResidual, expansion=spec.expansion),
            spec.widths, spec.depths, spec.strides, stem_width=spec.stem_width,
            stem_stride=spec.stem_stride, act="relu6")
        cin = spec.widths[-1]
        head: nn.Module = nn.Identity()
        if spec.head_width:
            head, cin = ConvBN(cin, spec.head_width, 1, act="relu6"), spec.head_width
        return Backbone(stem, stages, head, cin, num_classes)
