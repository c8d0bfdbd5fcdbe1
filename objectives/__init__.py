"""How a candidate is judged: data, training, pruning, quantization and measurement."""

from objectives import datasets as _datasets  # noqa: F401  (registers mnist, cifar10, ...)
from objectives.batches import batches
from objectives.classification import Budget, Measured, evaluate
from objectives.data import (
    DATASETS,
    DataConfig,
    DataSplit,
    Split,
    TensorData,
    load_dataset,
    resolve_device,
)
from objectives.stream import StreamSplit

__all__ = [
    "DATASETS",
    "Budget",
    "DataConfig",
    "DataSplit",
    "Measured",
    "Split",
    "StreamSplit",
    "TensorData",
    "batches",
    "evaluate",
    "load_dataset",
    "resolve_device",
]
