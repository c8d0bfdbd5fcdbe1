"""How a CompressSpec maps onto a concrete model: which layer gets which ratio and bits, and the
pruning step itself (unstructured masks, or structured pruning through Torch-Pruning)."""

from __future__ import annotations

import torch
from torch import nn

from objectives.compress.prune import prune_magnitude
from objectives.compress.structured import prune_structured
from spaces.layers import PrunesItself, prunable_layers, ratio_targets
from spaces.spec import CompressSpec

__all__ = ["apply_pruning", "bits_by_layer", "ratio_targets", "replay_pruning"]


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


def _example(model: nn.Module, input_shape: tuple[int, ...]) -> torch.Tensor:
    """Zeros of shape ``(1, *input_shape)`` on the device (and dtype) of the model's weights."""
    first = next(model.parameters())
    return torch.zeros((1, *input_shape), device=first.device, dtype=first.dtype)


def _prune_structured(model: nn.Module, c: CompressSpec, input_shape: tuple[int, ...]) -> None:
    if isinstance(model, PrunesItself):  # e.g. a transformer: heads and FFN neurons
        if c.layer_ratios:
            raise ValueError(f"layer_ratios: {type(model).__name__} prunes its own structure "
                             "at one ratio; use the global prune_ratio")
        if c.prune_ratio > 0:
            model.prune_structure(c.prune_ratio)
    elif c.max_ratio > 0:
        prune_structured(model, _example(model, input_shape), c.layer_ratios or c.prune_ratio)


def apply_pruning(model: nn.Module, c: CompressSpec, input_shape: tuple[int, ...]
                  ) -> dict[str, torch.Tensor]:
    """Prune ``model`` in place as ``c`` says and return the masks fine-tuning must hold.

    Structured (:mod:`objectives.compress.structured`, traced on zeros of ``input_shape``, or
    the model's own ``prune_structure`` when it has one, ``spaces.layers.PrunesItself``):
    channels are removed from every group of coupled layers but the output layer (the model
    shrinks) and the masks are all ones; with ``layer_ratios`` a group takes the ratio of its
    earliest target layer. Unstructured: global magnitude pruning at ``prune_ratio``, or
    per-layer magnitude pruning at ``layer_ratios`` (layers without one, e.g. the head, use
    ``prune_ratio``).
    """
    targets = ratio_targets(model)
    if c.layer_ratios and len(c.layer_ratios) != len(targets):
        raise ValueError(f"layer_ratios: {len(c.layer_ratios)} ratios for {len(targets)} "
                         f"layers {targets}; the Spec was sampled for another model")
    if c.method == "structured":
        _prune_structured(model, c, input_shape)
        return {n: torch.ones_like(m.weight) for n, m in prunable_layers(model).items()}
    if c.method != "unstructured":
        raise ValueError(f"method: unknown pruning method {c.method!r}")
    per_layer = dict(zip(targets, c.layer_ratios, strict=True)) if c.layer_ratios else None
    return prune_magnitude(model, c.prune_ratio, per_layer)


def replay_pruning(model: nn.Module, c: CompressSpec, input_shape: tuple[int, ...]) -> nn.Module:
    """Give a freshly built ``model`` the shapes the compressed model of ``c`` has, so that its
    stored state dict loads: structured pruning is replayed (pruned shapes depend only on the
    ratios); unstructured pruning keeps shapes, so nothing is done. Returns ``model``."""
    if c.method == "structured":
        _prune_structured(model, c, input_shape)
    return model
