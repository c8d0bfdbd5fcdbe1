"""The compression plan of one candidate: which registered steps its CompressSpec switches on,
which fine-tune phases follow, and how the Spec's per-layer lists map onto the model's layers.

The plan is computed once (:func:`plan_for`) and read by the pipeline, the objective (epochs to
run), early stopping (projections) and export (replay at reload). Every loop over compression
methods is here; the methods themselves are ``objectives.compress.steps.Compressor`` classes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import torch
from torch import nn

from objectives.budget import Budget
from objectives.compress.quantize import record_bits
from objectives.compress.steps import (
    COMPRESSORS,
    PHASES,
    Compressor,
    StepContext,
    Targets,
    list_compressors,
)
from spaces.layers import prunable_layers, ratio_targets
from spaces.spec import PRUNE_METHODS, CompressSpec

__all__ = ["Plan", "apply_compression", "apply_steps", "bits_by_layer", "plan_for",
           "ratio_targets", "replay_steps", "resolve_targets", "weights_kept"]


@dataclass(frozen=True)
class Plan:
    """The steps a CompressSpec switches on, in the order they run."""

    spec: CompressSpec
    steps: tuple[Compressor, ...]

    @property
    def phases(self) -> tuple[str, ...]:
        """Fine-tune phases that follow, in order (``"prune"``, ``"qat"``)."""
        wanted = {s.phase for s in self.steps}
        return tuple(p for p in PHASES if p in wanted)

    def phase_epochs(self, phase: str, budget: Budget) -> int:
        """Epochs ``budget`` gives ``phase``."""
        return int(getattr(budget, PHASES[phase].epochs_field))

    def epochs(self, budget: Budget) -> int:
        """Epochs a candidate trains: ``budget.epochs`` plus each phase's."""
        return budget.epochs + sum(self.phase_epochs(p, budget) for p in self.phases)

    def in_phase(self, phase: str) -> tuple[Compressor, ...]:
        """The steps ``phase`` repairs."""
        return tuple(s for s in self.steps if s.phase == phase)

    def must_train(self, phase: str) -> bool:
        """Whether ``phase`` must train even when compression cost nothing."""
        return any(s.must_train(self.spec) for s in self.in_phase(phase))


def plan_for(c: CompressSpec) -> Plan:
    """The plan of ``c``: every registered step it switches on."""
    if c.method not in PRUNE_METHODS:
        raise ValueError(f"method: unknown pruning method {c.method!r}; choose from "
                         f"{PRUNE_METHODS}")
    steps = (COMPRESSORS[name]() for name in list_compressors())
    return Plan(c, tuple(s for s in steps if s.active(c)))


def resolve_targets(model: nn.Module, c: CompressSpec) -> Targets:
    """Name ``c.layer_ratios`` and ``c.layer_bits`` by the layers of ``model`` as built."""
    targets = ratio_targets(model)
    if c.layer_ratios and len(c.layer_ratios) != len(targets):
        raise ValueError(f"layer_ratios: {len(c.layer_ratios)} ratios for {len(targets)} "
                         f"layers {targets}; the Spec was sampled for another model")
    names = list(prunable_layers(model))
    if c.layer_bits and len(c.layer_bits) != len(names):
        raise ValueError(f"layer_bits: {len(c.layer_bits)} widths for {len(names)} prunable "
                         f"layers {names}")
    ratios = dict(zip(targets, c.layer_ratios, strict=True)) if c.layer_ratios else {}
    bits = dict(zip(names, c.layer_bits, strict=True)) if c.layer_bits else {}
    return Targets(ratios, bits)


def apply_steps(model: nn.Module, plan: Plan, ctx: StepContext,
                stages: tuple[str, ...] = ("structure", "sparsity")
                ) -> dict[str, torch.Tensor]:
    """Run the plan's steps of ``stages`` on trained ``model`` in place; returns the mask of
    every prunable layer (ones where no sparsity step zeroed weights) for fine-tuning to hold."""
    masks: dict[str, torch.Tensor] = {}
    for step in plan.steps:
        if step.stage in stages:
            masks.update(step.apply(model, plan.spec, ctx) or {})
    return {n: masks[n] if n in masks else torch.ones_like(m.weight)
            for n, m in prunable_layers(model).items()}


def apply_compression(model: nn.Module, c: CompressSpec, input_shape: tuple[int, ...]
                      ) -> dict[str, torch.Tensor]:
    """:func:`apply_steps` for ``c`` on ``model`` as built (its per-layer lists named on it):
    the structure and sparsity steps, in place; returns the masks."""
    ctx = StepContext(tuple(input_shape), resolve_targets(model, c))
    return apply_steps(model, plan_for(c), ctx)


def replay_steps(model: nn.Module, c: CompressSpec, input_shape: tuple[int, ...]) -> nn.Module:
    """Give freshly built ``model`` the shapes the compressed model of ``c`` has, so that its
    stored state dict loads (structure steps replay; the others keep shapes), and record each
    prunable layer's packed bits on it (``quantize.planned_bits``). Returns it."""
    ctx = StepContext(tuple(input_shape), resolve_targets(model, c))
    for step in plan_for(c).steps:
        step.replay(model, c, ctx)
    for name, bits in bits_by_layer(model, c, ctx.targets).items():
        record_bits(model.get_submodule(name), bits)
    return model


def bits_by_layer(model: nn.Module, c: CompressSpec,
                  targets: Targets | None = None) -> dict[str, int]:
    """Weight bits of every prunable layer of ``model`` (32 where no step sets any), as the
    plan's precision steps set them. ``targets``: the Spec's per-layer lists resolved on the
    model as built (default: resolved on ``model``, right for a model no structure step
    renamed)."""
    ctx = StepContext((), targets or resolve_targets(model, c))
    bits = dict.fromkeys(prunable_layers(model), 32)
    for step in plan_for(c).steps:
        bits.update(step.bits(model, c, ctx))
    return bits


def weights_kept(masks: Mapping[str, torch.Tensor]) -> int:
    """Nonzero entries of ``masks``: the prunable weights a compressed model keeps."""
    return sum(int(torch.count_nonzero(m)) for m in masks.values())
