"""One training loop over a split's batches (``objectives.data.batches``): for in-memory tensors,
shuffled index batches with no DataLoader and no per-sample Python work; for a streamed split,
the same batches read by DataLoader workers. Schedules step per batch. Image models train in
channels-last memory and AdamW runs its fused kernel (on 2 CPU cores the two made
bench/throughput.py's ResNet-8 1.7x and the trial of bench/overhead.py 1.24x faster); on CUDA
the loop adds bfloat16 autocast, on CPU it stays float32."""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from objectives.data import DataSplit
from objectives.data.batches import batches
from objectives.task import Loss
from spaces.spec import SCHEDULES

__all__ = ["EpochCallback", "EpochStats", "NonFiniteLossError", "distill_loss", "make_scheduler",
           "train", "warm_up"]

#: Called after each epoch with the 1-based epoch number and the mean training loss.
EpochCallback = Callable[[int, float], None]


@dataclass(frozen=True)
class EpochStats:
    """What one epoch cost and reached (for loggers): read once per epoch, never per step."""

    epoch: int
    loss: float  #: mean training loss
    lr: float  #: learning rate of the epoch's first step (first parameter group)
    seconds: float  #: wall time of the epoch's steps


class NonFiniteLossError(RuntimeError):
    """The training loss became NaN or infinite."""


def warm_up() -> None:
    """Import what torch loads lazily on the first optimizer (torch._dynamo, ~3 s on 2 cores),
    so that time is paid once per process and not in the first trial's ``train_seconds``."""
    torch.optim.AdamW([nn.Parameter(torch.zeros(1))], fused=True)


