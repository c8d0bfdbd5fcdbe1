"""Structured (channel) pruning of any ``nn.Module`` through Torch-Pruning's dependency graph.

Torch-Pruning (``torch_pruning``) traces one forward pass of an example input and finds the
groups of coupled channels: a conv's filters with its batch norm and the inputs of the layers
that read them (through flatten, pooling, concatenation), every layer tied to them by a residual
addition, and both sides of a depthwise conv. :func:`prune_structured` removes the weakest
channels of every group from all its members in place, so the model's modules really are smaller
(parameters, MACs and latency fall) and still run.

Rules:

- **Importance**: Torch-Pruning's group L1 magnitude (``MagnitudeImportance(p=1)``): per channel,
  the mean over the group's layers of the L1 norm of that channel's weights.
- **Keep count**: each group keeps ``max(1, round((1 − ratio) · C))`` of its ``C`` channels
  (:func:`keep_count`). Pruning is local (one ratio per group, never ranked across groups), so
  the pruned shapes depend only on the ratios, not on the weights: pruning a freshly built model
  the same way gives the shapes of a trained one (how stored models are reloaded).
- **Output layers are never pruned**: every ``Conv1d``/``Conv2d``/``Linear`` whose output width
  (out channels or features) equals the model's output width (``num_classes``, or ``dim 1`` of
  the output of one forward pass) keeps its outputs (:func:`output_layers`). A hidden layer
  exactly as wide as the output keeps its outputs too.
- **Per-layer ratios** refer to :func:`spaces.layers.ratio_targets` (every conv layer, or for a
  model without convs every linear layer but the last). A group takes the ratio of its *earliest*
  target (in ``named_modules`` order) among the layers whose outputs it prunes; a group with no
  target layer (e.g. the hidden linear layer of a CNN's classifier) keeps its width.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

import torch
import torch_pruning as tp
from torch import nn

from objectives.compress.steps import Compressor, StepContext, register_compressor
from spaces.layers import PrunesItself, keep_count, ratio_targets
from spaces.spec import CompressSpec

__all__ = ["PrunedGroup", "StructuredPruning", "keep_count", "output_layers",
           "prune_structured"]

_LAYERS = (nn.Conv1d, nn.Conv2d, nn.Linear)


@dataclasses.dataclass(frozen=True)
class PrunedGroup:
    """One group of coupled channels: the layer that named its ratio (its earliest layer whose
    outputs it prunes), the ratio asked for, and the channels before and after."""

    layer: str
    ratio: float
    before: int
    after: int


def _width(layer: nn.Module) -> int:
    """Output width of a conv (out channels) or linear layer (out features)."""
    if isinstance(layer, nn.Linear):
        return layer.out_features
    if isinstance(layer, nn.Conv1d | nn.Conv2d):
        return layer.out_channels
    raise TypeError(f"{type(layer).__name__} is not a conv or linear layer")


@torch.no_grad()
def _output_width(model: nn.Module, example_inputs: torch.Tensor) -> int:
    was_training = model.training
    model.eval()  # batch 1 through BatchNorm in training mode fails, and stats must not move
    try:
        out = model(example_inputs)
    finally:
        model.train(was_training)
    if not isinstance(out, torch.Tensor) or out.dim() < 2:
        raise ValueError(f"num_classes: the output of {type(model).__name__} is not a (batch, "
                         "width, ...) tensor; pass num_classes (the output width)")
    return int(out.shape[1])


def output_layers(model: nn.Module, example_inputs: torch.Tensor,
                  num_classes: int | None = None) -> list[str]:
    """Conv/linear layers whose output width equals the model's (``num_classes``, else measured
    by one forward pass of ``example_inputs``): structured pruning never removes their outputs."""
    width = num_classes if num_classes is not None else _output_width(model, example_inputs)
    return [n for n, m in model.named_modules() if isinstance(m, _LAYERS) and _width(m) == width]


def _per_layer(model: nn.Module, ratios: float | Sequence[float] | Mapping[str, float]
               ) -> tuple[float, dict[str, float]]:
    """(ratio of groups without a named layer, ratio by target layer name)."""
    if isinstance(ratios, int | float):
        _check_ratio("prune_ratio", float(ratios))
        return float(ratios), {}
    if isinstance(ratios, Mapping):
        named = {str(k): float(v) for k, v in ratios.items()}
        layers = {n for n, m in model.named_modules() if isinstance(m, _LAYERS)}
        unknown = sorted(set(named) - layers)
        if unknown:
            raise ValueError(f"layer_ratios: {unknown[0]!r} is not a conv or linear layer of "
                             f"{type(model).__name__}; name layers as in named_modules()")
    else:
        targets = ratio_targets(model)
        if len(ratios) != len(targets):
            raise ValueError(f"layer_ratios: {len(ratios)} ratios for {len(targets)} layers "
                             f"{targets}; give one per layer of ratio_targets(model)")
        named = dict(zip(targets, map(float, ratios), strict=True))
    for name, r in named.items():
        _check_ratio(f"layer_ratios[{name!r}]", r)
    return 0.0, named


def _check_ratio(field: str, ratio: float) -> None:
    if not 0.0 <= ratio < 1.0:
        raise ValueError(f"{field}: {ratio!r} is out of range; use a ratio in [0, 1)")


@torch.no_grad()
def _check_runs(model: nn.Module, example_inputs: torch.Tensor) -> None:
    """Raise if the pruned model no longer runs (e.g. a width hard-coded in its forward)."""
    try:
        model(example_inputs)
    except Exception as err:
        raise ValueError(f"prune_method: {type(model).__name__} no longer runs after structured "
                         f"pruning ({type(err).__name__}: {err}); its forward probably hard-codes "
                         "a width; use \"unstructured\" for it") from err


def _assign(model: nn.Module, graph: tp.DependencyGraph, ignored: list[nn.Module],
            named: dict[str, float], default: float) -> list[tuple[nn.Module, PrunedGroup]]:
    """(root layer, group) for every group of ``graph``; ``after`` is still ``before``."""
    order = {n: i for i, (n, _) in enumerate(model.named_modules())}
    names = {m: n for n, m in model.named_modules() if isinstance(m, _LAYERS)}
    out = []
    for group in graph.get_all_groups(ignored_layers=ignored, root_module_types=list(_LAYERS)):
        root = group[0].dep.target.module
        pruned = sorted((names[d.target.module] for d, _ in group
                         if isinstance(d.target.module, _LAYERS)
                         and graph.is_out_channel_pruning_fn(d.handler)), key=order.__getitem__)
        ratio = next((named[n] for n in pruned if n in named), default)
        out.append((root, PrunedGroup(pruned[0], ratio, _width(root), _width(root))))
    return sorted(out, key=lambda g: order[g[1].layer])


def prune_structured(model: nn.Module, example_inputs: torch.Tensor,
                     ratios: float | Sequence[float] | Mapping[str, float],
                     num_classes: int | None = None) -> list[PrunedGroup]:
    """Remove the weakest channels of every group of coupled layers of ``model`` in place.

    ``ratios``: one ratio for every group; or one per layer of :func:`spaces.layers.ratio_targets`
    (a sequence), or by layer name (a mapping), where a group takes the ratio of its earliest
    named layer and a group without one keeps its width. ``example_inputs`` (e.g. zeros of
    shape ``(1, *input_shape)`` on the model's device) is traced once; the model's training mode
    and batch-norm statistics are left as they were. Returns one :class:`PrunedGroup` per group,
    in ``named_modules`` order of their layers. Raises ValueError (the model already pruned) if
    the pruned model no longer runs.
    """
    default, named = _per_layer(model, ratios)
    ignored = [model.get_submodule(n) for n in output_layers(model, example_inputs, num_classes)]
    was_training = model.training
    model.eval()
    try:
        with torch.enable_grad():  # the dependency graph is traced through autograd
            graph = tp.DependencyGraph().build_dependency(model, example_inputs=example_inputs)
            groups = _assign(model, graph, ignored, named, default)
            # tp keeps int(C · (1 − r)) channels: ask for keep + ½ to keep exactly keep_count
            per_root = {root: 1.0 - (keep_count(g.before, g.ratio) + 0.5) / g.before
                        for root, g in groups if keep_count(g.before, g.ratio) < g.before}
            if per_root:
                pruner = tp.pruner.BasePruner(
                    model, example_inputs, importance=tp.importance.MagnitudeImportance(p=1),
                    global_pruning=False, pruning_ratio=0.0, pruning_ratio_dict=per_root,
                    ignored_layers=ignored, root_module_types=list(_LAYERS))
                pruner.step()
                _check_runs(model, example_inputs)
    finally:
        model.train(was_training)
    return [dataclasses.replace(g, after=_width(root)) for root, g in groups]


def _existing(model: nn.Module, ratios: Mapping[str, float]) -> dict[str, float] | None:
    """The per-layer ratios of the layers ``model`` still has (an earlier structure step, such
    as depth trimming, may have removed some; empty: every named layer is gone, the remaining
    groups keep their width); None where no per-layer ratio was given."""
    if not ratios:
        return None
    layers = {n for n, m in model.named_modules() if isinstance(m, _LAYERS)}
    return {n: r for n, r in ratios.items() if n in layers}


@register_compressor("structured")
class StructuredPruning(Compressor):
    """``method = "structured"``: :func:`prune_structured` traced on zeros of the input shape,
    or the model's own ``prune_structure`` when it has one (``spaces.layers.PrunesItself``,
    e.g. a transformer's heads and FFN neurons). The model shrinks; the pruned shapes depend
    only on the ratios, so :meth:`replay` is :meth:`apply` on a fresh model."""

    stage = "structure"
    phase = "prune"

    def active(self, c: CompressSpec) -> bool:
        return c.method == "structured" and c.max_ratio > 0

    def apply(self, model: nn.Module, c: CompressSpec, ctx: StepContext) -> None:
        if isinstance(model, PrunesItself):
            if c.layer_ratios:
                raise ValueError(f"layer_ratios: {type(model).__name__} prunes its own "
                                 "structure at one ratio; use the global prune_ratio")
            if c.prune_ratio > 0:
                model.prune_structure(c.prune_ratio)
            return
        first = next(model.parameters())
        example = torch.zeros((1, *ctx.input_shape), device=first.device, dtype=first.dtype)
        named = _existing(model, ctx.targets.ratios)
        prune_structured(model, example, c.prune_ratio if named is None else named)

    def replay(self, model: nn.Module, c: CompressSpec, ctx: StepContext) -> None:
        self.apply(model, c, ctx)
