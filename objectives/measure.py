"""What is measured on a compressed candidate (:class:`Measured`), and the projection early
stopping makes of a candidate still training (:func:`project_compressed`)."""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn

from objectives import metrics
from objectives.budget import Budget
from objectives.compress.packing import packed_size
from objectives.compress.plan import apply_steps, bits_by_layer, plan_for, resolve_targets
from objectives.compress.quantize import fake_quantize, planned_bits
from objectives.compress.steps import StepContext
from objectives.data import TensorData
from objectives.data.batches import first_inputs
from objectives.deploy.latency import deployed_latency_ms
from spaces.spec import Spec

__all__ = ["CALIBRATION_INPUTS", "Measured", "measure", "project_compressed"]

#: Training inputs that calibrate activation ranges (int8 export, act_bits without QAT).
CALIBRATION_INPUTS = 512


@dataclass(frozen=True)
class Measured:
    """Everything measured on one compressed candidate. ``val_accuracy`` / ``test_accuracy``
    hold the study's metric (accuracy unless ``[dataset] metric`` says otherwise)."""

    val_accuracy: float
    test_accuracy: float
    params: int
    size_bytes: int
    macs: int
    train_seconds: float
    #: Median ms of a forward pass of ``Budget.latency_batch`` inputs on ``latency_backend``.
    latency_ms: float
    #: Fraction of the built model's prunable weights that the compressed model no longer has.
    pruned_fraction: float
    #: Epochs actually trained: training plus the fine-tune phases that were not skipped.
    epochs_run: int
    #: The same latency on the PyTorch model (equal to ``latency_ms`` for backend "torch").
    torch_latency_ms: float = float("nan")

    def as_dict(self) -> dict[str, Any]:
        """The metrics as a plain dict (user attributes, tables)."""
        return asdict(self)


def measure(model: nn.Module, data: TensorData, budget: Budget, bits: dict[str, int], *,
            pruned_fraction: float, train_seconds: float, epochs_run: int) -> Measured:
    """Measure baked ``model`` whose prunable layers hold weights of ``bits`` (by layer)."""
    deployed = _latencies(model, data, budget)
    return Measured(
        val_accuracy=metrics.score(model, data.val, data.metric),
        test_accuracy=metrics.score(model, data.test, data.metric),
        params=metrics.nonzero_params(model),
        size_bytes=metrics.size_bytes(model, bits),
        macs=metrics.macs(model, data.input_shape),
        train_seconds=train_seconds,
        latency_ms=deployed[0],
        pruned_fraction=pruned_fraction,
        epochs_run=epochs_run,
        torch_latency_ms=deployed[1],
    )


def _latencies(model: nn.Module, data: TensorData, budget: Budget) -> tuple[float, float]:
    """Latency on the study's backend and on PyTorch (NaN, NaN with ``latency_reps`` = 0)."""
    if budget.latency_reps <= 0:
        return float("nan"), float("nan")
    shape, reps, batch = data.input_shape, budget.latency_reps, budget.latency_batch
    on_torch = metrics.latency_ms(model, shape, reps=reps, batch=batch)
    if budget.latency_backend == "torch":
        return on_torch, on_torch
    calibration = (first_inputs(data.train, CALIBRATION_INPUTS)
                   if budget.latency_backend.endswith("int8") else None)
    return deployed_latency_ms(model, shape, budget.latency_backend, batch=batch, reps=reps,
                               calibration=calibration), on_torch


@torch.no_grad()
def project_compressed(model: nn.Module, spec: Spec, input_shape: tuple[int, ...], *,
                       pruned: bool) -> dict[str, float]:
    """Nonzero params and size in bytes ``model`` would have if it were compressed now: unless
    ``pruned``, a copy goes through the Spec's structure and sparsity steps (the projected
    params are those of the copy); then its weights are quantized to their planned bits (for a
    ``pruned`` model, the bits its fake quantizers carry). Fine-tuning is not simulated."""
    c = spec.compress
    bits = planned_bits(model) if pruned else {}
    if not bits:
        plan, targets = plan_for(c), resolve_targets(model, c)
        if any(step.stage != "precision" for step in plan.steps):
            # a checkpoint mid-training sees channels-last weights; torch's pruning views them flat
            model = copy.deepcopy(model).to(memory_format=torch.contiguous_format)
            apply_steps(model, plan, StepContext(tuple(input_shape), targets))
        bits = bits_by_layer(model, c, targets)
    state = metrics.effective_state(model)
    params = {n for n, _ in model.named_parameters() if ".parametrizations." not in n}
    weight_bits = metrics.weight_bits(model, bits)
    for key, b in weight_bits.items():
        state[key] = fake_quantize(state[key], b) + 0.0  # -0.0 -> +0.0, as bake() stores it
    nonzero = sum(int(torch.count_nonzero(v)) for k, v in state.items()
                  if k in weight_bits or k in params)
    return {"params": float(nonzero), "size_bytes": float(packed_size(state, weight_bits))}
