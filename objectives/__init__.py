"""How a candidate is judged: data, training, pruning, quantization and measurement."""

from objectives import datasets as _datasets  # noqa: F401  (registers mnist, cifar10, ...)
from objectives.augment import AUGMENTS, list_augmentations, register_augmentation
from objectives.batches import batches
from objectives.classification import Budget, Measured, evaluate
from objectives.data import (
    DATASETS,
    DataConfig,
    DataSplit,
    Split,
    TensorData,
    list_datasets,
    load_dataset,
    register_dataset,
    resolve_device,
)
from objectives.distill import TEACHERS, list_teachers, register_teacher
from objectives.stream import StreamSplit
from objectives.task import (
    LOSSES,
    METRICS,
    list_losses,
    list_metrics,
    register_loss,
    register_metric,
)

__all__ = [
    "AUGMENTS",
    "DATASETS",
    "LOSSES",
    "METRICS",
    "TEACHERS",
    "Budget",
    "DataConfig",
    "DataSplit",
    "Measured",
    "Split",
    "StreamSplit",
    "TensorData",
    "batches",
    "evaluate",
    "list_augmentations",
    "list_datasets",
    "list_losses",
    "list_metrics",
    "list_teachers",
    "load_dataset",
    "register_augmentation",
    "register_dataset",
    "register_loss",
    "register_metric",
    "register_teacher",
    "resolve_device",
]
