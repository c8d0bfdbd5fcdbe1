"""An ONNX model run by ONNX Runtime on CPU: a session, its outputs and score on a split, its
latency, and how far it is from the PyTorch model it was exported from."""

from __future__ import annotations

import math
import statistics
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from objectives import metrics
from objectives.data import DataSplit
from objectives.deploy._quiet import require
from objectives.task import metric_fn

if TYPE_CHECKING:
    import onnxruntime

__all__ = ["SessionModule", "compare", "latency_ms", "predict", "score", "session"]

ERROR_SEVERITY = 3  # ORT log levels: 0 verbose, 1 info, 2 warning, 3 error, 4 fatal


def session(onnx: bytes | str | Path, threads: int | None = None
            ) -> onnxruntime.InferenceSession:
    """An ONNX Runtime session on CPU for a serialized model or a model file, with ``threads``
    intra-op threads (default: ``torch.get_num_threads()``), logging errors only."""
    ort = require("onnxruntime")
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads if threads is not None else torch.get_num_threads()
    options.inter_op_num_threads = 1
    options.log_severity_level = ERROR_SEVERITY
    model = onnx if isinstance(onnx, bytes) else str(onnx)
    sess: onnxruntime.InferenceSession = ort.InferenceSession(
        model, sess_options=options, providers=["CPUExecutionProvider"])
    return sess


def _run(sess: Any, x: torch.Tensor) -> torch.Tensor:
    name = sess.get_inputs()[0].name
    array = x.detach().cpu().numpy()
    if array.dtype != np.float32 and np.issubdtype(array.dtype, np.floating):
        array = array.astype(np.float32)
    return torch.from_numpy(np.asarray(sess.run(None, {name: array})[0]))


class SessionModule(nn.Module):
    """An ONNX Runtime session called like a PyTorch model (outputs on the CPU), so that
    ``objectives.metrics`` measures it exactly as it measures the PyTorch model."""

    def __init__(self, sess: onnxruntime.InferenceSession) -> None:
        super().__init__()
        self.sess = sess

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _run(self.sess, x)


_CPU = torch.device("cpu")


def predict(sess: onnxruntime.InferenceSession, split: DataSplit, batch_size: int = 2048
            ) -> tuple[torch.Tensor, torch.Tensor]:
    """The session's outputs on ``split`` and the split's targets, row for row, on CPU."""
    return metrics.predict(SessionModule(sess), split.to(_CPU), batch_size)


def score(sess: onnxruntime.InferenceSession, split: DataSplit, metric: str = "accuracy",
          batch_size: int = 2048) -> float:
    """The study's ``metric`` (see ``objectives.task``) of the session on ``split``, as
    ``objectives.metrics.score`` gives it for a PyTorch model; higher is better."""
    return metrics.score(SessionModule(sess), split.to(_CPU), metric, batch_size)


def latency_ms(sess: onnxruntime.InferenceSession, input_shape: tuple[int, ...], batch: int = 1,
               reps: int = 10, warmup: int = 3) -> float:
    """Median wall time in milliseconds of one run on ``batch`` zero inputs of ``input_shape``
    (after ``warmup`` runs)."""
    name = sess.get_inputs()[0].name
    feed = {name: np.zeros((batch, *input_shape), dtype=np.float32)}
    times = []
    for i in range(warmup + max(1, reps)):
        start = time.perf_counter()
        sess.run(None, feed)
        if i >= warmup:
            times.append((time.perf_counter() - start) * 1000.0)
    return statistics.median(times)


@torch.no_grad()
def compare(model: nn.Module, sess: onnxruntime.InferenceSession, split: DataSplit,
            metric: str = "accuracy", batch_size: int = 2048) -> dict[str, float]:
    """How the session matches ``model`` (in eval mode, on the split's device) on ``split``:
    ``max_abs_diff`` of the outputs, ``torch_score`` and ``onnx_score`` by ``metric``."""
    torch_out, targets = metrics.predict(model, split, batch_size)
    torch_out, targets = torch_out.cpu(), targets.cpu()
    onnx_out, _ = predict(sess, split, batch_size)
    if onnx_out.numel() == 0:
        diff = 0.0
    else:
        diff = float((torch_out.float() - onnx_out.float()).abs().max())
    fn = metric_fn(metric)
    return {
        "max_abs_diff": diff if math.isfinite(diff) else math.inf,
        "torch_score": float(fn(torch_out, targets)) if len(targets) else 0.0,
        "onnx_score": float(fn(onnx_out, targets)) if len(targets) else 0.0,
    }
