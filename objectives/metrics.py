"""What a candidate is judged by: accuracy (or the study's metric, :func:`score`), nonzero
parameters, size in bytes, MACs, latency."""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Iterable, Mapping

import torch
from torch import nn
from torch.nn.utils import parametrize

from objectives.compress.prune import prunable_layers
from objectives.data import DataSplit
from objectives.data.batches import batches
from objectives.task import metric_fn

__all__ = [
    "accuracy",
    "compressed_size",
    "latency_ms",
    "macs",
    "nonzero_params",
    "predict",
    "score",
    "size_bytes",
    "split_parameters",
]

SCALE_BYTES = 4  # one float32 scale per output channel of a quantized weight
FLOAT_BYTES = 4  # everything not quantized is stored as float32


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


def split_parameters(model: nn.Module) -> tuple[dict[str, torch.Tensor], list[torch.Tensor]]:
    """Effective weights of the prunable layers (masks and quantization applied, if any), and
    every other parameter (biases, batch-norm affines)."""
    layers = prunable_layers(model)
    weights = {name: layer.weight for name, layer in layers.items()}
    owned = set()
    for layer in layers.values():
        if parametrize.is_parametrized(layer, "weight"):
            owned.add(id(getattr(layer.parametrizations, "weight").original))  # noqa: B009
        else:
            owned.add(id(layer.weight))
    return weights, [p for p in model.parameters() if id(p) not in owned]


def compressed_size(weights: Mapping[str, torch.Tensor], others: Iterable[torch.Tensor],
                    bits: int | Mapping[str, int]) -> int:
    """Bytes of prunable ``weights`` at their bits plus ``others`` at float32 (see
    :func:`size_bytes`)."""
    total_bits = 0
    for name, weight in weights.items():
        b = bits if isinstance(bits, int) else bits.get(name, 32)
        nonzero = int(torch.count_nonzero(weight))
        if b < 32:
            total_bits += nonzero * b + weight.shape[0] * SCALE_BYTES * 8
        else:
            total_bits += nonzero * FLOAT_BYTES * 8
    total_bits += sum(int(torch.count_nonzero(p)) for p in others) * FLOAT_BYTES * 8
    return math.ceil(total_bits / 8)


def size_bytes(model: nn.Module, bits: int | Mapping[str, int]) -> int:
    """Storage size: quantized weights at their bits plus stated overhead.

    For every prunable layer (conv/linear weight) at ``b < 32`` bits:
    ``nonzero × b / 8`` bytes plus one float32 scale per output channel. Weights at 32 bits and
    every other parameter (biases, batch-norm affines) count ``nonzero × 4`` bytes. Zeros are
    free (sparse storage; index overhead is not counted). Batch-norm running statistics are
    buffers that fold into the conv at export and are not counted.
    """
    weights, others = split_parameters(model)
    return compressed_size(weights, others, bits)


@torch.no_grad()
def macs(model: nn.Module, input_shape: tuple[int, ...]) -> int:
    """Dense multiply-accumulates of one forward pass on one input of ``input_shape``."""
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

    handles = []
    for m in model.modules():
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
               warmup: int = 3) -> float:
    """Median wall time in milliseconds of a batch-1 forward pass (after ``warmup`` runs), on the
    device of the model's parameters (CPU for a model without any, e.g. a converted int8 one)."""
    first = next(model.parameters(), None)
    device = first.device if first is not None else torch.device("cpu")
    x = torch.zeros((1, *input_shape), device=device)
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
