"""Low-rank factorisation: each Linear and Conv layer becomes two thinner ones (truncated SVD).

A layer with weight ``W`` of shape ``(out, in, *k)`` is seen as the ``out × (in·Πk)`` matrix
``U S Vᵀ``; at rank ``r`` it becomes a first layer (``Vᵣᵀ`` scaled by ``√Sᵣ``: ``in → r``, the
original kernel, stride, padding and dilation, no bias) followed by a second (``Uᵣ √Sᵣ``:
``r → out``, a 1×1 kernel or a Linear, the original bias), held in an ``nn.Sequential`` under
the layer's name. ``r = max(1, round(rank_ratio · min(out, in·Πk)))``; a layer is factorised
only where the two factors hold fewer weights than it (``r · (in·Πk + out) < out · in·Πk``),
and grouped (depthwise) convs are kept. Shapes depend only on ``rank_ratio`` and the layer
shapes, so a fresh model replays the factorisation without the weights.

The step adds the knob ``rank_ratio`` (``[space] rank_ratio = [0.25, 0.5, 1.0]``; 1 turns it
off), runs after structured pruning, and is fine-tuned in the "prune" phase. The factors are
ordinary conv and linear layers: they are pruned, quantized (at the bits of the layer they
replace), packed, counted in MACs and exported like any other.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from objectives.compress.steps import Compressor, StepContext, register_compressor
from spaces.domain import Choice
from spaces.knobs import StepKnob
from spaces.layers import PrunableLayer, PrunesItself, prunable_layers
from spaces.spec import CompressSpec

__all__ = ["LowRank", "factorise", "rank_of"]

Conv = nn.Conv1d | nn.Conv2d


def _rank_ratio_ok(value: float) -> bool:
    return 0.0 < value <= 1.0


RANK_RATIO = StepKnob("rank_ratio", float, Choice((1.0,)), _rank_ratio_ok,
                      "use values in (0, 1] (1 keeps every layer whole)", 1.0)


def rank_of(layer: PrunableLayer, ratio: float) -> int | None:
    """The rank ``layer`` is factorised to at ``ratio``, or None where it is kept whole
    (factors no smaller than the layer, or a grouped conv)."""
    if isinstance(layer, Conv) and layer.groups != 1:
        return None
    out, fan_in = layer.weight.shape[0], math.prod(layer.weight.shape[1:])
    rank = max(1, round(ratio * min(out, fan_in)))
    return rank if rank * (fan_in + out) < out * fan_in else None


def _factors(layer: PrunableLayer, rank: int) -> tuple[PrunableLayer, PrunableLayer]:
    """The two empty layers that replace ``layer`` at ``rank``."""
    kw: dict[str, Any] = {"device": layer.weight.device, "dtype": layer.weight.dtype}
    bias = layer.bias is not None
    if isinstance(layer, nn.Linear):
        return (nn.Linear(layer.in_features, rank, bias=False, **kw),
                nn.Linear(rank, layer.out_features, bias=bias, **kw))
    shape: dict[str, Any] = {"kernel_size": layer.kernel_size, "stride": layer.stride,
                             "padding": layer.padding, "dilation": layer.dilation,
                             "padding_mode": layer.padding_mode}
    cls = type(layer)
    return (cls(layer.in_channels, rank, bias=False, **shape, **kw),
            cls(rank, layer.out_channels, 1, bias=bias, **kw))


@torch.no_grad()
def factorise(layer: PrunableLayer, rank: int, *, copy_weights: bool = True) -> nn.Sequential:
    """``layer`` as two layers of rank ``rank`` (the best rank-``rank`` approximation of its
    weight, by truncated SVD); without ``copy_weights`` only the shapes."""
    first, second = _factors(layer, rank)
    if copy_weights:
        weight = layer.weight.detach().flatten(1).float()
        u, s, vh = torch.linalg.svd(weight, full_matrices=False)
        root = s[:rank].sqrt()
        first.weight.copy_((root[:, None] * vh[:rank]).reshape(first.weight.shape))
        second.weight.copy_((u[:, :rank] * root[None, :]).reshape(second.weight.shape))
        if layer.bias is not None and second.bias is not None:
            second.bias.copy_(layer.bias)
    return nn.Sequential(first, second)


def _factorise_all(model: nn.Module, ratio: float, *, copy_weights: bool) -> None:
    if isinstance(model, PrunesItself):
        raise ValueError(f"rank_ratio: {type(model).__name__} prunes its own structure and "
                         "reloads from its own config; keep rank_ratio = 1 for it")
    for name, layer in list(prunable_layers(model).items()):
        rank = rank_of(layer, ratio)
        if rank is not None:
            parent, _, child = name.rpartition(".")
            model.get_submodule(parent).register_module(
                child, factorise(layer, rank, copy_weights=copy_weights))


@register_compressor("lowrank")
class LowRank(Compressor):
    """Truncated-SVD factorisation of every Linear and Conv layer at ``rank_ratio``."""

    stage = "structure"
    phase = "prune"
    knobs = (RANK_RATIO,)

    def active(self, c: CompressSpec) -> bool:
        return float(c.steps.get(RANK_RATIO.name, RANK_RATIO.off)) < 1.0

    def apply(self, model: nn.Module, c: CompressSpec, ctx: StepContext) -> None:
        _factorise_all(model, float(c.steps[RANK_RATIO.name]), copy_weights=True)

    def replay(self, model: nn.Module, c: CompressSpec, ctx: StepContext) -> None:
        _factorise_all(model, float(c.steps[RANK_RATIO.name]), copy_weights=False)
