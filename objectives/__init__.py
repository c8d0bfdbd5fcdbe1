"""How a candidate is judged: data (``objectives.data``), training, compression
(``objectives.compress``: pruning, low-rank factorisation and quantization as registered
steps), distillation and measurement, composed by
``objectives.pipeline`` (build → train → compress → measure)."""

from objectives.data import (
    AUGMENTS,
    DATASETS,
    DataConfig,
    DataSplit,
    Split,
    StreamSplit,
    TensorData,
    batches,
    list_augmentations,
    list_datasets,
    load_dataset,
    register_augmentation,
    register_dataset,
    resolve_device,
)
from objectives.distill import TEACHERS, list_teachers, register_teacher
from objectives.pipeline import Budget, Measured, evaluate
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
