"""How a CompressSpec maps onto a concrete model: which layer gets which ratio and bits, and the
pruning step itself (unstructured masks or structured shrinking)."""

from __future__ import annotations

import torch
from torch import nn

from objectives.prune import prunable_layers, prune_magnitude
from objectives.structured import shrink
from spaces.channels import HasChannelGroups
from spaces.spec import CompressSpec

__all__ = ["apply_pruning", "bits_by_layer", "ratio_targets"]


def ratio_targets(model: nn.Module) -> list[str]:
    """Layers ``CompressSpec.layer_ratios`` refers to, in order: the producing conv of every
    channel group (models with ``channel_groups()``), else every prunable conv layer."""
    if isinstance(model, HasChannelGroups):
        return [g.conv for g in model.channel_groups()]
    return [n for n, m in prunable_layers(model).items() if isinstance(m, nn.Conv1d | nn.Conv2d)]


def bits_by_layer(model: nn.Module, c: CompressSpec) -> dict[str, int]:
    """Weight bits of every prunable layer: ``c.layer_bits`` in ``prunable_layers`` order (the
    head included), or ``c.bits`` for all."""
    names = list(prunable_layers(model))
    if not c.layer_bits:
        return dict.fromkeys(names, c.bits)
    if len(c.layer_bits) != len(names):
        raise ValueError(f"layer_bits: {len(c.layer_bits)} widths for {len(names)} prunable "
                         f"layers {names}")
    return dict(zip(names, c.layer_bits, strict=True))


def apply_pruning(model: nn.Module, c: CompressSpec, norm: str = "l1"
                  ) -> dict[str, torch.Tensor]:
    """Prune ``model`` in place as ``c`` says and return the masks fine-tuning must hold.

    Structured: filters are removed (the model shrinks) and the masks are all ones. Unstructured:
    global magnitude pruning at ``prune_ratio``, or per-layer magnitude pruning at
    ``layer_ratios`` (layers without one, e.g. the head, use ``prune_ratio``).
    """
    targets = ratio_targets(model)
    if c.layer_ratios and len(c.layer_ratios) != len(targets):
        raise ValueError(f"layer_ratios: {len(c.layer_ratios)} ratios for {len(targets)} "
                         f"layers {targets}")
    if c.method == "structured":
        if c.max_ratio > 0:
            shrink(model, c.layer_ratios or c.prune_ratio, norm)
        return {n: torch.ones_like(m.weight) for n, m in prunable_layers(model).items()}
    if c.method != "unstructured":
        raise ValueError(f"method: unknown pruning method {c.method!r}")
    per_layer = dict(zip(targets, c.layer_ratios, strict=True)) if c.layer_ratios else None
    return prune_magnitude(model, c.prune_ratio, per_layer)
