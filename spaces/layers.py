"""Which layers of a model the compression knobs refer to, in a stable order.

Spaces count them (:func:`layer_counts`, on a meta-device build of the sampled architecture)
to sample per-layer knobs (``bits_i``, ``prune_ratio_i``); objectives prune and quantize them.
Both read this one definition, so a Spec's per-layer lists always line up with the model they
were sampled for.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, runtime_checkable

import torch
from torch import nn

__all__ = ["PrunableLayer", "PrunesItself", "keep_count", "layer_counts", "prunable_layers",
           "ratio_targets"]

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


def layer_counts(build: Callable[[], nn.Module]) -> tuple[int, int]:
    """``(len(ratio_targets(model)), len(prunable_layers(model)))`` of the model ``build()``
    makes, built on the meta device (shapes only: no memory, no weight initialisation): the
    ``n_groups`` and ``n_layers`` a space gives ``Knobs.sample`` for its per-layer knobs."""
    with torch.device("meta"):
        model = build()
    return len(ratio_targets(model)), len(prunable_layers(model))


def keep_count(channels: int, ratio: float) -> int:
    """Channels (or heads, neurons) kept when pruning ``ratio`` of ``channels``:
    ``round((1 − ratio) · C)``, at least 1."""
    return max(1, round((1.0 - ratio) * channels))


@runtime_checkable
class PrunesItself(Protocol):
    """A model that does its own structured pruning (e.g. a transformer removing attention
    heads and FFN neurons): ``prune_structure(ratio)`` shrinks it in place, and the shapes it
    leaves depend only on ``ratio``, so a fresh model pruned the same way loads the weights of
    a trained one. Structured pruning calls it instead of Torch-Pruning's dependency graph."""

    def prune_structure(self, ratio: float) -> None:
        """Remove ``ratio`` of every prunable structure in place."""
