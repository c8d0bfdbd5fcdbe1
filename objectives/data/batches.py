"""The one way every part of Frontier reads a split: :func:`batches`.

Training, evaluation, distillation, early stopping, the compression judgement, int8
calibration and export all iterate splits through this module, so an in-memory ``Split``
(tensors on the device, batches gathered by index: no DataLoader, no per-sample Python work)
and a streamed ``StreamSplit`` (a ``DataLoader`` with worker processes) are interchangeable.
Both kinds are cut into the same batches: the same permutation of positions under the same
generator, so the same data give the same metrics either way.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import replace

import torch

from objectives.data.splits import DataSplit, Split
from objectives.data.stream import StreamSplit

__all__ = ["Batch", "batches", "first_inputs"]

#: ``(positions, inputs, targets)``: ``positions`` are the rows of the split the batch holds
#: (on the batch's device), e.g. to index per-row teacher logits.
Batch = tuple[torch.Tensor, torch.Tensor, torch.Tensor]


def batches(split: DataSplit, batch_size: int, *, generator: torch.Generator | None = None,
            device: torch.device | str | None = None, drop_last: bool = False
            ) -> Iterator[Batch]:
    """The batches of ``split``: in order, or in the order of ``torch.randperm(len(split),
    generator=generator)`` when a (CPU) ``generator`` is given; the permutation is drawn when
    iteration starts and nothing else is drawn from it, so a training loop may use the same
    generator for its augmentation. ``drop_last`` drops a last, smaller batch. Batches are on
    ``device`` (default: the split's own). Streamed splits are read by their ``workers``
    loader processes, which are seeded from the generator's state (not advanced)."""
    n = len(split)
    order = torch.randperm(n, generator=generator) if generator is not None else None
    steps = n // batch_size if drop_last else -(-n // batch_size)
    if isinstance(split, Split):
        yield from _tensor_batches(split, batch_size, steps, order, device)
    else:
        yield from _stream_batches(split, batch_size, steps, order, device, generator)


def _tensor_batches(split: Split, batch_size: int, steps: int, order: torch.Tensor | None,
                    device: torch.device | str | None) -> Iterator[Batch]:
    x, y = split.x, split.y
    if device is not None and torch.device(device) != x.device:
        x, y = x.to(device), y.to(device)
    if order is None:  # slices are views: evaluation copies nothing
        for step in range(steps):
            start, stop = step * batch_size, min((step + 1) * batch_size, len(split))
            yield torch.arange(start, stop, device=x.device), x[start:stop], y[start:stop]
        return
    order = order.to(x.device)
    for step in range(steps):
        idx = order[step * batch_size:(step + 1) * batch_size]
        yield idx, x[idx], y[idx]


def _worker_seed(generator: torch.Generator | None) -> int:
    """A seed for the loader's workers that follows ``generator`` without drawing from it."""
    if generator is None:
        return 0
    digest = hashlib.sha256(generator.get_state().numpy().tobytes()).digest()
    return int.from_bytes(digest[:8], "little") >> 1


def _stream_batches(split: StreamSplit, batch_size: int, steps: int, order: torch.Tensor | None,
                    device: torch.device | str | None, generator: torch.Generator | None
                    ) -> Iterator[Batch]:
    target = torch.device(device) if device is not None else split.device
    positions = order if order is not None else torch.arange(len(split))
    plan = [positions[s * batch_size:(s + 1) * batch_size].tolist() for s in range(steps)]
    if not plan:
        return
    loader = torch.utils.data.DataLoader(
        split.items(), batch_sampler=plan, num_workers=split.workers,
        pin_memory=target.type == "cuda",
        # a loader draws its workers' base seed from this generator, never from torch's global
        # one, so streaming leaves the trial's random state as an in-memory split does
        generator=torch.Generator().manual_seed(_worker_seed(generator)),
    )
    reader = iter(loader)
    try:
        for rows, (x, y) in zip(plan, reader, strict=True):
            idx = torch.tensor(rows, dtype=torch.int64)
            if target.type != "cpu":
                idx = idx.to(target, non_blocking=True)
                x, y = x.to(target, non_blocking=True), y.to(target, non_blocking=True)
            yield idx, x, y
    finally:  # stop the workers now, also when the caller stops early or an item fails,
        # not whenever the garbage collector gets to the iterator
        stop = getattr(reader, "_shutdown_workers", None)
        if stop is not None:
            stop()


def first_inputs(split: DataSplit, n: int) -> torch.Tensor:
    """The inputs of the first ``n`` rows of ``split`` (fewer if it is shorter), on CPU: int8
    calibration images, the example input of an export."""
    n = min(n, len(split))
    if isinstance(split, Split):
        return split.x[:n].cpu()
    return next(batches(replace(split, workers=0), max(1, n), device="cpu"))[1]
