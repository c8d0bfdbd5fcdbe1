"""Int8 ONNX models: ONNX Runtime's static quantization of a float ONNX export.

:func:`quantize_int8` rewrites the model in the QDQ format (QuantizeLinear/DequantizeLinear
pairs around every quantizable op; ONNX Runtime's CPU provider fuses them into integer kernels
such as QLinearConv): weights int8, symmetric, one scale per output channel; activations uint8,
asymmetric, one scale and zero point per tensor, their ranges the min/max seen on calibration
inputs. Uint8 activations with int8 weights (U8S8) is ONNX Runtime's long-standing x86 format;
on the digits CNNs every activation type and calibration method measured gave the same test
accuracy, U8S8 the lowest latency. The weights are range-reduced (7 bits) only where ONNX
Runtime's U8S8 kernels can saturate: on an x86 CPU without VNNI (AVX2 or AVX-512 alone), its
``VPMADDUBSW`` sums pairs of u8×s8 products in 16 bits (ONNX Runtime's quantization guide
advises ``reduce_range`` there). Measured on such a CPU (an AVX2-only AMD EPYC), the digits CNN
of the export test lost 1.7 points of test accuracy at int8 without it; elsewhere 7 bits only
cost accuracy, so full 8-bit weights stay the rule (:func:`u8s8_saturates`).

A model exported with its activation fake quantizers (``to_onnx(..., act_quant=True)``) still
quantizes, but the fake quantizers stay float arithmetic between the int8 kernels; export with
``act_quant=False`` for the int8 model (its own calibrated ranges replace them).
"""

from __future__ import annotations

import platform
import tempfile
from pathlib import Path
from typing import Any

import torch

from objectives.deploy._quiet import quiet, require

__all__ = ["CALIBRATION_BATCH", "quantize_int8", "u8s8_saturates"]

#: Calibration inputs run through the model this many at a time.
CALIBRATION_BATCH = 256


def _reader(oq: Any, name: str, x: torch.Tensor, batch_size: int) -> Any:
    """A ``CalibrationDataReader`` over ``x`` in batches, feeding input ``name``."""
    arrays = [x[i:i + batch_size].numpy() for i in range(0, len(x), batch_size)]

    class Reader(oq.CalibrationDataReader):
        def __init__(self) -> None:
            self.rewind()

        def get_next(self) -> dict[str, Any] | None:
            batch = next(self.batches, None)
            return None if batch is None else {name: batch}

        def rewind(self) -> None:
            self.batches = iter(arrays)

    return Reader()


def u8s8_saturates() -> bool:
    """Whether ONNX Runtime's u8×s8 integer kernels may saturate on this machine: an x86 CPU
    whose flags (``/proc/cpuinfo``) name no VNNI instructions. False where it cannot tell."""
    if platform.machine().lower() not in ("x86_64", "amd64"):
        return False
    try:
        info = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    flags = next((line for line in info.splitlines() if line.startswith("flags")), "")
    return bool(flags) and "vnni" not in flags


def quantize_int8(onnx: bytes, calibration_x: torch.Tensor,
                  batch_size: int = CALIBRATION_BATCH) -> bytes:
    """``onnx`` (a serialized float model with one input, e.g. from ``to_onnx``) statically
    quantized to int8 in the QDQ format (see the module docstring), activation ranges calibrated
    on ``calibration_x`` (inputs, the model's input shape). Nothing is printed. Empty
    calibration inputs raise ValueError; without the onnx extra, ``ModuleNotFoundError``."""
    onnx_lib = require("onnx")
    require("onnxruntime")
    oq = require("onnxruntime.quantization")
    if calibration_x.dim() == 0 or len(calibration_x) == 0:
        raise ValueError("int8 quantization needs calibration inputs, got none "
                         f"(shape {tuple(calibration_x.shape)})")
    x = calibration_x.detach().cpu().float().contiguous()
    name = onnx_lib.load_from_string(onnx).graph.input[0].name
    with tempfile.TemporaryDirectory(prefix="frontier-int8-") as tmp, quiet():
        source, target = Path(tmp, "float.onnx"), Path(tmp, "int8.onnx")
        source.write_bytes(onnx)
        oq.quantize_static(
            str(source), str(target), _reader(oq, name, x, max(1, batch_size)),
            quant_format=oq.QuantFormat.QDQ, per_channel=True, reduce_range=u8s8_saturates(),
            activation_type=oq.QuantType.QUInt8, weight_type=oq.QuantType.QInt8,
            calibrate_method=oq.CalibrationMethod.MinMax,
            calibration_providers=["CPUExecutionProvider"])
        data = target.read_bytes()
    return data
