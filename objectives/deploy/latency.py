"""Latency of what is deployed: the PyTorch model itself, or its ONNX export run by ONNX Runtime
in float32 or as a static int8 (QDQ) model (``objectives.deploy``)."""

from __future__ import annotations

import torch
from torch import nn

from objectives import metrics

__all__ = ["BACKENDS", "deployed_latency_ms"]

#: ``[budget] latency_backend`` values.
BACKENDS = ("torch", "onnxruntime", "onnxruntime-int8")


def deployed_latency_ms(model: nn.Module, input_shape: tuple[int, ...], backend: str = "torch",
                        *, batch: int = 1, reps: int = 10,
                        calibration: torch.Tensor | None = None) -> float:
    """Median milliseconds of a forward pass on ``batch`` inputs of ``model`` as ``backend``
    runs it: "torch" (the model on its device), "onnxruntime" (its ONNX export on CPU) or
    "onnxruntime-int8" (that export quantized to int8, calibrated on ``calibration`` inputs)."""
    if backend == "torch":
        return metrics.latency_ms(model, input_shape, reps=reps, batch=batch)
    if backend not in BACKENDS:
        raise ValueError(f"latency_backend: {backend!r} is not one of {', '.join(BACKENDS)}")
    from objectives.deploy.onnx_export import to_onnx
    from objectives.deploy.runtime import latency_ms, session

    example = torch.zeros((2, *input_shape))
    if backend == "onnxruntime":
        return latency_ms(session(to_onnx(model, example)), input_shape, batch=batch, reps=reps)
    from objectives.deploy.int8 import quantize_int8

    if calibration is None or len(calibration) == 0:
        raise ValueError("latency_backend: onnxruntime-int8 needs calibration inputs (the "
                         "training split is empty)")
    # int8 quantizes activations its own way: the model's activation fake-quant is left out
    onnx = quantize_int8(to_onnx(model, example, act_quant=False), calibration.detach().cpu())
    return latency_ms(session(onnx), input_shape, batch=batch, reps=reps)
