"""Check and load a study's data: a fixed, seeded train / validation / test split, in memory or
streamed when it does not fit (``objectives.data.memory``).

Named datasets (``objectives.data.registry.DATASETS``) are loaded as arrays, split stratified and
seeded, and standardised with the train split's mean and standard deviation. A user's data
(``[dataset] source``, see ``objectives.data.sources``) is split the same way but never
standardised: the user's loader or transforms own its preprocessing.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from objectives.data.augment import augment_fn
from objectives.data.config import DataConfig
from objectives.data.memory import choose_in_memory
from objectives.data.registry import DATASETS
from objectives.data.splits import Split, TensorData, split_indices, stream_tensors

__all__ = ["check_dataset", "load_dataset", "resolve_device"]


def check_dataset(cfg: DataConfig) -> None:
    """Raise ValueError naming the ``dataset.<field>`` that keeps ``cfg`` from loading: unknown
    name, augmentation, loss or metric, missing folder, missing files, an option out of range.
    Reads no data and imports no user code (``load_dataset`` does)."""
    from objectives.task import check_task

    if cfg.source is None:
        DATASETS.get(cfg.name)  # ValueError naming dataset.name and the registered names
        if cfg.data_dir is not None and not Path(cfg.data_dir).is_dir():
            raise ValueError(f"dataset.data_dir: {cfg.data_dir} is not a directory")
    else:
        _check_source(cfg)
    if cfg.augment is not None:
        augment_fn(cfg.augment)
    if cfg.image_size is not None and cfg.image_size < 1:
        raise ValueError(f"dataset.image_size: {cfg.image_size} must be >= 1 (pixels), or "
                         "leave it out for the native size")
    if cfg.num_classes is not None and cfg.num_classes < 1:
        raise ValueError(f"dataset.num_classes: {cfg.num_classes} must be >= 1, or leave it "
                         "out to infer it from the data")
    if not 0 < cfg.memory_share <= 1:
        raise ValueError(f"dataset.memory_share: {cfg.memory_share} must be in (0, 1] (a share "
                         "of the memory the data may take)")
    if cfg.loader_workers < 0:
        raise ValueError(f"dataset.loader_workers: {cfg.loader_workers} must be >= 0 (0: read "
                         "in the main process)")
    check_task(cfg.loss, cfg.metric)
    check = DATASETS[cfg.name].check if cfg.source is None else None
    if check is not None:
        check(cfg)


def _check_source(cfg: DataConfig) -> None:
    assert cfg.source is not None
    module, sep, attr = cfg.source.rpartition(":")
    if not (sep and module and attr):
        raise ValueError(f"dataset.source: {cfg.source!r} is not an import string; write "
                         "\"module:load\" or \"path/to/file.py:load\" (a function that takes "
                         "no arguments)")
    for key, value in (("data_dir", cfg.data_dir), ("image_size", cfg.image_size)):
        if value is not None:
            raise ValueError(f"dataset.{key}: read by the built-in datasets only; with "
                             "dataset.source your load() finds and preprocesses its own data")


def load_dataset(cfg: DataConfig, device: torch.device | str = "cpu") -> TensorData:
    """Load the dataset ``cfg`` names onto ``device``, split seeded (stratified by class).

    A built-in dataset (``cfg.name``) is standardised with its train split's statistics and
    held as tensors; on CUDA, when it does not fit in ``memory_share`` of the free GPU memory,
    its batches are streamed from CPU memory instead (``in_memory = true`` refuses it with a
    ValueError). ``cfg.source`` loads a user's data (``objectives.data.sources.load_source``):
    not standardised, held in memory or streamed by ``cfg.in_memory``. A user's loss or
    metric is imported here, so a bad one fails before any trial runs."""
    from objectives.task import loss_fn, metric_fn

    check_dataset(cfg)
    loss_fn(cfg.loss)
    metric_fn(cfg.metric)
    device = torch.device(device)
    if cfg.source is not None:
        from objectives.data.sources import load_source

        return load_source(cfg, device)
    dataset = DATASETS[cfg.name]
    x, y, num_classes = dataset.load(cfg)
    if cfg.image_size is not None and x.shape[-2:] != (cfg.image_size, cfg.image_size):
        x = _resize(x, cfg.image_size)
    in_memory = choose_in_memory(x.nbytes + y.nbytes, cfg.in_memory, cfg.memory_share, device,
                                 in_ram=True)
    train_idx, val_idx, test_idx = split_indices(len(y), cfg, y)
    mean, std = float(x[train_idx].mean()), float(x[train_idx].std()) or 1.0

    def split(i: np.ndarray) -> Split:
        return Split(torch.from_numpy((x[i] - mean) / std), torch.from_numpy(y[i]))

    augment = cfg.augment if cfg.augment is not None else dataset.augment
    if cfg.num_classes is not None:
        num_classes = _output_width(cfg.num_classes, num_classes)
    train, val, test = split(train_idx), split(val_idx), split(test_idx)
    data = TensorData(cfg.name, train, val, test, tuple(x.shape[1:]), num_classes, augment,
                      cfg.loss, cfg.metric)
    if not in_memory:
        data = replace(data, train=stream_tensors(train, cfg.loader_workers),
                       val=stream_tensors(val, cfg.loader_workers),
                       test=stream_tensors(test, cfg.loader_workers))
    return data.to(device)


def _output_width(asked: int, classes: int) -> int:
    if asked < classes:
        raise ValueError(f"dataset.num_classes: {asked} is fewer than the {classes} classes "
                         "the labels hold; raise it, or leave it out to infer it")
    return asked


def _resize(x: np.ndarray, size: int, chunk: int = 4096) -> np.ndarray:
    """Bilinear (antialiased) resize of N×C×H×W images to size × size, in chunks."""
    import torch.nn.functional as F

    out = [F.interpolate(torch.from_numpy(x[i:i + chunk]), size=(size, size), mode="bilinear",
                         antialias=True, align_corners=False).numpy()
           for i in range(0, len(x), chunk)]
    return np.concatenate(out).astype(np.float32, copy=False)


def resolve_device(name: str) -> torch.device:
    """``"auto"`` picks CUDA when available, else CPU; other names pass through."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device: {name!r} asked for but CUDA is not available; use 'auto' "
                         "or 'cpu'")
    return torch.device(name)
