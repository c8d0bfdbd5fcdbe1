"""A ResNet-style space: stages of basic residual blocks with a per-stage width and stride.

Widths come either from a list of choices per stage (``widths`` → ``width_i``) or from one
``width_multiplier`` applied to ``base_widths``. Parameters exist only when used: ``blocks_2``
and ``width_2`` only when ``stages >= 3``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import optuna
from torch import nn

from spaces.blocks import Backbone, BasicBlock, stem_and_stages
from spaces.domain import Choice, Domain, suggest
from spaces.knobs import Knobs
from spaces.options import (
    count_range,
    float_domain,
    int_choices,
    int_list,
    parse_options,
    per_stage,
    stride_choices,
    stride_pattern,
)
from spaces.space import Space, register_space
from spaces.spec import CompressSpec, TrainSpec

__all__ = ["ResNetSpace", "ResNetSpec"]

_OPTIONS = ("min_stages", "max_stages", "blocks", "widths", "base_widths", "width_multiplier",
            "strides", "stem_stride")


@dataclass(frozen=True)
class ResNetSpec:
    """One ResNet candidate: per stage its width, number of blocks and first-block stride."""

    widths: tuple[int, ...]
    blocks: tuple[int, ...]
    strides: tuple[int, ...]
    stem_stride: int = 1
    compress: CompressSpec = field(default_factory=CompressSpec)
    train: TrainSpec = field(default_factory=TrainSpec)

    @property
    def stages(self) -> int:
        """Number of stages."""
        return len(self.widths)


@register_space("resnet")
class ResNetSpace(Space):
    """3×3 ConvBN stem → stages of BasicBlocks (projection shortcut when the shape changes) →
    global average pool → linear head. Works for any input size and class count: a stride is
    skipped when the map is smaller than twice the stride."""

    spec_type = ResNetSpec
    knobs: Knobs  # parse_options gives them

    def __init__(self, options: Mapping[str, Any] | None = None, /, **kwargs: Any) -> None:
        """Options as a mapping or keywords (``ResNetSpace(max_stages=2)``); see ``CNNSpace``."""
        self.options, self.knobs, opts = parse_options(self.name, options, kwargs, _OPTIONS)
        self.knobs.require(self.name, per_layer_prune=True, per_layer_bits=False)
        self.stages = count_range(opts, "min_stages", "max_stages", (1, 3))
        max_stages = int(self.stages.high)
        self.blocks: Choice = int_choices("blocks", opts.get("blocks", [1, 2, 3]))
        self.strides = stride_pattern("strides", opts.get("strides", [1, 2, 2, 2]))
        self.stem_stride: Choice = stride_choices("stem_stride", opts.get("stem_stride", [1]))
        per_stage("strides", len(self.strides), max_stages)
        self.multiplier: Domain | None = None
        self.widths: Choice | None = None
        if "width_multiplier" in opts:
            if "widths" in opts:
                raise ValueError("space.widths: give either widths (choices per stage) or "
                                 "width_multiplier with base_widths, not both")
            self.multiplier = float_domain("width_multiplier", opts["width_multiplier"])
            self.base_widths = int_list("base_widths", opts.get("base_widths", [16, 32, 64, 128]))
            per_stage("base_widths", len(self.base_widths), max_stages)
        else:
            if "base_widths" in opts:
                raise ValueError("space.base_widths: only used with width_multiplier; add "
                                 "width_multiplier = [0.5, 1.0] or remove base_widths")
            self.widths = int_choices("widths", opts.get("widths", [8, 16, 32, 64]))

    def sample(self, trial: optuna.Trial) -> ResNetSpec:
        """Draw a ResNetSpec; the only place this space calls ``trial.suggest_*``."""
        stages = int(suggest(trial, "stages", self.stages))
        blocks = tuple(int(suggest(trial, f"blocks_{i}", self.blocks)) for i in range(stages))
        if self.widths is not None:
            widths = tuple(int(suggest(trial, f"width_{i}", self.widths)) for i in range(stages))
        else:
            assert self.multiplier is not None
            m = float(suggest(trial, "width_multiplier", self.multiplier))
            widths = tuple(max(1, round(w * m)) for w in self.base_widths[:stages])
        strides = tuple(int(suggest(trial, f"stride_{i}", self.strides[i]))
                        for i in range(stages))
        stem_stride = int(suggest(trial, "stem_stride", self.stem_stride))
        arch = ResNetSpec(widths, blocks, strides, stem_stride)
        compress, train = self.knobs.sample(trial, *self.layer_counts(arch))
        return dataclasses.replace(arch, compress=compress, train=train)

    def build(self, spec: ResNetSpec, input_shape: tuple[int, ...], num_classes: int
              ) -> nn.Module:
        """Build the module for ``spec``; input_shape is (channels, height, width)."""
        stem, stages = stem_and_stages(self.name, input_shape, BasicBlock, spec.widths,
                                       spec.blocks, spec.strides, stem_stride=spec.stem_stride)
        return Backbone(stem, stages, nn.Identity(), spec.widths[-1], num_classes)

