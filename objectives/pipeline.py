"""One candidate's pipeline: build → train → prune (unstructured masks, or structured: a smaller
model) → fine-tune (mask held) → quantization-aware fine-tune (per-layer weight bits, optional
activation fake-quant) → bake → measure. Plain data in, plain data out; no Optuna here.

Fine-tuning runs only where compression hurt (``Budget.skip_finetune``): after training, the
pruned and quantized weights are scored on the validation split, and both phases are skipped
when they lost at most ``Budget.finetune_tolerance`` of the trained float model's accuracy;
otherwise the pruning fine-tune runs, and QAT is skipped only if the quantized model is then
within the tolerance.

"Accuracy" here is the study's metric (``TensorData.metric``, accuracy by default; see
``objectives.task``): ``Measured.val_accuracy`` / ``test_accuracy`` hold it, and the tolerance is
a drop in it. Training minimises ``TensorData.loss``."""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn

from objectives import metrics
from objectives.compress.packing import packed_size
from objectives.compress.plan import apply_pruning, bits_by_layer
from objectives.compress.prune import prunable_layers
from objectives.compress.quantize import (
    FULL_PRECISION,
    attach,
    attach_act_quant,
    bake,
    fake_quantize,
    observe_ranges,
    set_bits,
)
from objectives.data import TensorData
from objectives.data.augment import augment_fn
from objectives.data.batches import first_inputs
from objectives.deploy.latency import deployed_latency_ms
from objectives.task import loss_fn
from objectives.train import EpochStats, train
from spaces.space import Space
from spaces.spec import Spec

__all__ = ["CALIBRATION_INPUTS", "Budget", "Measured", "PhaseCallback", "StatsCallback",
           "evaluate", "project_compressed"]

#: Training inputs that calibrate an int8 model's activation ranges.
CALIBRATION_INPUTS = 512

#: Called after each epoch with (phase, epoch, model); phase is "train", "prune" or "qat".
#: It may evaluate the model, and may raise to stop the candidate. Epoch 0 of "prune" or "qat"
#: means that phase is skipped: compression cost at most ``Budget.finetune_tolerance``.
PhaseCallback = Callable[[str, int, nn.Module], None]
#: Called after each trained epoch with (phase, its EpochStats), before the PhaseCallback.
StatsCallback = Callable[[str, EpochStats], None]


@dataclass(frozen=True)
class Budget:
    """How much compute one candidate gets."""

    epochs: int = 20
    finetune_epochs: int = 5
    qat_epochs: int = 5
    batch_size: int = 64
    finetune_lr_scale: float = 0.1
    latency_reps: int = 10
    #: What the latency objective times: "torch" (the PyTorch model), "onnxruntime" (its ONNX
    #: export in ONNX Runtime) or "onnxruntime-int8" (that export at int8); see objectives.deploy.
    latency_backend: str = "torch"
    latency_batch: int = 1
    #: Skip the pruning fine-tune and QAT where compression lost at most ``finetune_tolerance``
    #: val accuracy against the trained float model (see the module docstring; False: always).
    skip_finetune: bool = True
    finetune_tolerance: float = 0.01


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
    pruned_fraction: float
    #: Epochs actually trained: training plus the fine-tune phases that were not skipped.
    epochs_run: int
    #: The same latency on the PyTorch model (equal to ``latency_ms`` for backend "torch").
    torch_latency_ms: float = float("nan")

    def as_dict(self) -> dict[str, Any]:
        """The metrics as a plain dict (user attributes, tables)."""
        return asdict(self)


