"""Datasets as splits with a fixed, seeded train / validation / test split: in-memory tensors
(``Split``), or streamed from a user's dataset (``objectives.stream.StreamSplit``) when it does
not fit in memory. Every reader iterates either kind through ``objectives.batches.batches``.

Named datasets (``DATASETS``, filled by :func:`register_dataset`) are loaded as arrays, split
stratified and seeded, and standardised with the train split's mean and standard deviation.
A user's data (``[dataset] source``, see ``objectives.sources``) is split the same way but
never standardised: the user's loader or transforms own its preprocessing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TypeAlias

import numpy as np
import torch

from objectives.memory import choose_in_memory
from objectives.stream import StreamSplit
from spaces.registry import Registry

__all__ = [
    "CHECKS",
    "DATASETS",
    "DataConfig",
    "DataSplit",
    "RegisteredDataset",
    "Split",
    "TensorData",
    "check_dataset",
    "list_datasets",
    "load_dataset",
    "register_dataset",
    "resolve_device",
    "split_indices",
    "stream_tensors",
]


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


#: A split of either kind; read it with ``objectives.batches.batches``.
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
    augment: str = "none"  # training-batch augmentation, a name in objectives.augment.AUGMENTS
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


@dataclass(frozen=True)
class DataConfig:
    """``[dataset]`` of a study: which data, how it is split, held in memory and scored.

    - ``name``: a registered dataset (digits, mnist, fashion_mnist, cifar10, imagefolder, or
      one of :func:`register_dataset`); not used when ``source`` is given.
    - ``source``: the import string of a user's ``load()`` function, which takes no arguments:
      ``"my_data:load"`` (a module) or ``"path/to/my_data.py:load"`` (a file). It returns
      ``(x, y)`` arrays or tensors, a map-style ``torch.utils.data.Dataset`` of
      ``(input, target)`` items, or a ``(train, val, test)`` tuple of such datasets (see
      ``objectives.sources``). User data is never standardised by Frontier.
    - ``data_dir``: the folder a built-in dataset reads its files from.
    - ``val_fraction``, ``test_fraction``, ``split_seed``: the seeded split; stratified by
      class when the targets are integer labels (a ``(train, val, test)`` source is used as
      it is).
    - ``augment``: a training-batch augmentation (``objectives.augment.AUGMENTS``); None: the
      dataset's default.
    - ``image_size``: resize a built-in dataset's images to ``image_size`` squared.
    - ``num_classes``: the model's output width; None: inferred (integer labels: the largest
      label + 1, at least the length of a dataset's ``classes`` attribute; float targets:
      their width, 1 for one number per example).
    - ``in_memory``: true: hold the splits as tensors; false: stream them through a
      ``DataLoader``; None (default): tensors when they fit in ``memory_share`` of the
      machine's RAM (a Dataset: its first item's size × its length) and, when the study's
      device is CUDA, of the free GPU memory. Arrays (built-in datasets, ``(x, y)`` sources)
      are in RAM already: only the GPU's memory counts for them.
    - ``memory_share``: that share, in (0, 1] (default 0.5).
    - ``loader_workers``: worker processes that read a streamed dataset (default 2; 0: the
      main process). Streamed and in-memory data give the same batches and metrics.
    - ``loss``: the training loss: ``"cross_entropy"``, ``"mse"``, ``"l1"``, or the import
      string of ``loss(outputs, targets) -> scalar tensor``.
    - ``metric``: what the study maximises on the validation split and reports on the test
      split: ``"accuracy"``, ``"neg_mse"``, ``"neg_rmse"``, ``"neg_mae"``, or the import string
      of ``metric(outputs, targets) -> float`` (higher is better), computed on a whole split's
      outputs at once. Outputs label it ``val_<name>`` / ``test_<name>`` when it is not
      accuracy; inside a study it is still stored as ``val_accuracy`` / ``test_accuracy``.
    """

    name: str = "digits"
    data_dir: str | None = None
    val_fraction: float = 0.2
    test_fraction: float = 0.2
    split_seed: int = 0
    augment: str | None = None  # None: the dataset's default (see register_dataset)
    image_size: int | None = None  # resize to image_size × image_size; None: native size
    #                                (imagefolder, whose images differ in size: 32)
    source: str | None = None
    num_classes: int | None = None
    in_memory: bool | None = None
    memory_share: float = 0.5
    loader_workers: int = 2
    loss: str = "cross_entropy"
    metric: str = "accuracy"

    @property
    def label(self) -> str:
        """What the data are called: the source's import string, or the built-in name."""
        return self.source if self.source is not None else self.name


Loader = Callable[[DataConfig], tuple[np.ndarray, np.ndarray, int]]
Checker = Callable[[DataConfig], None]


@dataclass(frozen=True)
class RegisteredDataset:
    """A named dataset: its loader, an optional cheap file check, its default augmentation.
    Calling it loads the data."""

    load: Loader  # (images N×C×H×W float32, labels int64, number of classes)
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
    (``x``: float32 N×C×H×W, ``y``: int64 labels), with an optional ``check(cfg)`` that raises
    ValueError naming missing files (cheap: reads no data) and the augmentation it uses when
    ``[dataset] augment`` is not given."""

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


@register_dataset("digits")
def _digits(cfg: DataConfig) -> tuple[np.ndarray, np.ndarray, int]:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    x = (bunch.images / 16.0).astype(np.float32)[:, None, :, :]
    return x, bunch.target.astype(np.int64), 10


def check_dataset(cfg: DataConfig) -> None:
    """Raise ValueError naming the ``dataset.<field>`` that keeps ``cfg`` from loading: unknown
    name, augmentation, loss or metric, missing folder, missing files, an option out of range.
    Reads no data and imports no user code (``load_dataset`` does)."""
    from objectives.augment import augment_fn
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


def load_dataset(cfg: DataConfig, device: torch.device | str = "cpu") -> TensorData:
    """Load the dataset ``cfg`` names onto ``device``, split seeded (stratified by class).

    A built-in dataset (``cfg.name``) is standardised with its train split's statistics and
    held as tensors; on CUDA, when it does not fit in ``memory_share`` of the free GPU memory,
    its batches are streamed from CPU memory instead (``in_memory = true`` refuses it with a
    ValueError). ``cfg.source`` loads a user's data (``objectives.sources.load_source``):
    not standardised, held in memory or streamed by ``cfg.in_memory``. A user's loss or
    metric is imported here, so a bad one fails before any trial runs."""
    from objectives.task import loss_fn, metric_fn

    check_dataset(cfg)
    loss_fn(cfg.loss)
    metric_fn(cfg.metric)
    device = torch.device(device)
    if cfg.source is not None:
        from objectives.sources import load_source

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
