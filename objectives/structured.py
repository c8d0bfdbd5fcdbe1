"""Structured (channel) pruning: remove whole conv filters and return a physically smaller model.

A model opts in by implementing ``channel_groups()`` (see :mod:`spaces.channels`). For each group
the filters of the producing conv are ranked by their L1 or L2 norm; the weakest are removed from
that conv, from its batch norm, and from the input channels of every consumer (a conv, or a
linear head reading ``k × k`` pooled features per channel). The modules are replaced by NEW,
smaller ``nn.Conv2d`` / ``nn.BatchNorm2d`` / ``nn.Linear`` modules, so parameters, MACs and
latency really shrink. Groups are shrunk in order; each sees the model as the earlier ones left it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

import torch
from torch import nn

from spaces.channels import ChannelGroup, HasChannelGroups

M = TypeVar("M", bound=nn.Module)

__all__ = ["NORMS", "keep_count", "rank_filters", "shrink", "shrinkable"]

NORMS = ("l1", "l2")


def shrinkable(model: nn.Module) -> bool:
    """Whether ``model`` declares channel groups (supports structured pruning)."""
    return isinstance(model, HasChannelGroups)


def keep_count(channels: int, ratio: float) -> int:
    """Filters kept when pruning ``ratio`` of ``channels``: ``round((1 − ratio) · C)``, >= 1."""
    return max(1, round((1.0 - ratio) * channels))


def rank_filters(weight: torch.Tensor, keep: int, norm: str = "l1") -> torch.Tensor:
    """Indices (ascending) of the ``keep`` filters of ``weight`` (out × …) with largest norm."""
    if norm not in NORMS:
        raise ValueError(f"norm: unknown norm {norm!r}; choose from {NORMS}")
    flat = weight.detach().flatten(1)
    scores = flat.abs().sum(1) if norm == "l1" else flat.pow(2).sum(1).sqrt()
    top = torch.topk(scores, keep, largest=True, sorted=False).indices
    return torch.sort(top).values


def shrink(model: nn.Module, ratios: float | Sequence[float], norm: str = "l1"
           ) -> list[tuple[str, int, int]]:
    """Remove the weakest filters of every channel group of ``model`` in place.

    ``ratios`` is one ratio for all groups or one per group (in ``channel_groups()`` order).
    Returns ``(conv name, filters before, filters after)`` per group.
    """
    if not isinstance(model, HasChannelGroups):
        raise ValueError(f"prune_method: structured pruning needs a model with channel_groups(); "
                         f"{type(model).__name__} has none")
    groups = model.channel_groups()
    if not groups:
        raise ValueError(f"prune_method: {type(model).__name__} has no channel groups to prune")
    per_group = [float(ratios)] * len(groups) if isinstance(ratios, int | float) else list(ratios)
    if len(per_group) != len(groups):
        raise ValueError(f"layer_ratios: {len(per_group)} ratios for {len(groups)} channel groups")
    report = []
    for group, ratio in zip(groups, per_group, strict=True):
        before = _module(model, group.conv, nn.Conv2d).out_channels
        after = keep_count(before, ratio)
        if after < before:
            _shrink_group(model, group, after, norm)
        report.append((group.conv, before, after))
    return report


@torch.no_grad()
def _shrink_group(model: nn.Module, group: ChannelGroup, keep: int, norm: str) -> None:
    conv = _module(model, group.conv, nn.Conv2d)
    if conv.groups != 1:
        raise ValueError(f"{group.conv}: grouped/depthwise convs cannot be a channel group")
    idx = rank_filters(conv.weight, keep, norm)
    channels = conv.out_channels
    _replace(model, group.conv, _slice_conv(conv, out_idx=idx))
    if group.bn is not None:
        _replace(model, group.bn, _slice_bn(_module(model, group.bn, nn.BatchNorm2d), idx))
    for name in group.consumers:
        consumer = _module(model, name, nn.Module)
        if isinstance(consumer, nn.Conv2d):
            _replace(model, name, _slice_conv(consumer, in_idx=idx))
        elif isinstance(consumer, nn.Linear):
            per_channel = consumer.in_features // channels
            if per_channel * channels != consumer.in_features:
                raise ValueError(f"{name}: in_features {consumer.in_features} is not a multiple "
                                 f"of the {channels} channels of {group.conv}")
            offsets = torch.arange(per_channel, device=idx.device)
            features = (idx[:, None] * per_channel + offsets[None, :]).flatten()
            _replace(model, name, _slice_linear(consumer, features))
        else:
            raise ValueError(f"{name}: a consumer must be nn.Conv2d or nn.Linear, got "
                             f"{type(consumer).__name__}")


def _slice_conv(conv: nn.Conv2d, out_idx: torch.Tensor | None = None,
                in_idx: torch.Tensor | None = None) -> nn.Conv2d:
    weight = conv.weight
    if out_idx is not None:
        weight = weight[out_idx]
    if in_idx is not None:
        weight = weight[:, in_idx]
    new = nn.Conv2d(weight.shape[1], weight.shape[0], conv.kernel_size, conv.stride,  # type: ignore[arg-type]
                    conv.padding, conv.dilation, 1, conv.bias is not None,  # type: ignore[arg-type]
                    conv.padding_mode, device=weight.device, dtype=weight.dtype)
    new.weight.copy_(weight)
    if conv.bias is not None and new.bias is not None:
        new.bias.copy_(conv.bias if out_idx is None else conv.bias[out_idx])
    return new


def _slice_bn(bn: nn.BatchNorm2d, idx: torch.Tensor) -> nn.BatchNorm2d:
    new = nn.BatchNorm2d(len(idx), bn.eps, bn.momentum, bn.affine, bn.track_running_stats,
                         device=idx.device)
    if bn.affine:
        new.weight.copy_(bn.weight[idx])
        new.bias.copy_(bn.bias[idx])
    if bn.running_mean is not None and new.running_mean is not None:
        new.running_mean.copy_(bn.running_mean[idx])
    if bn.running_var is not None and new.running_var is not None:
        new.running_var.copy_(bn.running_var[idx])
    if bn.num_batches_tracked is not None and new.num_batches_tracked is not None:
        new.num_batches_tracked.copy_(bn.num_batches_tracked)
    return new


def _slice_linear(linear: nn.Linear, features: torch.Tensor) -> nn.Linear:
    new = nn.Linear(len(features), linear.out_features, linear.bias is not None,
                    device=linear.weight.device, dtype=linear.weight.dtype)
    new.weight.copy_(linear.weight[:, features])
    if linear.bias is not None and new.bias is not None:
        new.bias.copy_(linear.bias)
    return new


def _module(model: nn.Module, name: str, kind: type[M]) -> M:
    module = model.get_submodule(name)
    if not isinstance(module, kind):
        raise ValueError(f"{name}: expected {kind.__name__}, got {type(module).__name__}")
    return module


def _replace(model: nn.Module, name: str, new: nn.Module) -> None:
    parent_name, _, child = name.rpartition(".")
    parent = model.get_submodule(parent_name) if parent_name else model
    setattr(parent, child, new)
