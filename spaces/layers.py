"""Which layers of a model the compression knobs refer to, in a stable order.

Spaces count them to sample per-layer knobs (``bits_i``, ``prune_ratio_i``); objectives prune
and quantize them. Both read this one definition, so a Spec's per-layer lists always line up
with the model they were sampled for.
"""

from __future__ import annotations

from torch import nn

__all__ = ["PrunableLayer", "prunable_layers", "ratio_targets"]

PrunableLayer = nn.Conv1d | nn.Conv2d | nn.Linear


def prunable_layers(model: nn.Module) -> dict[str, PrunableLayer]:
    """Conv and linear layers by qualified name (``named_modules`` order): their weights are
    pruned and quantized; ``CompressSpec.layer_bits`` has one entry per layer."""
    return {name: m for name, m in model.named_modules() if isinstance(m, PrunableLayer)}


def ratio_targets(model: nn.Module) -> list[str]:
    """Layers ``CompressSpec.layer_ratios`` refers to, in ``prunable_layers`` order, for both
    pruning methods: every conv layer; for a model without convs, every linear layer but the
    last (an MLP's hidden layers)."""
    layers = list(prunable_layers(model).items())
    convs = [n for n, m in layers if isinstance(m, nn.Conv1d | nn.Conv2d)]
    return convs or [n for n, _ in layers[:-1]]
