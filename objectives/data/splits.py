"""A dataset as splits: in-memory tensors (:class:`Split`) or a user's dataset streamed item by
item (``objectives.data.stream.StreamSplit``), gathered in :class:`TensorData` with what a model
needs to know; and the seeded, stratified train / validation / test split itself. Every reader
iterates either kind of split through ``objectives.data.batches.batches``."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TypeAlias

import numpy as np
import torch

from objectives.data.config import DataConfig
from objectives.data.stream import StreamSplit

__all__ = ["DataSplit", "Split", "TensorData", "split_indices", "stream_tensors"]


@dataclass(frozen=True)
class Split:
    """Inputs and targets (integer labels, or float targets) of one split, as tensors."""

    x: torch.Tensor
    y: torch.Tensor

    def __len__(self) -> int:
        return int(self.y.shape[0])

    @property
    def device(self) -> torch.device:
        """Where the tensors are (and so every batch)."""
        return self.x.device

    @property
    def input_shape(self) -> tuple[int, ...]:
        """The shape of one input."""
        return tuple(self.x.shape[1:])

    def to(self, device: torch.device) -> Split:
        """The same split on ``device``."""
        return Split(self.x.to(device), self.y.to(device))


#: A split of either kind; read it with ``objectives.data.batches.batches``.
DataSplit: TypeAlias = "Split | StreamSplit"


@dataclass(frozen=True)
class TensorData:
    """A dataset's three splits (in memory or streamed) and what a model needs to know of it.
    The test split is never used for selection.

    ``num_classes`` is the model's output width (classes, or the width of float targets);
    ``loss`` and ``metric`` are the study's (names or import strings, see
    ``objectives.task``)."""

    name: str
    train: DataSplit
    val: DataSplit
    test: DataSplit
    input_shape: tuple[int, ...]
    num_classes: int
    augment: str = "none"  # training-batch augmentation, a name in objectives.data.augment.AUGMENTS
    loss: str = "cross_entropy"
    metric: str = "accuracy"

    @property
    def device(self) -> torch.device:
        """The device batches are on."""
        return self.train.device

    @property
    def in_memory(self) -> bool:
        """Whether the splits are tensors (False: streamed)."""
        return isinstance(self.train, Split)

    def to(self, device: torch.device) -> TensorData:
        """The same data on ``device`` (a streamed split moves each batch when it is read)."""
        return replace(self, train=self.train.to(device), val=self.val.to(device),
                       test=self.test.to(device))


def split_indices(n: int, cfg: DataConfig, labels: np.ndarray | None, field: str = "dataset"
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Train, validation and test positions of ``n`` examples: a seeded split
    (``cfg.split_seed``, ``val_fraction``, ``test_fraction``), stratified by ``labels`` when
    given (integer class labels), a plain seeded shuffle split otherwise."""
    from sklearn.model_selection import train_test_split

    idx = np.arange(n)
    val_share = cfg.val_fraction / (1.0 - cfg.test_fraction)
    try:
        rest, test_idx = train_test_split(idx, test_size=cfg.test_fraction,
                                          random_state=cfg.split_seed, stratify=labels)
        train_idx, val_idx = train_test_split(
            rest, test_size=val_share, random_state=cfg.split_seed,
            stratify=labels[rest] if labels is not None else None)
    except ValueError as err:
        if labels is None:
            raise ValueError(f"{field}: cannot split {n} examples into train, validation and "
                             f"test sets ({err}); give more examples") from None
        classes = len(np.unique(labels))
        raise ValueError(f"{field}: cannot split {n} examples of {classes} classes into "
                         f"stratified train, validation and test sets ({err}); give every "
                         "class more examples") from None
    return train_idx, val_idx, test_idx


def stream_tensors(split: Split, workers: int) -> StreamSplit:
    """An in-memory split read as a streamed one (the same rows, in the same order)."""
    dataset = torch.utils.data.TensorDataset(split.x, split.y)
    return StreamSplit(dataset, np.arange(len(split)), split.input_shape, workers, split.device)
