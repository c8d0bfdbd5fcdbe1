"""Supernet training with the sandwich rule and in-place distillation (BigNAS).

Every step trains the largest sub-network on the labels (cross-entropy), then the smallest and
``random_subnets`` random ones on the largest's detached soft predictions (KL at temperature 1);
their gradients add up and one AdamW step follows (cosine schedule, per step). Batches are read
as ``objectives.train`` reads in-memory data, with the dataset's augmentation; one seeded CPU
generator draws the batch order, the augmentation and the sampled architectures."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable

import torch
import torch.nn.functional as F

from objectives.data import Split, TensorData
from objectives.data.augment import augment_fn
from objectives.data.batches import batches
from objectives.oneshot.supernet import SuperCNN
from objectives.train import NonFiniteLossError, make_scheduler
from spaces.cnn import CNNSpec

__all__ = ["train_supernet"]


def train_supernet(
    net: SuperCNN,
    data: TensorData,
    *,
    epochs: int,
    lr: float = 0.01,
    weight_decay: float = 1e-4,
    batch_size: int = 64,
    seed: int = 0,
    random_subnets: int = 2,
    on_epoch: Callable[[int, float], None] | None = None,
) -> list[float]:
    """Train ``net`` in place (moved to the data's device) on ``data.train`` for ``epochs``;
    returns each epoch's mean step loss: the largest's cross-entropy plus the distillation
    losses of the other sub-networks. ``on_epoch(epoch, loss)`` follows each epoch (1-based).
    Deterministic under ``seed``. The data must be in memory, the loss cross-entropy.

    Raises NonFiniteLossError when an epoch's loss is NaN or infinite."""
    split = _checked_split(data, random_subnets)
    if epochs <= 0:
        return []
    device = split.x.device
    net.to(device)
    torch.manual_seed(seed)
    batch_size = min(batch_size, len(split))
    steps = len(split) // batch_size  # the last partial batch is dropped, as objectives.train
    augment = augment_fn(data.augment)
    amp = device.type == "cuda" and torch.cuda.is_bf16_supported()
    optimizer = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=weight_decay,
                                  fused=device.type in ("cpu", "cuda"))
    scheduler = make_scheduler(optimizer, "cosine", lr, epochs * steps)
    generator = torch.Generator(device="cpu").manual_seed(seed)
    largest, smallest = net.largest(), net.smallest()
    losses: list[float] = []
    net.train()
    for epoch in range(1, epochs + 1):
        total = torch.zeros((), device=device)
        for _, x, y in batches(split, batch_size, generator=generator, drop_last=True):
            if augment is not None:
                x = augment(x, generator)
            students = [smallest, *(net.sample(generator) for _ in range(random_subnets))]
            optimizer.zero_grad(set_to_none=True)
            total += _sandwich(net, x, y, largest, students, amp)
            optimizer.step()
            scheduler.step()
        mean_loss = float(total) / steps
        if not math.isfinite(mean_loss):
            raise NonFiniteLossError(f"supernet loss became {mean_loss} in epoch {epoch}")
        losses.append(mean_loss)
        if on_epoch is not None:
            on_epoch(epoch, mean_loss)
            net.train()  # the callback may have evaluated the supernet
    return losses


def _checked_split(data: TensorData, random_subnets: int) -> Split:
    """The in-memory training split; ValueError unless the data is in memory, its loss is
    cross-entropy and ``random_subnets`` >= 0."""
    split = data.train
    if not isinstance(split, Split):
        raise ValueError("one-shot mode needs the data in memory (a streamed dataset was "
                         "given); load it in memory or search without one-shot mode")
    if data.loss != "cross_entropy":
        raise ValueError(f"dataset.loss: one-shot mode distils class logits and needs loss = "
                         f"\"cross_entropy\", got {data.loss!r}")
    if random_subnets < 0:
        raise ValueError(f"random_subnets must be >= 0, got {random_subnets}")
    return split


def _sandwich(net: SuperCNN, x: torch.Tensor, y: torch.Tensor, largest: CNNSpec,
              students: list[CNNSpec], amp: bool) -> torch.Tensor:
    """One step's gradients (added to the parameters' ``grad``): the largest sub-network on the
    labels, each student on the largest's detached soft predictions; returns the step's loss."""
    with _autocast(amp):
        logits = net(x, largest)
    loss = F.cross_entropy(logits.float(), y)
    loss.backward()  # each backward frees its graph: memory of one sub-network
    soft = logits.detach().float().softmax(dim=1)
    step_loss = loss.detach()
    for spec in students:
        with _autocast(amp):
            student = net(x, spec)
        kd = F.kl_div(F.log_softmax(student.float(), dim=1), soft, reduction="batchmean")
        kd.backward()
        step_loss = step_loss + kd.detach()
    return step_loss


def _autocast(enabled: bool) -> contextlib.AbstractContextManager[object]:
    """bfloat16 autocast on CUDA, as ``objectives.train``; nothing otherwise."""
    if not enabled:
        return contextlib.nullcontext()
    return torch.autocast(device_type="cuda", dtype=torch.bfloat16)
