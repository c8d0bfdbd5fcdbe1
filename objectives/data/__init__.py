"""A study's data: the ``[dataset]`` config, named datasets, seeded splits (in memory or streamed),
batches, augmentations and a user's own data source."""

from objectives.data import datasets as _datasets  # noqa: F401  (registers digits, mnist, ...)
from objectives.data.augment import AUGMENTS, list_augmentations, register_augmentation
from objectives.data.batches import batches
from objectives.data.config import DataConfig
from objectives.data.loading import check_dataset, load_dataset, resolve_device
from objectives.data.registry import (
    CHECKS,
    DATASETS,
    RegisteredDataset,
    list_datasets,
    register_dataset,
)
from objectives.data.splits import DataSplit, Split, TensorData, split_indices, stream_tensors
from objectives.data.stream import StreamSplit

__all__ = [
    "AUGMENTS",
    "CHECKS",
    "DATASETS",
    "DataConfig",
    "DataSplit",
    "RegisteredDataset",
    "Split",
    "StreamSplit",
    "TensorData",
    "batches",
    "check_dataset",
    "list_augmentations",
    "list_datasets",
    "load_dataset",
    "register_augmentation",
    "register_dataset",
    "resolve_device",
    "split_indices",
    "stream_tensors",
]
