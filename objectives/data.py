"""Datasets as in-memory tensors with a fixed, seeded train / validation / test split."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

__all__ = [
    "AUGMENT_DEFAULTS",
    "CHECKS",
    "DATASETS",
    "DataConfig",
    "Split",
    "TensorData",
    "check_dataset",
    "load_dataset",
    "resolve_device",
]


@dataclass(frozen=True)
class Split:
    """Inputs and integer labels of one split."""

    x: torch.Tensor
    y: torch.Tensor

    def __len__(self) -> int:
        return int(self.y.shape[0])

    def to(self, device: torch.device) -> Split:
        """The same split on ``device``."""
        return Split(self.x.to(device), self.y.to(device))


@dataclass(frozen=True)
class TensorData:
    """A dataset held as tensors. The test split is never used for selection."""

    name: str
    train: Split
    val: Split
    test: Split
    input_shape: tuple[int, ...]
    num_classes: int
    augment: str = "none"  # training-batch augmentation, a name in objectives.augment.AUGMENTS

    def to(self, device: torch.device) -> TensorData:
        """The same data on ``device``."""
        return TensorData(self.name, self.train.to(device), self.val.to(device),
                          self.test.to(device), self.input_shape, self.num_classes, self.augment)


@dataclass(frozen=True)
class DataConfig:
    """Which dataset, where its files are, and how it is split."""

    name: str = "digits"
    data_dir: str | None = None
    val_fraction: float = 0.2
    test_fraction: float = 0.2
    split_seed: int = 0
    augment: str | None = None  # None: the dataset's default (AUGMENT_DEFAULTS, else "none")
    image_size: int | None = None  # resize to image_size × image_size; None: native size
    #                                (imagefolder, whose images differ in size: 32)


def _digits(cfg: DataConfig) -> tuple[np.ndarray, np.ndarray, int]:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    x = (bunch.images / 16.0).astype(np.float32)[:, None, :, :]
    return x, bunch.target.astype(np.int64), 10


Loader = Callable[[DataConfig], tuple[np.ndarray, np.ndarray, int]]
Checker = Callable[[DataConfig], None]

#: name -> loader returning (images N×C×H×W float32, labels int64, number of classes).
DATASETS: dict[str, Loader] = {"digits": _digits}
#: name -> a cheap check (no loading) that raises ValueError naming missing files and the fix.
CHECKS: dict[str, Checker] = {}
#: name -> the augmentation used when ``DataConfig.augment`` is None (else "none").
AUGMENT_DEFAULTS: dict[str, str] = {}


def check_dataset(cfg: DataConfig) -> None:
    """Raise ValueError naming the ``dataset.<field>`` that keeps ``cfg`` from loading: unknown
    name or augmentation, missing folder, missing files. Reads no data."""
    from objectives.augment import augment_fn

    if cfg.name not in DATASETS:
        raise ValueError(f"dataset.name: unknown dataset {cfg.name!r}; choose one of "
                         f"{sorted(DATASETS)}")
    if cfg.data_dir is not None and not Path(cfg.data_dir).is_dir():
        raise ValueError(f"dataset.data_dir: {cfg.data_dir} is not a directory")
    if cfg.augment is not None:
        augment_fn(cfg.augment)
    if cfg.image_size is not None and cfg.image_size < 1:
        raise ValueError(f"dataset.image_size: {cfg.image_size} must be >= 1 (pixels), or "
                         "leave it out for the native size")
    if cfg.name in CHECKS:
        CHECKS[cfg.name](cfg)


def load_dataset(cfg: DataConfig, device: torch.device | str = "cpu") -> TensorData:
    """Load ``cfg.name``, split it (stratified, seeded) and standardise with train statistics.

    The tensors are moved to ``device``; on CUDA a dataset larger than half the free GPU memory
    is refused with a ValueError (use device "cpu" for it)."""
    check_dataset(cfg)
    device = torch.device(device)
    x, y, num_classes = DATASETS[cfg.name](cfg)
    if cfg.image_size is not None and x.shape[-2:] != (cfg.image_size, cfg.image_size):
        x = _resize(x, cfg.image_size)
    if device.type == "cuda":
        _check_fits(x.nbytes + y.nbytes, device)
    from sklearn.model_selection import train_test_split

    idx = np.arange(len(y))
    val_share = cfg.val_fraction / (1.0 - cfg.test_fraction)
    try:
        rest, test_idx = train_test_split(idx, test_size=cfg.test_fraction,
                                          random_state=cfg.split_seed, stratify=y)
        train_idx, val_idx = train_test_split(rest, test_size=val_share,
                                              random_state=cfg.split_seed, stratify=y[rest])
    except ValueError as err:
        raise ValueError(f"dataset: cannot split {len(y)} examples of {num_classes} classes "
                         f"into stratified train, validation and test sets ({err}); give every "
                         "class more examples") from None
    mean, std = float(x[train_idx].mean()), float(x[train_idx].std()) or 1.0

    def split(i: np.ndarray) -> Split:
        return Split(torch.from_numpy((x[i] - mean) / std), torch.from_numpy(y[i]))

    augment = cfg.augment if cfg.augment is not None else AUGMENT_DEFAULTS.get(cfg.name, "none")
    data = TensorData(cfg.name, split(train_idx), split(val_idx), split(test_idx),
                      tuple(x.shape[1:]), num_classes, augment)
    return data.to(device)


def _resize(x: np.ndarray, size: int, chunk: int = 4096) -> np.ndarray:
    """Bilinear (antialiased) resize of N×C×H×W images to size × size, in chunks."""
    import torch.nn.functional as F

    out = [F.interpolate(torch.from_numpy(x[i:i + chunk]), size=(size, size), mode="bilinear",
                         antialias=True, align_corners=False).numpy()
           for i in range(0, len(x), chunk)]
    return np.concatenate(out).astype(np.float32, copy=False)


def _check_fits(nbytes: int, device: torch.device) -> None:
    free, _ = torch.cuda.mem_get_info(device)
    if nbytes > free // 2:
        raise ValueError(f"dataset: {nbytes / 2**30:.1f} GiB of tensors do not fit in half of "
                         f"the {free / 2**30:.1f} GiB free on {device}; use study.device = "
                         "'cpu', or fewer or smaller images")


def resolve_device(name: str) -> torch.device:
    """``"auto"`` picks CUDA when available, else CPU; other names pass through."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device: {name!r} asked for but CUDA is not available; use 'auto' "
                         "or 'cpu'")
    return torch.device(name)