def evaluate(
    space: Space,
    spec: Spec,
    data: TensorData,
    budget: Budget,
    *,
    seed: int = 0,
    on_epoch: PhaseCallback | None = None,
    init: Callable[[nn.Module], None] | None = None,
    teacher_logits: torch.Tensor | None = None,
    on_stats: StatsCallback | None = None,
) -> tuple[Measured, nn.Module]:
    """Build, train, compress and measure ``spec``; returns the metrics and the final model.

    ``init`` is called on the freshly built model before training (e.g. transfer learning);
    ``teacher_logits`` (a teacher's logits on ``data.train``) enable distillation in every
    training phase when ``spec.train.kd_weight`` > 0 (refused with a ValueError unless the
    loss is cross-entropy). ``on_stats`` gets each trained epoch's loss, lr and seconds.
    """
    device = data.device
    torch.manual_seed(seed)
    model = space.build(spec, data.input_shape, data.num_classes).to(device)
    if init is not None:
        init(model)
    t, c = spec.train, spec.compress
    augment = augment_fn(data.augment)  # the dataset's batch augmentation, in every phase
    loss = loss_fn(data.loss)
    weights_before = sum(m.weight.numel() for m in prunable_layers(model).values())

    def phase(name: str) -> Callable[[int, float], None] | None:
        if on_epoch is None:
            return None
        return lambda epoch, _loss: on_epoch(name, epoch, model)

    def stats(name: str) -> Callable[[EpochStats], None] | None:
        if on_stats is None:
            return None
        return lambda s: on_stats(name, s)

    epochs_run = 0
    reference = 0.0  # val metric of the trained float model

    def val_score() -> float:
        return metrics.score(model, data.val, data.metric)

    def within_tolerance() -> bool:
        """Whether the model, as compressed so far, lost at most the tolerance of the metric."""
        return reference - val_score() <= budget.finetune_tolerance

    def skip(name: str) -> None:
        if on_epoch is not None:
            on_epoch(name, 0, model)

    def fit(name: str, epochs: int, lr: float, weight_decay: float, schedule: str,
            step_seed: int) -> None:
        nonlocal epochs_run
        epochs_run += epochs
        train(model, data.train, epochs=epochs, lr=lr, weight_decay=weight_decay,
              schedule=schedule, batch_size=budget.batch_size, seed=step_seed,
              on_epoch=phase(name), augment=augment, teacher_logits=teacher_logits,
              kd_weight=t.kd_weight, kd_temperature=t.kd_temperature, loss=loss,
              on_stats=stats(name))

    start = time.perf_counter()
    fit("train", budget.epochs, t.lr, t.weight_decay, t.schedule, seed)
    judge = budget.skip_finetune and ((c.max_ratio > 0 and budget.finetune_epochs > 0)
                                      or (c.quantized and budget.qat_epochs > 0))
    if judge:
        reference = val_score()
    masks = apply_pruning(model, c, data.input_shape)  # structured: smaller from here on
    bits = bits_by_layer(model, c)
    hooks = attach(model, masks)
    # Judged once on the fully compressed weights (pruned and quantized), so that a pruning
    # only the quantization-aware phase would have to repair still gets its own fine-tune.
    set_bits(hooks, bits)
    harmless = judge and within_tolerance()
    set_bits(hooks, FULL_PRECISION)
    small_lr = t.lr * budget.finetune_lr_scale
    tuned = False  # whether the pruning fine-tune changed the weights since the judgement
    if c.max_ratio > 0 and budget.finetune_epochs > 0:
        if harmless:
            skip("prune")
        else:  # train() builds a new optimizer over the (possibly new) parameters
            fit("prune", budget.finetune_epochs, small_lr, t.weight_decay, "cosine", seed + 1)
            tuned = True
    if c.quantized:
        set_bits(hooks, bits)
        if c.act_bits < 32:
            quants = attach_act_quant(model, c.act_bits, list(hooks))
            if budget.qat_epochs == 0:  # no QAT to observe the activation ranges: one pass
                observe_ranges(model, quants, first_inputs(data.train, CALIBRATION_INPUTS))
        if budget.qat_epochs > 0:
            # activation ranges are only observed while training: QAT calibrates them
            # (without a fine-tune since, the judgement above already scored this model)
            if c.act_bits >= FULL_PRECISION and (harmless or (judge and tuned
                                                              and within_tolerance())):
                skip("qat")
            else:
                fit("qat", budget.qat_epochs, small_lr, 0.0, "cosine", seed + 2)
    bake(model)
    train_seconds = time.perf_counter() - start

    kept = sum(int(torch.count_nonzero(m)) for m in masks.values())
    deployed = _latencies(model, data, budget)
    measured = Measured(
        val_accuracy=val_score(),
        test_accuracy=metrics.score(model, data.test, data.metric),
        params=metrics.nonzero_params(model),
        size_bytes=metrics.size_bytes(model, bits),
        macs=metrics.macs(model, data.input_shape),
        train_seconds=train_seconds,
        latency_ms=deployed[0],
        pruned_fraction=1.0 - kept / weights_before if weights_before else 0.0,
        epochs_run=epochs_run,
        torch_latency_ms=deployed[1],
    )
    return measured, model


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
    ``pruned``, a copy is pruned exactly as the Spec says (unstructured masks, or structured
    pruning traced on ``input_shape``: the projected params are those of the smaller copy), then
    its weights are quantized to their bits. Fine-tuning after pruning is not simulated."""
    c = spec.compress
    if not pruned and c.max_ratio > 0:
        # a checkpoint mid-training sees channels-last weights; torch's pruning views them flat
        model = copy.deepcopy(model).to(memory_format=torch.contiguous_format)
        apply_pruning(model, c, input_shape)
    state = metrics.effective_state(model)
    params = {n for n, _ in model.named_parameters() if ".parametrizations." not in n}
    bits = metrics.weight_bits(model, bits_by_layer(model, c))
    for key, b in bits.items():
        state[key] = fake_quantize(state[key], b) + 0.0  # -0.0 -> +0.0, as bake() stores it
    nonzero = sum(int(torch.count_nonzero(v)) for k, v in state.items()
                  if k in bits or k in params)
    return {"params": float(nonzero), "size_bytes": float(packed_size(state, bits))}