def make_scheduler(
    optimizer: torch.optim.Optimizer, schedule: str, lr: float, total_steps: int
) -> torch.optim.lr_scheduler.LRScheduler:
    """A per-step learning-rate scheduler by name (see ``spaces.spec.SCHEDULES``)."""
    total_steps = max(1, total_steps)
    sched = torch.optim.lr_scheduler
    if schedule == "constant":
        return sched.LambdaLR(optimizer, lambda _: 1.0)
    if schedule == "step":
        return sched.StepLR(optimizer, step_size=max(1, total_steps // 3), gamma=0.1)
    if schedule == "cosine":
        return sched.CosineAnnealingLR(optimizer, T_max=total_steps)
    if schedule == "onecycle":
        return sched.OneCycleLR(optimizer, max_lr=lr, total_steps=total_steps)
    raise ValueError(f"schedule: unknown schedule {schedule!r}; choose from {SCHEDULES}")


def distill_loss(logits: torch.Tensor, target: torch.Tensor, teacher: torch.Tensor | None,
                 kd_weight: float, temperature: float) -> torch.Tensor:
    """``(1 − α)·CE + α·T²·KL(softmax(t/T) ‖ softmax(s/T))``; plain CE when α is 0 or no teacher."""
    ce = F.cross_entropy(logits, target)
    if teacher is None or kd_weight <= 0:
        return ce
    t = temperature
    kd = F.kl_div(F.log_softmax(logits / t, dim=1), F.softmax(teacher / t, dim=1),
                  reduction="batchmean") * (t * t)
    return (1.0 - kd_weight) * ce + kd_weight * kd


def _channels_last_safe(model: nn.Module, device: torch.device) -> bool:
    """Whether to train ``model`` in channels-last (CPU max-pool is ~3x faster in it). Not a
    CPU model with a strided 1×1 conv: torch 2.14.1's oneDNN backward of one in channels-last
    corrupts the heap on some x86 CPUs (measured on an AMD EPYC: a ResNet's projection
    shortcut crashed the process with "double free")."""
    if device.type != "cpu":
        return True
    return not any(isinstance(m, nn.Conv2d) and m.kernel_size == (1, 1) and m.stride != (1, 1)
                   for m in model.modules())


def train(
    model: nn.Module,
    data: DataSplit,
    *,
    epochs: int,
    lr: float,
    weight_decay: float = 0.0,
    schedule: str = "cosine",
    batch_size: int = 64,
    seed: int = 0,
    on_epoch: EpochCallback | None = None,
    augment: Callable[[torch.Tensor, torch.Generator], torch.Tensor] | None = None,
    teacher_logits: torch.Tensor | None = None,
    kd_weight: float = 0.0,
    kd_temperature: float = 4.0,
    loss: Loss | None = None,
    on_stats: Callable[[EpochStats], None] | None = None,
) -> None:
    """Train ``model`` in place with AdamW on ``data`` (in memory on its device, or streamed).

    The loss is ``loss(outputs, targets)`` (default: cross-entropy). ``augment`` transforms
    each training batch (see ``objectives.data.augment``) with the loop's seeded generator, the one
    that also shuffles the batches. With ``teacher_logits`` (a teacher's logits on ``data``,
    row for row) and ``kd_weight`` > 0 the loss is :func:`distill_loss`; the teacher rows are
    indexed with the batch's row positions, so no teacher forward runs per step (with
    augmented inputs they are an approximation: the teacher saw the un-augmented image).
    Distillation needs class logits: with a ``loss`` other than cross-entropy it is refused.

    ``on_stats`` gets each epoch's :class:`EpochStats` before ``on_epoch`` is called.

    Raises NonFiniteLossError when an epoch's loss is NaN or infinite.
    """
    if epochs <= 0:
        return
    step_loss = _step_loss(loss, teacher_logits, kd_weight, kd_temperature)
    batch_size = min(batch_size, len(data))
    steps_per_epoch = len(data) // batch_size  # the last partial batch is dropped; reshuffled
    device = data.device
    channels_last = len(data.input_shape) == 3 and _channels_last_safe(model, device)
    if channels_last:
        model.to(memory_format=torch.channels_last)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay,
                                  fused=device.type in ("cpu", "cuda"))  # one kernel, not ~10
    loop = _Epochs(model, data, batch_size, torch.Generator(device="cpu").manual_seed(seed),
                   augment, channels_last, device.type == "cuda" and torch.cuda.is_bf16_supported(),
                   step_loss, optimizer,
                   make_scheduler(optimizer, schedule, lr, epochs * steps_per_epoch))
    model.train()
    for epoch in range(1, epochs + 1):
        lr_first, started = optimizer.param_groups[0]["lr"], time.perf_counter()
        mean_loss = float(loop.run()) / steps_per_epoch
        if not math.isfinite(mean_loss):
            raise NonFiniteLossError(f"training loss became {mean_loss} in epoch {epoch}")
        if on_stats is not None:  # float(...) above already waited for the epoch's steps
            on_stats(EpochStats(epoch, mean_loss, float(lr_first), time.perf_counter() - started))
        if on_epoch is not None:
            on_epoch(epoch, mean_loss)
            model.train()  # the callback may have evaluated the model
    if channels_last:  # hand the model back as it came: pruning needs contiguous weights
        model.to(memory_format=torch.contiguous_format)


#: (outputs, targets, the batch's row positions) -> the step's loss.
_StepLoss = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


def _step_loss(loss: Loss | None, teacher_logits: torch.Tensor | None, kd_weight: float,
               kd_temperature: float) -> _StepLoss:
    """The loss of one step: ``loss`` (default cross-entropy), or :func:`distill_loss` against
    the teacher's rows when distilling (which needs cross-entropy: ValueError otherwise)."""
    if teacher_logits is None or kd_weight <= 0:
        criterion = loss if loss is not None else F.cross_entropy
        return lambda outputs, y, idx: criterion(outputs, y)
    if loss not in (None, F.cross_entropy):
        raise ValueError("dataset.loss: distillation (kd_weight > 0) mixes in a KL loss over "
                         "class logits and needs loss = \"cross_entropy\"; use it, or set "
                         "kd_weight = 0")
    teacher = teacher_logits
    return lambda outputs, y, idx: distill_loss(outputs, y, teacher[idx], kd_weight,
                                                kd_temperature)


@dataclass
class _Epochs:
    """One training epoch at a time, with what :func:`train` set up once."""

    model: nn.Module
    data: DataSplit
    batch_size: int
    generator: torch.Generator
    augment: Callable[[torch.Tensor, torch.Generator], torch.Tensor] | None
    channels_last: bool
    amp: bool
    step_loss: _StepLoss
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler

    def run(self) -> torch.Tensor:
        """One epoch's steps; the sum of their losses (on the data's device: no sync)."""
        total = torch.zeros((), device=self.data.device)
        for idx, x, y in batches(self.data, self.batch_size, generator=self.generator,
                                 drop_last=True):
            if self.augment is not None:
                x = self.augment(x, self.generator)
            if self.channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            with _autocast(self.amp):
                step_loss = self.step_loss(self.model(x), y, idx)
            self.optimizer.zero_grad(set_to_none=True)
            step_loss.backward()
            self.optimizer.step()
            self.scheduler.step()
            total += step_loss.detach()
        return total


def _autocast(enabled: bool) -> contextlib.AbstractContextManager[object]:
    """bfloat16 autocast on CUDA (bf16 needs no GradScaler); nothing otherwise."""
    if not enabled:
        return contextlib.nullcontext()
    return torch.autocast(device_type="cuda", dtype=torch.bfloat16)
