"""Datasets by name: ``[dataset] name = "digits"`` finds its loader in :data:`DATASETS`. The
built-in datasets register in ``objectives.data.datasets``; add your own with
:func:`register_dataset`."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

import numpy as np

from objectives.data.config import DataConfig
from spaces.registry import Registry

__all__ = [
    "CHECKS",
    "DATASETS",
    "Checker",
    "Loader",
    "RegisteredDataset",
    "list_datasets",
    "register_dataset",
]

Loader = Callable[[DataConfig], tuple[np.ndarray, np.ndarray, int]]
Checker = Callable[[DataConfig], None]


@dataclass(frozen=True)
class RegisteredDataset:
    """A named dataset: its loader, an optional cheap file check, its default augmentation.
    Calling it loads the data."""

    load: Loader  # (inputs N×C×H×W or N×C×L float32, labels int64, number of classes)
    check: Checker | None = None  # raises ValueError naming missing files and the fix; no loading
    augment: str = "none"  # used when DataConfig.augment is None

    def __call__(self, cfg: DataConfig) -> tuple[np.ndarray, np.ndarray, int]:
        return self.load(cfg)


#: Dataset name -> :class:`RegisteredDataset` (``[dataset] name = "digits"``).
DATASETS: Registry[RegisteredDataset] = Registry("dataset", "dataset.name",
                                                 "or give dataset.source")


def register_dataset(name: str, *, check: Checker | None = None, augment: str = "none"
                     ) -> Callable[[Loader], Loader]:
    """Decorator: register ``load(cfg) -> (x, y, num_classes)`` as the dataset ``name``
    (``x``: float32 N×C×H×W, or N×C×L for 1-D signals; ``y``: int64 labels), with an
    optional ``check(cfg)`` that raises ValueError naming missing files or packages (cheap:
    reads no data) and the augmentation it uses when ``[dataset] augment`` is not given."""

    def add(load: Loader) -> Loader:
        DATASETS.add(name, RegisteredDataset(load, check, augment))
        return load

    return add


#: The registered dataset names, sorted.
list_datasets = DATASETS.names


class _FileChecks(Mapping[str, Checker]):
    """Read-only view of ``DATASETS``: name -> file check, for the datasets that have one."""

    def __getitem__(self, name: str) -> Checker:
        check = DATASETS[name].check if name in DATASETS else None
        if check is None:
            raise KeyError(name)
        return check

    def __iter__(self) -> Iterator[str]:
        return (name for name in DATASETS if DATASETS[name].check is not None)

    def __len__(self) -> int:
        return sum(1 for _ in self)


#: Dataset name -> its cheap file check, for those that have one: the old dict, kept as a view
#: for its readers (``search.config``); new code reads ``DATASETS[name].check``.
CHECKS: Mapping[str, Checker] = _FileChecks()
