"""Building blocks of the residual spaces: every conv sits in a ``ConvBN`` (``conv``, ``bn``,
``act``), so a model is a regular tree of named conv/BN pairs that pruning can walk."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence

import torch
from torch import nn

__all__ = ["Backbone", "BasicBlock", "ConvBN", "InvertedResidual", "out_size", "stem_and_stages",
           "usable_stride"]

#: ``block(cin, cout, stride) -> nn.Module``: one block of a stage.
Block = Callable[[int, int, int], nn.Module]


class ConvBN(nn.Sequential):
    """``conv`` (no bias) → ``bn`` → ``act`` (ReLU, ReLU6 or none)."""

    def __init__(self, cin: int, cout: int, kernel: int = 3, stride: int = 1, groups: int = 1,
                 act: str | None = "relu") -> None:
        layers: OrderedDict[str, nn.Module] = OrderedDict(
            conv=nn.Conv2d(cin, cout, kernel, stride, kernel // 2, groups=groups, bias=False),
            bn=nn.BatchNorm2d(cout),
        )
        if act == "relu":
            layers["act"] = nn.ReLU(inplace=True)
        elif act == "relu6":
            layers["act"] = nn.ReLU6(inplace=True)
        super().__init__(layers)


class BasicBlock(nn.Module):
    """ResNet basic block: two 3×3 ConvBNs and a shortcut (a 1×1 ConvBN projection when the
    stride or the width changes, else identity)."""

    def __init__(self, cin: int, cout: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = ConvBN(cin, cout, 3, stride)
        self.conv2 = ConvBN(cout, cout, 3, 1, act=None)
        self.shortcut: nn.Module = (nn.Identity() if stride == 1 and cin == cout
                                    else ConvBN(cin, cout, 1, stride, act=None))
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.relu(self.conv2(self.conv1(x)) + self.shortcut(x))
        return out


class InvertedResidual(nn.Module):
    """MobileNetV2 block: 1×1 expansion (absent when ``expansion == 1``) → 3×3 depthwise →
    linear 1×1 projection; the input is added back when stride is 1 and widths match."""

    def __init__(self, cin: int, cout: int, stride: int, expansion: int) -> None:
        super().__init__()
        hidden = cin * expansion
        self.expand: nn.Module = (ConvBN(cin, hidden, 1, act="relu6") if expansion != 1
                                  else nn.Identity())
        self.depthwise = ConvBN(hidden, hidden, 3, stride, groups=hidden, act="relu6")
        self.project = ConvBN(hidden, cout, 1, act=None)
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.project(self.depthwise(self.expand(x)))
        return out + x if self.residual else out


class Backbone(nn.Module):
    """``stem`` → ``stages`` → ``head`` (a 1×1 ConvBN or identity) → global average pool →
    ``classifier``; the pool makes it work for any input size."""

    def __init__(self, stem: nn.Module, stages: nn.Sequential, head: nn.Module, features: int,
                 num_classes: int) -> None:
        super().__init__()
        self.stem = stem
        self.stages = stages
        self.head = head
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(features, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.head(self.stages(self.stem(x)))
        out: torch.Tensor = self.classifier(torch.flatten(self.pool(x), 1))
        return out


def usable_stride(stride: int, height: int, width: int) -> int:
    """``stride``, or 1 when the map is too small for it (maps never shrink below 2 px)."""
    return stride if min(height, width) >= 2 * stride else 1


def out_size(size: int, stride: int) -> int:
    """Spatial size after a padded conv with ``stride`` (kernel 1 or 3)."""
    return (size - 1) // stride + 1


def stem_and_stages(space: str, input_shape: tuple[int, ...], block: Block,
                    widths: Sequence[int], counts: Sequence[int], strides: Sequence[int], *,
                    stem_width: int | None = None, stem_stride: int = 1, act: str = "relu"
                    ) -> tuple[ConvBN, nn.Sequential]:
    """The stem and stages of a residual ``space`` for ``input_shape`` = (C, H, W): a 3×3
    ConvBN stem (``stem_width`` channels, default the first stage's), then one
    ``nn.Sequential`` per stage of ``counts[i]`` blocks ``block(cin, cout, stride)`` of
    ``widths[i]`` channels, the first with stride ``strides[i]``. A stride is skipped where the
    map is too small for it (:func:`usable_stride`)."""
    if len(input_shape) != 3:
        raise ValueError(f"{space}: input_shape must be (C, H, W), got {input_shape}")
    if not len(widths) == len(counts) == len(strides) >= 1:
        raise ValueError(f"{space}: the stage widths, block counts and strides need one entry "
                         f"per stage, got {widths}, {counts}, {strides}")
    channels, height, width = input_shape
    cin = widths[0] if stem_width is None else stem_width
    s = usable_stride(stem_stride, height, width)
    stem = ConvBN(channels, cin, 3, s, act=act)
    height, width = out_size(height, s), out_size(width, s)
    stages = []
    for cout, n, stride in zip(widths, counts, strides, strict=True):
        s = usable_stride(stride, height, width)
        height, width = out_size(height, s), out_size(width, s)
        stages.append(nn.Sequential(block(cin, cout, s),
                                    *(block(cout, cout, 1) for _ in range(n - 1))))
        cin = cout
    return stem, nn.Sequential(*stages)
