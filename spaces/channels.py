"""The channel-group protocol: how a model tells structured pruning which channels it may remove.

A :class:`ChannelGroup` names a producing ``nn.Conv2d`` (its output channels are the group), the
``nn.BatchNorm2d`` that normalises them (or ``None``), and the consumers of those channels: the
next ``nn.Conv2d`` (its input channels) or an ``nn.Linear`` that reads them after
``AdaptiveAvgPool2d`` + ``Flatten`` (``in_features = channels × k × k``, channel-major).

Residual rule: channels tied by an addition (a block's output, which is added to its shortcut)
are never a group. Only a block's *internal* channels are: for a BasicBlock
``conv1 → bn1 → relu → conv2 → bn2 (+ shortcut)`` the group is
``ChannelGroup("block.conv1", "block.bn1", ("block.conv2",))``; for an inverted residual, the
expansion ``conv → bn`` whose consumer is a depthwise conv is not supported yet (the depthwise
conv would have to shrink with it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

__all__ = ["ChannelGroup", "HasChannelGroups"]


@dataclass(frozen=True)
class ChannelGroup:
    """Output channels of ``conv`` that may be removed together (names are qualified module
    names as in ``model.named_modules()``)."""

    conv: str
    bn: str | None
    consumers: tuple[str, ...]


@runtime_checkable
class HasChannelGroups(Protocol):
    """A model that supports structured pruning."""

    def channel_groups(self) -> list[ChannelGroup]: ...
