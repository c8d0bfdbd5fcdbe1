"""A ResNet-style space: stages of basic residual blocks with a per-stage width and stride.

Widths come either from a list of choices per stage (``widths`` → ``width_i``) or from one
``width_multiplier`` applied to ``base_widths``. Parameters exist only when used: ``blocks_2``
and ``width_2`` only when ``stages >= 3``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import optuna
from torch import nn

from spaces.blocks import Backbone, BasicBlock, ConvBN, out_size, usable_stride
from spaces.domain import Choice, Domain, suggest
from spaces.knobs import Knobs
from spaces.options import (
    float_domain,
    int_choices,
    int_list,
    non_negative_int,
    reject_unknown,
    stride_pattern,
)
from spaces.registry import register_space
from spaces.spec import CompressSpec, TrainSpec

__all__ = ["ResNetSpace", "ResNetSpec", "conv_count"]

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
class ResNetSpace:
    """3×3 ConvBN stem → stages of BasicBlocks (projection shortcut when the shape changes) →
    global average pool → linear head. Works for any input size and class count: a stride is
    skipped when the map is smaller than twice the stride."""

    name: str = "resnet"
    spec_type: type = ResNetSpec

    def __init__(self, options: Mapping[str, Any] | None = None) -> None:
        opts = dict(options or {})
        self.knobs = Knobs.from_options(opts)
        self.knobs.require("resnet", per_layer_prune=True, per_layer_bits=False)
        reject_unknown("resnet", opts, _OPTIONS)
        self.min_stages = non_negative_int("min_stages", opts.get("min_stages", 1))
        self.max_stages = non_negative_int("max_stages", opts.get("max_stages", 3))
        if self.min_stages > self.max_stages:
            raise ValueError(f"space.min_stages: {self.min_stages} exceeds space.max_stages "
                             f"{self.max_stages}")
        self.blocks: Choice = int_choices("blocks", opts.get("blocks", [1, 2, 3]))
        self.strides = stride_pattern("strides", opts.get("strides", [1, 2, 2, 2]))
        self.stem_stride: Choice = int_choices("stem_stride", opts.get("stem_stride", [1]))
        if any(v not in (1, 2) for v in self.stem_stride.values):
            raise ValueError("space.stem_stride: use 1 or 2 (or a list of them)")
        _need("strides", len(self.strides), self.max_stages)
        self.multiplier: Domain | None = None
        self.widths: Choice | None = None
        if "width_multiplier" in opts:
            if "widths" in opts:
                raise ValueError("space.widths: give either widths (choices per stage) or "
                                 "width_multiplier with base_widths, not both")
            self.multiplier = float_domain("width_multiplier", opts["width_multiplier"])
            self.base_widths = int_list("base_widths", opts.get("base_widths", [16, 32, 64, 128]))
            _need("base_widths", len(self.base_widths), self.max_stages)
        else:
            if "base_widths" in opts:
                raise ValueError("space.base_widths: only used with width_multiplier; add "
                                 "width_multiplier = [0.5, 1.0] or remove base_widths")
            self.widths = int_choices("widths", opts.get("widths", [8, 16, 32, 64]))

    def sample(self, trial: optuna.Trial) -> ResNetSpec:
        """Draw a ResNetSpec; the only place this space calls ``trial.suggest_*``."""
        if self.min_stages == self.max_stages:
            stages = self.min_stages
        else:
            stages = trial.suggest_int("stages", self.min_stages, self.max_stages)
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
        compress, train = self.knobs.sample(trial, n_groups=conv_count(widths, blocks, strides))
        return ResNetSpec(widths, blocks, strides, stem_stride, compress, train)

    def build(self, spec: ResNetSpec, input_shape: tuple[int, ...], num_classes: int
              ) -> nn.Module:
        """Build the module for ``spec``; input_shape is (channels, height, width)."""
        if len(input_shape) != 3:
            raise ValueError(f"resnet: input_shape must be (C, H, W), got {input_shape}")
        if not len(spec.widths) == len(spec.blocks) == len(spec.strides) >= 1:
            raise ValueError(f"resnet: widths, blocks and strides need one entry per stage, "
                             f"got {spec.widths}, {spec.blocks}, {spec.strides}")
        channels, height, width = input_shape
        s = usable_stride(spec.stem_stride, height, width)
        stem = ConvBN(channels, spec.widths[0], 3, s)
        height, width = out_size(height, s), out_size(width, s)
        cin = spec.widths[0]
        stages = []
        for cout, n_blocks, stride in zip(spec.widths, spec.blocks, spec.strides, strict=True):
            s = usable_stride(stride, height, width)
            height, width = out_size(height, s), out_size(width, s)
            blocks = [BasicBlock(cin, cout, s)]
            blocks += [BasicBlock(cout, cout, 1) for _ in range(n_blocks - 1)]
            stages.append(nn.Sequential(*blocks))
            cin = cout
        return Backbone(stem, nn.Sequential(*stages), nn.Identity(), cin, num_classes)


def conv_count(widths: tuple[int, ...], blocks: tuple[int, ...], strides: tuple[int, ...]
               ) -> int:
    """Conv layers of a ResNet (the ratio targets of per-layer pruning): the stem, two per
    block, and a projection shortcut for every stage that changes the width or strides.

    Counted with the strides as given: an input so small that ``build`` skips a stride of a
    stage that keeps the width has one projection (one conv layer) fewer.
    """
    projections = sum(1 for i, (w, s) in enumerate(zip(widths, strides, strict=True))
                      if s != 1 or w != widths[max(i - 1, 0)])
    return 1 + 2 * sum(blocks) + projections


def _need(option: str, have: int, stages: int) -> None:
    if have < stages:
        raise ValueError(f"space.{option}: has {have} entries but space.max_stages is {stages}; "
                         "give one per stage")
