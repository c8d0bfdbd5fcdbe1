"""One candidate's pipeline: build → train → compress (the registered steps its CompressSpec
switches on: ``objectives.compress``) → fine-tune phases ("prune": masks held; "qat": weights
fake-quantized at their bits) → bake → measure. Plain data in, plain data out; no Optuna here.

Fine-tuning runs only where compression hurt (``Budget.skip_finetune``): after training, the
fully compressed weights (every step applied, quantized at their bits) are scored on the
validation split, and every phase is skipped when they lost at most
``Budget.finetune_tolerance`` of the trained float model's accuracy; otherwise the "prune"
phase runs, and "qat" is skipped only if the quantized model is then within the tolerance (a
phase whose step must train, e.g. activation quantization, always runs).

"Accuracy" here is the study's metric (``TensorData.metric``, accuracy by default; see
``objectives.task``): ``Measured.val_accuracy`` / ``test_accuracy`` hold it, and the tolerance is
a drop in it. Training minimises ``TensorData.loss``."""

from __future__ import annotations

import time
from collections.abc import Callable

import torch
from torch import nn

from objectives.budget import Budget
from objectives.compress.plan import (
    Plan,
    apply_steps,
    bits_by_layer,
    plan_for,
    resolve_targets,
    weights_kept,
)
from objectives.compress.quantize import FULL_PRECISION, MaskedFakeQuant, attach, bake, set_bits
from objectives.compress.steps import StepContext, Targets
from objectives.data import TensorData
from objectives.data.batches import first_inputs
from objectives.measure import CALIBRATION_INPUTS, Measured, measure, project_compressed
from objectives.session import PhaseCallback, Session, StatsCallback
from spaces.layers import prunable_layers
from spaces.space import Space
from spaces.spec import Spec

__all__ = ["CALIBRATION_INPUTS", "Budget", "Measured", "PhaseCallback", "StatsCallback",
           "compress", "evaluate", "project_compressed"]


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
    torch.manual_seed(seed)
    model = space.build(spec, data.input_shape, data.num_classes).to(data.device)
    if init is not None:
        init(model)
    targets = resolve_targets(model, spec.compress)  # per-layer knobs, named as built
    weights_before = sum(m.weight.numel() for m in prunable_layers(model).values())
    session = Session(model, data, budget, spec.train, seed, on_epoch, on_stats, teacher_logits)
    start = time.perf_counter()
    t = spec.train
    session.fit("train", budget.epochs, t.lr, t.weight_decay, t.schedule, seed)
    bits, kept = compress(session, plan_for(spec.compress), targets)
    seconds = time.perf_counter() - start
    fraction = 1.0 - kept / weights_before if weights_before else 0.0
    return measure(model, data, budget, bits, pruned_fraction=fraction, train_seconds=seconds,
                   epochs_run=session.epochs_run), model


def compress(session: Session, plan: Plan, targets: Targets) -> tuple[dict[str, int], int]:
    """Apply ``plan`` to the session's trained model, run its fine-tune phases (skipped where
    compression cost at most the tolerance) and bake the weights. Returns the weight bits by
    prunable layer and the number of prunable weights kept."""
    model, budget = session.model, session.budget
    judge = budget.skip_finetune and any(plan.phase_epochs(p, budget) > 0 for p in plan.phases)
    reference = session.val_score() if judge else 0.0
    data = session.data.train
    ctx = StepContext(session.data.input_shape, targets,
                      calibration=lambda: first_inputs(data, CALIBRATION_INPUTS))
    masks = apply_steps(model, plan, ctx)  # a structure step leaves a smaller model
    bits = bits_by_layer(model, plan.spec, targets)
    hooks = attach(model, masks)
    for name, hook in hooks.items():
        hook.planned = bits[name]

    def within_tolerance() -> bool:
        return reference - session.val_score() <= budget.finetune_tolerance

    # Judged once on the fully compressed weights (pruned and quantized), so that a pruning
    # only the quantization-aware phase would have to repair still gets its own fine-tune.
    set_bits(hooks, bits)
    harmless = judge and within_tolerance()
    set_bits(hooks, FULL_PRECISION)
    tuned = False  # whether a fine-tune changed the weights since the judgement
    for phase in plan.phases:
        epochs = plan.phase_epochs(phase, budget)
        _quantize_from(plan, phase, hooks, bits)
        skipped = (epochs > 0 and not plan.must_train(phase)
                   and (harmless or (judge and tuned and within_tolerance())))
        for step in plan.in_phase(phase):
            step.enter_phase(model, plan.spec, ctx, trains=epochs > 0 and not skipped)
        if skipped:
            session.skip(phase)
        elif epochs > 0:  # train() builds a new optimizer over the (possibly new) parameters
            session.fine_tune(phase, epochs)
            tuned = True
    bake(model)
    return bits, weights_kept(masks)


def _quantize_from(plan: Plan, phase: str, hooks: dict[str, MaskedFakeQuant],
                   bits: dict[str, int]) -> None:
    """Fake-quantize the weights at their bits once a phase repairs a precision step."""
    if any(step.stage == "precision" for step in plan.in_phase(phase)):
        set_bits(hooks, bits)
