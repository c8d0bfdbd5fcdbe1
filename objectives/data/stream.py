"""A split read item by item from a user's map-style ``torch.utils.data.Dataset``.

A :class:`StreamSplit` is what ``load_dataset`` hands over when a user's data does not fit in
memory (``[dataset] in_memory``): it holds the dataset, the positions of its items in this
split, and how many loader worker processes read them. ``objectives.data.batches.batches`` turns it
into batches through a ``DataLoader``, in the very order an in-memory ``Split`` of the same
items would give.

Every item ``dataset[i]`` must be an ``(input, target)`` pair; :func:`as_pair` converts it the
one way Frontier converts user data everywhere: inputs become float32 tensors, integer (and
bool) targets int64, floating targets float32. Nothing is scaled or standardised: the user's
dataset (its transforms) owns preprocessing.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import torch

__all__ = ["StreamSplit", "as_pair", "item_bytes"]


def _tensor(value: Any, what: str) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        return value.detach()
    try:
        return torch.as_tensor(np.asarray(value))
    except (TypeError, ValueError, RuntimeError) as err:
        raise ValueError(f"its {what} is a {type(value).__name__}, not an array or number "
                         f"({err})") from None


def as_pair(item: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """``(input, target)`` of one dataset item as tensors: a float32 input; an int64 target
    when it holds integers or bools, float32 when it holds floats. Raises ValueError (without
    the field's name, which the caller adds) for anything that is not such a pair."""
    if not isinstance(item, tuple | list) or len(item) != 2:
        raise ValueError(f"an item is a {type(item).__name__}, not an (input, target) pair")
    x, y = _tensor(item[0], "input"), _tensor(item[1], "target")
    x = x if x.dtype == torch.float32 else x.to(torch.float32)
    if y.dtype.is_floating_point:
        y = y if y.dtype == torch.float32 else y.to(torch.float32)
    elif y.dtype.is_complex:
        raise ValueError(f"its target has dtype {y.dtype}; give integer labels or real targets")
    else:
        y = y.to(torch.int64)
    return x, y


def item_bytes(x: torch.Tensor, y: torch.Tensor) -> int:
    """Bytes one converted item takes in memory."""
    return x.numel() * x.element_size() + y.numel() * y.element_size()


class _Items(torch.utils.data.Dataset[tuple[torch.Tensor, torch.Tensor]]):
    """Position ``p`` of a split -> the converted item ``dataset[indices[p]]``."""

    def __init__(self, dataset: Any, indices: np.ndarray) -> None:
        self.dataset, self.indices = dataset, indices

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, pos: int) -> tuple[torch.Tensor, torch.Tensor]:
        return as_pair(self.dataset[int(self.indices[pos])])


@dataclass(frozen=True, eq=False)
class StreamSplit:
    """One split of a map-style dataset, read in batches by ``DataLoader`` workers.

    ``indices`` are the dataset's item numbers in this split (position ``p`` of the split is
    item ``indices[p]``); ``input_shape`` is the shape of one input; batches are moved to
    ``device``; ``workers`` loader processes read items (0: the main process).
    """

    dataset: Any
    indices: np.ndarray
    input_shape: tuple[int, ...]
    workers: int = 2
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))

    def __len__(self) -> int:
        return len(self.indices)

    def to(self, device: torch.device) -> StreamSplit:
        """The same split with its batches moved to ``device`` (nothing is copied now)."""
        return replace(self, device=torch.device(device))

    def items(self) -> torch.utils.data.Dataset[tuple[torch.Tensor, torch.Tensor]]:
        """The split as a dataset of converted ``(input, target)`` pairs, by position."""
        return _Items(self.dataset, self.indices)
