"""Unstructured magnitude pruning with torch's own pruning utilities, and its step
(``method = "unstructured"``): weights are zeroed in place, shapes are kept."""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn
from torch.nn.utils import prune

from objectives.compress.steps import Compressor, StepContext, register_compressor
from spaces.layers import PrunableLayer, prunable_layers
from spaces.spec import CompressSpec

__all__ = ["PrunableLayer", "UnstructuredPruning", "prunable_layers", "prune_magnitude"]


def prune_magnitude(model: nn.Module, ratio: float,
                    layer_ratios: Mapping[str, float] | None = None) -> dict[str, torch.Tensor]:
    """Zero the ``ratio`` smallest-magnitude weights over all prunable layers (global L1), or,
    with ``layer_ratios``, each named layer's smallest weights at its own ratio (layers not
    named use ``ratio``).

    The zeros are made permanent in the weights; the returned masks (1 keep, 0 pruned) let
    fine-tuning hold them.
    """
    layers = prunable_layers(model)
    if layer_ratios:
        for name, m in layers.items():
            prune.l1_unstructured(m, "weight", amount=float(layer_ratios.get(name, ratio)))
    elif ratio > 0:
        params = [(m, "weight") for m in layers.values()]
        prune.global_unstructured(params, pruning_method=prune.L1Unstructured, amount=ratio)
    if layer_ratios or ratio > 0:
        masks = {name: getattr(m, "weight_mask").detach().clone()  # noqa: B009
                 for name, m in layers.items()}
        for m in layers.values():
            prune.remove(m, "weight")
        return masks
    return {name: torch.ones_like(m.weight) for name, m in layers.items()}


@register_compressor("unstructured")
class UnstructuredPruning(Compressor):
    """Global magnitude pruning at ``prune_ratio``, or per layer at ``layer_ratios`` (layers
    without one, e.g. the head, use ``prune_ratio``); fine-tuned in the "prune" phase."""

    stage = "sparsity"
    phase = "prune"

    def active(self, c: CompressSpec) -> bool:
        return c.method == "unstructured" and c.max_ratio > 0

    def apply(self, model: nn.Module, c: CompressSpec, ctx: StepContext
              ) -> dict[str, torch.Tensor]:
        layers = prunable_layers(model)
        per_layer = {n: r for n in layers if (r := ctx.targets.ratio_of(n)) is not None}
        return prune_magnitude(model, c.prune_ratio, per_layer or None)
