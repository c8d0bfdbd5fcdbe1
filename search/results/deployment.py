"""The deployable files of a model folder: ``model.onnx`` (float32) and ``model.int8.onnx``
(static int8, QDQ), each run in ONNX Runtime against the PyTorch model and timed.

``export --onnx`` writes ``model.onnx`` and ``onnx.json``; ``export --int8`` writes both and
``model.int8.onnx`` with ``int8.json``. Each JSON file holds the largest logit difference from
the PyTorch model on the test split (with the data) or on random inputs (without it), both
accuracies (the study's metric; with the data only), and batch-1 and batch-32 CPU latency of
the ONNX Runtime model and of the PyTorch model. The int8 model is calibrated on the first
:data:`objectives.pipeline.CALIBRATION_INPUTS` training inputs, so it needs the data. Files are
written with ``search.safe_files`` (a symlink at a file's name is replaced, not written through).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from objectives import metrics
from objectives.data import DataSplit, TensorData
from objectives.data.batches import first_inputs
from objectives.data.splits import Split
from objectives.deploy import missing_packages
from objectives.pipeline import CALIBRATION_INPUTS
from search.errors import ConfigError, DatasetError, reraise_as
from search.safe_files import write_bytes, write_text

__all__ = ["INT8_FILES", "LATENCY_BATCHES", "LOGIT_TOLERANCE", "ONNX_FILES", "Deployed",
           "write_onnx"]

ONNX_FILES = ("model.onnx", "onnx.json")
INT8_FILES = ("model.int8.onnx", "int8.json")
#: Batch sizes the latency of each deployed model is measured at.
LATENCY_BATCHES = (1, 32)
#: ``logits`` of ONNX Runtime float32 and PyTorch must agree to this on every input.
LOGIT_TOLERANCE = 1e-4


@dataclass(frozen=True)
class Deployed:
    """One deployed file, checked and timed (accuracies None without the data)."""

    file: str
    bytes: int
    max_logit_diff: float
    accuracy: float | None
    torch_accuracy: float | None
    latency_ms: dict[int, float] = field(default_factory=dict)
    torch_latency_ms: dict[int, float] = field(default_factory=dict)
    calibration_inputs: int = 0
    #: Whether the int8 weights were range-reduced to 7 bits (``deploy.int8.u8s8_saturates``).
    reduce_range: bool = False

    def as_dict(self) -> dict[str, Any]:
        """Plain dict for JSON and tables."""
        return asdict(self)


def _measure(model: nn.Module, onnx: bytes, name: str, input_shape: tuple[int, ...],
             split: DataSplit | None, metric: str, torch_latency: dict[int, float],
             calibration: int = 0) -> Deployed:
    from objectives.deploy.runtime import compare, latency_ms, session

    sess = session(onnx)
    acc: float | None = None
    torch_acc: float | None = None
    if split is None:  # no data here: seeded random inputs of the recorded shape
        x = torch.randn((8, *input_shape), generator=torch.Generator().manual_seed(0))
        diff = compare(model, sess, Split(x, torch.zeros(8, dtype=torch.long)))["max_abs_diff"]
    else:
        checked = compare(model, sess, split, metric)
        diff, acc, torch_acc = (checked["max_abs_diff"], checked["onnx_score"],
                                checked["torch_score"])
    return Deployed(
        file=name, bytes=len(onnx), max_logit_diff=diff, accuracy=acc, torch_accuracy=torch_acc,
        latency_ms={b: latency_ms(sess, input_shape, batch=b, reps=20) for b in LATENCY_BATCHES},
        torch_latency_ms=torch_latency, calibration_inputs=calibration)


def write_onnx(model: nn.Module, out: Path, input_shape: tuple[int, ...],
               data: TensorData | None, *, int8: bool = False) -> list[Deployed]:
    """Write ``model.onnx`` (and, with ``int8``, ``model.int8.onnx``) of ``model`` (a CPU model
    in eval mode) into ``out`` with their JSON reports; returns what was measured. A model ONNX
    cannot express is a ConfigError naming the op; ``int8`` without data a DatasetError."""
    missing = missing_packages()
    if missing:
        raise ConfigError(f"--onnx/--int8: needs {', '.join(missing)}; pip install "
                          "'frontier[onnx]'")
    if int8 and data is None:
        raise DatasetError("--int8: calibration needs the training split, and the data cannot "
                           "be loaded here")
    from objectives.deploy.onnx_export import to_onnx

    split = data.test.to(torch.device("cpu")) if data is not None else None
    metric = data.metric if data is not None else "accuracy"
    example = first_inputs(split, 2) if split is not None else torch.zeros((2, *input_shape))
    with reraise_as(ConfigError, "--onnx: "):
        fp32 = to_onnx(model, example)
    on_torch = {b: metrics.latency_ms(model, input_shape, reps=20, batch=b)
                for b in LATENCY_BATCHES}  # the PyTorch model's, once for both files
    done = [_measure(model, fp32, ONNX_FILES[0], input_shape, split, metric, on_torch)]
    write_bytes(out / ONNX_FILES[0], fp32)
    _write_json(out / ONNX_FILES[1], done[0])
    if int8 and data is not None:
        from objectives.deploy.int8 import quantize_int8, u8s8_saturates

        calibration = first_inputs(data.train, CALIBRATION_INPUTS).cpu()
        with reraise_as(DatasetError, "--int8: "):  # int8 quantizes activations its own way
            acts = any(n.endswith("input_quant") for n, _ in model.named_modules())
            q = quantize_int8(to_onnx(model, example, act_quant=False) if acts else fp32,
                              calibration)
        done.append(dataclasses.replace(
            _measure(model, q, INT8_FILES[0], input_shape, split, metric, on_torch,
                     len(calibration)), reduce_range=u8s8_saturates()))
        write_bytes(out / INT8_FILES[0], q)
        _write_json(out / INT8_FILES[1], done[1])
    return done


def _write_json(path: Path, d: Deployed) -> None:
    write_text(path, json.dumps(d.as_dict(), indent=2) + "\n")
