"""A real int8 path: export a (fake-quantized, baked) float model through PyTorch's own int8
quantization and compare it with the fake-quant estimate.

torch 2.14 still ships eager/FX post-training quantization (``torch.ao.quantization``:
``prepare_fx`` → calibrate → ``convert_fx`` with the x86 backend, fbgemm kernels) and it works,
but it is marked deprecated in favour of torchao, which is not installed here; the deprecation
warnings are silenced inside :func:`to_int8` only. The int8 model runs on CPU: int8 weights
per output channel, int8 activations per tensor (calibrated by observers), so its accuracy can
differ slightly from the fake-quant estimate (which quantizes weights only, unless act_bits < 32).
"""

from __future__ import annotations

import copy
import warnings
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn

from objectives.data import DataSplit
from objectives.metrics import latency_ms, score

__all__ = ["Int8Comparison", "compare_int8", "int8_weight_layers", "to_int8"]

BACKEND = "x86"


def _plain_copy(model: nn.Module) -> nn.Module:
    """A CPU copy without activation fake-quant children (int8 has its own observers)."""
    plain = copy.deepcopy(model).cpu().eval()
    for module in plain.modules():
        if "input_quant" in module._modules:
            del module._modules["input_quant"]
            module._forward_pre_hooks.clear()
    return plain


@torch.no_grad()
def to_int8(model: nn.Module, calibration_x: torch.Tensor) -> nn.Module:
    """An int8 CPU copy of ``model`` (FX graph mode post-training quantization, x86 backend),
    its activation ranges calibrated on ``calibration_x``."""
    from torch.ao.quantization import get_default_qconfig_mapping
    from torch.ao.quantization.quantize_fx import convert_fx, prepare_fx

    x = calibration_x.detach().cpu()
    torch.backends.quantized.engine = BACKEND
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", UserWarning)
        prepared = prepare_fx(_plain_copy(model), get_default_qconfig_mapping(BACKEND), (x[:1],))
        prepared(x)
        quantized: nn.Module = convert_fx(prepared)
    return quantized


def int8_weight_layers(model: nn.Module) -> dict[str, torch.dtype]:
    """Layers of a converted model whose weights are stored packed, with their weight dtype."""
    out = {}
    for name, module in model.named_modules():
        weight = getattr(module, "weight", None)
        if callable(weight) and not isinstance(weight, nn.Parameter):
            out[name] = weight().dtype
    return out


@dataclass(frozen=True)
class Int8Comparison:
    """Accuracy (the study's metric) and batch-1 CPU latency of the fake-quantized float model
    and its int8 export."""

    fake_quant_accuracy: float
    int8_accuracy: float
    float_latency_ms: float
    int8_latency_ms: float
    int8_layers: int

    def as_dict(self) -> dict[str, Any]:
        """Plain dict for tables."""
        return asdict(self)


def compare_int8(model: nn.Module, split: DataSplit, calibration_x: torch.Tensor,
                 input_shape: tuple[int, ...], reps: int = 50,
                 int8: nn.Module | None = None, metric: str = "accuracy") -> Int8Comparison:
    """Convert ``model`` with :func:`to_int8` (unless its ``int8`` export is given) and measure
    both on ``split`` (on CPU) by ``metric`` (see ``objectives.task``)."""
    cpu_split = split.to(torch.device("cpu"))
    float_model = copy.deepcopy(model).cpu()
    int8 = int8 if int8 is not None else to_int8(model, calibration_x)
    return Int8Comparison(
        fake_quant_accuracy=score(float_model, cpu_split, metric),
        int8_accuracy=score(int8, cpu_split, metric),
        float_latency_ms=latency_ms(float_model, input_shape, reps=reps),
        int8_latency_ms=latency_ms(int8, input_shape, reps=reps),
        int8_layers=len(int8_weight_layers(int8)),
    )
