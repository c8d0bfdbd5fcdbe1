"""One candidate in training: its model, data, budget and callbacks, and the epochs it ran.

The pipeline's phases (training, then each compression step's fine-tune) all train through
:meth:`Session.fit`, which reports every epoch to the callbacks and counts it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn

from objectives import metrics
from objectives.budget import Budget
from objectives.compress.steps import PHASES
from objectives.data import TensorData
from objectives.data.augment import augment_fn
from objectives.task import loss_fn
from objectives.train import EpochStats, train
from spaces.spec import TrainSpec

__all__ = ["PhaseCallback", "Session", "StatsCallback"]

#: Called after each epoch with (phase, epoch, model); phase is "train", "prune" or "qat".
#: It may evaluate the model, and may raise to stop the candidate. Epoch 0 of "prune" or "qat"
#: means that phase is skipped: compression cost at most ``Budget.finetune_tolerance``.
PhaseCallback = Callable[[str, int, nn.Module], None]
#: Called after each trained epoch with (phase, its EpochStats), before the PhaseCallback.
StatsCallback = Callable[[str, EpochStats], None]


@dataclass
class Session:
    """Trains ``model`` phase by phase; the dataset's augmentation, loss and (with
    ``kd_weight`` > 0) the teacher's logits apply to every phase."""

    model: nn.Module
    data: TensorData
    budget: Budget
    knobs: TrainSpec
    seed: int = 0
    on_epoch: PhaseCallback | None = None
    on_stats: StatsCallback | None = None
    teacher_logits: torch.Tensor | None = None
    epochs_run: int = 0
    _augment: Callable[[torch.Tensor, torch.Generator], torch.Tensor] | None = field(
        init=False, default=None)

    def __post_init__(self) -> None:
        self._augment = augment_fn(self.data.augment)
        self._loss = loss_fn(self.data.loss)

    def val_score(self) -> float:
        """The study's metric of the model, as it is now, on the validation split."""
        return metrics.score(self.model, self.data.val, self.data.metric)

    def fit(self, phase: str, epochs: int, lr: float, weight_decay: float, schedule: str,
            seed: int) -> None:
        """Train ``epochs`` epochs of ``phase`` (a new optimizer over the current parameters)."""
        self.epochs_run += epochs
        on_epoch, on_stats = self.on_epoch, self.on_stats
        t = self.knobs
        train(self.model, self.data.train, epochs=epochs, lr=lr, weight_decay=weight_decay,
              schedule=schedule, batch_size=self.budget.batch_size, seed=seed,
              on_epoch=None if on_epoch is None else
              lambda epoch, _loss: on_epoch(phase, epoch, self.model),
              augment=self._augment, teacher_logits=self.teacher_logits,
              kd_weight=t.kd_weight, kd_temperature=t.kd_temperature, loss=self._loss,
              on_stats=None if on_stats is None else lambda s: on_stats(phase, s))

    def fine_tune(self, phase: str, epochs: int) -> None:
        """Fine-tune in ``phase`` (see ``objectives.compress.steps.PHASES``): cosine, at
        ``finetune_lr_scale`` × lr, with or without the candidate's weight decay."""
        p = PHASES[phase]
        self.fit(phase, epochs, self.knobs.lr * self.budget.finetune_lr_scale,
                 self.knobs.weight_decay if p.weight_decay else 0.0, "cosine",
                 self.seed + p.seed_offset)

    def skip(self, phase: str) -> None:
        """Report that ``phase`` is skipped (epoch 0)."""
        if self.on_epoch is not None:
            self.on_epoch(phase, 0, self.model)
