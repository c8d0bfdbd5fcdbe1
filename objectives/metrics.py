"""What a candidate is judged by: accuracy (or the study's metric, :func:`score`), nonzero
parameters, size in bytes, MACs, latency."""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Mapping

import torch
from torch import nn
from torch.nn.utils import parametrize

from objectives.compress.packing import packed_size
from objectives.compress.prune import prunable_layers
from objectives.data import DataSplit
from objectives.data.batches import batches
from objectives.task import metric_fn

__all__ = [
    "accuracy",
    "effective_state",
    "latency_ms",
    "macs",
    "nonzero_params",
    "predict",
    "score",
    "size_bytes",
    "weight_bits",
]

@torch.no_grad()
def accuracy(model: nn.Module, split: DataSplit, batch_size: int = 2048) -> float:
    """Top-1 accuracy of ``model`` (in eval mode) on ``split``."""
    model.eval()
    correct = 0
    for _, x, y in batches(split, batch_size):
        correct += int((model(x).argmax(dim=1) == y).sum())
    return correct / max(1, len(split))


@torch.no_grad()
def predict(model: nn.Module, split: DataSplit, batch_size: int = 2048
            ) -> tuple[torch.Tensor, torch.Tensor]:
    """``model``'s outputs (in eval mode) on ``split`` and the split's targets, row for row."""
    model.eval()
    outputs, targets = [], []
    for _, x, y in batches(split, batch_size):
        outputs.append(model(x))
        targets.append(y)
    if not outputs:
        return torch.empty(0), torch.empty(0)
    return torch.cat(outputs), torch.cat(targets)


def score(model: nn.Module, split: DataSplit, metric: str = "accuracy",
          batch_size: int = 2048) -> float:
    """The study's ``metric`` (a name or import string, see ``objectives.task``) of ``model``
    on ``split``; higher is better. Accuracy is counted batch by batch; any other metric sees
    the whole split's outputs at once."""
    if metric == "accuracy":
        return accuracy(model, split, batch_size)
    fn = metric_fn(metric)
    with torch.no_grad():
        return float(fn(*predict(model, split, batch_size)))


def nonzero_params(model: nn.Module) -> int:
    """Number of nonzero entries over all parameters (weights, biases, batch-norm affines)."""
    return int(sum(int(torch.count_nonzero(p)) for p in model.parameters()))


def effective_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """``model``'s state dict as it would be stored: a parametrized weight (pruning mask,
    fake quantization) at its effective value under ``<layer>.weight``, the parametrization's
    internals (original weight, mask) left out. After ``bake`` this is the plain state dict."""
    state = {k: v for k, v in model.state_dict().items() if ".parametrizations." not in k}
    for name, module in model.named_modules():
        if parametrize.is_parametrized(module, "weight"):
            state[f"{name}.weight" if name else "weight"] = module.weight.detach() + 0.0
    return state


def weight_bits(model: nn.Module, bits: int | Mapping[str, int]) -> dict[str, int]:
    """Bits of each prunable layer's weight keyed by its state-dict key (``<layer>.weight``),
    from one width for all or a width per layer name (layers not named: 32)."""
    return {f"{name}.weight": bits if isinstance(bits, int) else bits.get(name, 32)
            for name in prunable_layers(model)}


def size_bytes(model: nn.Module, bits: int | Mapping[str, int]) -> int:
    """Bytes of the packed weights file of ``model`` (``objectives.compress.packing``): every
    entry of its state dict, prunable weights at their ``bits`` (bit-packed codes and
    per-channel float32 scales), everything else (biases, batch-norm affines and running
    statistics) at its dtype, zeros left out behind the cheapest index per tensor (dense,
    bitmap or run lengths), index and record headers counted. Only the file's fixed
    container header (under 512 bytes, the same for every model) is not included. Computed
    without writing anything."""
    return packed_size(effective_state(model), weight_bits(model, bits))


@torch.no_grad()
def macs(model: nn.Module, input_shape: tuple[int, ...]) -> int:
    """Dense multiply-accumulates of one forward pass on one input of ``input_shape``: those of
    every conv and linear layer, plus what a module's ``extra_macs(input)`` method says its
    own arithmetic costs (e.g. a transformer's attention products)."""
    total = 0

    def conv_hook(m: nn.Module, _: tuple[torch.Tensor, ...], out: torch.Tensor) -> None:
        nonlocal total
        assert isinstance(m, nn.Conv2d | nn.Conv1d)
        per_output = (m.in_channels // m.groups) * math.prod(m.kernel_size)
        total += out.numel() * per_output

    def linear_hook(m: nn.Module, _: tuple[torch.Tensor, ...], out: torch.Tensor) -> None:
        nonlocal total
        assert isinstance(m, nn.Linear)
        total += out.numel() * m.in_features

    def extra_hook(m: nn.Module, inputs: tuple[torch.Tensor, ...], _: torch.Tensor) -> None:
        nonlocal total
        total += int(m.extra_macs(inputs[0]))  # type: ignore[operator]

    handles = []
    for m in model.modules():
        if callable(getattr(m, "extra_macs", None)):
            handles.append(m.register_forward_hook(extra_hook))
        if isinstance(m, nn.Conv2d | nn.Conv1d):
            handles.append(m.register_forward_hook(conv_hook))
        elif isinstance(m, nn.Linear):
            handles.append(m.register_forward_hook(linear_hook))
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    try:
        model(torch.zeros((1, *input_shape), device=device))
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    return total


@torch.no_grad()
def latency_ms(model: nn.Module, input_shape: tuple[int, ...], reps: int = 10,
               warmup: int = 3, batch: int = 1) -> float:
    """Median wall time in milliseconds of a forward pass on ``batch`` inputs (after ``warmup``
    runs), on the device of the model's parameters (CPU for a model without any)."""
    first = next(model.parameters(), None)
    device = first.device if first is not None else torch.device("cpu")
    x = torch.zeros((batch, *input_shape), device=device)
    model.eval()
    times = []
    for i in range(warmup + reps):
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        model(x)
        if device.type == "cuda":
            torch.cuda.synchronize()
        if i >= warmup:
            times.append((time.perf_counter() - start) * 1000.0)
    return statistics.median(times)
