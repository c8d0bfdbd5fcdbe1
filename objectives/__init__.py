"""How a candidate is judged: data, training, pruning, quantization and measurement."""

from objectives import datasets as _datasets  # noqa: F401  (registers mnist, cifar10, ...)
from objectives.classification import Budget, Measured, evaluate
from objectives.data import DATASETS, DataConfig, Split, TensorData, load_dataset, resolve_device

__all__ = [
    "DATASETS",
    "Budget",
    "DataConfig",
    "Measured",
    "Split",
    "TensorData",
    "evaluate",
    "load_dataset",
    "resolve_device",
]
