"""The built-in datasets: digits (scikit-learn's 8×8 digits, embedded, the default), image
datasets from local folders: MNIST, FashionMNIST, CIFAR-10 and an ImageFolder, and MNIST-1D's
generated 1-D signals (``objectives.data.mnist1d``).

Nothing is downloaded. Each dataset registers (``objectives.data.registry.register_dataset``) a
loader and, when it reads files, a cheap file check that names the missing files and where they
go.
The official train and test files are pooled and split by ``load_dataset``'s seeded stratified
split like every other dataset (``dataset.val_fraction`` / ``test_fraction``).

- MNIST / FashionMNIST: ``torchvision.datasets.MNIST`` / ``FashionMNIST`` (``download=False``)
  read ``<data_dir>/MNIST/raw/`` (``FashionMNIST/raw/``); the four IDX files may be gzipped.
- CIFAR-10: the python pickle batches in ``<data_dir>/cifar-10-batches-py/`` are read here, in
  the format torchvision reads, because ``torchvision.datasets.CIFAR10`` insists on the
  official MD5 checksums. The unpickler only admits numpy arrays, so a batch file cannot run
  code.
- imagefolder: ``<data_dir>/<class>/<image>`` as ``torchvision.datasets.ImageFolder`` sees it,
  decoded to RGB and resized to ``dataset.image_size`` (default 32).
"""

from __future__ import annotations

import gzip
import os
import pickle
import shutil
import tempfile
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from objectives.data import mnist1d as _mnist1d  # noqa: F401  (registers mnist1d)
from objectives.data.config import DataConfig
from objectives.data.registry import register_dataset

__all__ = ["CIFAR_FILES", "IDX_FILES", "read_cifar_batch"]

IDX_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
             "t10k-labels-idx1-ubyte")
CIFAR_FOLDER = "cifar-10-batches-py"
CIFAR_FILES = (*(f"data_batch_{i}" for i in range(1, 6)), "test_batch")
IMAGEFOLDER_SIZE = 32
_READ_ERRORS = (RuntimeError, AssertionError, ValueError, TypeError, KeyError, OSError, EOFError,
                pickle.UnpicklingError)


def _digits(cfg: DataConfig) -> tuple[np.ndarray, np.ndarray, int]:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    x = (bunch.images / 16.0).astype(np.float32)[:, None, :, :]
    return x, bunch.target.astype(np.int64), 10


def _root(cfg: DataConfig, where: str) -> Path:
    if cfg.data_dir is None:
        raise ValueError(f"dataset.data_dir: dataset {cfg.name!r} reads local files; set "
                         f"data_dir to the folder that holds {where} (e.g. data_dir = \"data\")")
    return Path(cfg.data_dir)


def _missing(root: Path, what: str, gone: list[str], total: int, fix: str) -> None:
    """Raise the one-line error naming the ``gone`` files (relative to ``root``)."""
    verb = "has no" if len(gone) == total else "is missing"
    raise ValueError(f"dataset.data_dir: {root} {verb} {what} files (expected "
                     f"{', '.join(str(root / f) for f in gone)}); {fix}")


# --- MNIST and FashionMNIST: torchvision's reader over IDX files -------------------------------

def _idx_check(folder: str) -> Any:
    def check(cfg: DataConfig) -> None:
        root = _root(cfg, f"{folder}/raw/")
        raw = root / folder / "raw"
        gone = [f"{folder}/raw/{f}[.gz]" for f in IDX_FILES
                if not (raw / f).is_file() and not (raw / f"{f}.gz").is_file()]
        if gone:
            _missing(root, folder, gone, len(IDX_FILES), f"put the four {folder} IDX files "
                     "there (gzipped or not), as torchvision.datasets lays them out")
    return check


def _idx_loader(folder: str) -> Any:
    def load(cfg: DataConfig) -> tuple[np.ndarray, np.ndarray, int]:
        import torch
        from torchvision import datasets

        cls = {"MNIST": datasets.MNIST, "FashionMNIST": datasets.FashionMNIST}[folder]
        root = _root(cfg, f"{folder}/raw/")
        raw = root / folder / "raw"
        try:
            with tempfile.TemporaryDirectory(prefix="frontier-idx-") as tmp:
                if not all((raw / f).is_file() for f in IDX_FILES):
                    root = _unzipped_copy(raw, Path(tmp) / folder / "raw").parents[1]
                parts = [cls(str(root), train=train, download=False) for train in (True, False)]
                images = torch.cat([p.data for p in parts]).numpy()
                labels = torch.cat([p.targets for p in parts]).numpy()
        except _READ_ERRORS as err:
            raise ValueError(f"dataset.data_dir: cannot read the {folder} IDX files in {raw} "
                             f"({type(err).__name__}: {err}); replace them with intact copies"
                             ) from None
        x = (images.astype(np.float32) / 255.0)[:, None, :, :]
        return x, labels.astype(np.int64), 10
    return load


def _unzipped_copy(raw: Path, dest: Path) -> Path:
    """``dest`` holding each IDX file of ``raw``: linked when plain, decompressed when gzipped.
    The user's folder is never written to."""
    dest.mkdir(parents=True)
    for name in IDX_FILES:
        if (raw / name).is_file():
            os.symlink((raw / name).resolve(), dest / name)
        else:
            with gzip.open(raw / f"{name}.gz", "rb") as src, open(dest / name, "wb") as out:
                shutil.copyfileobj(src, out)
    return dest


# --- CIFAR-10: the python pickle batches ---------------------------------------------------

class _ArrayUnpickler(pickle.Unpickler):
    """Admits only what a pickled numpy array needs; anything else is refused, not run."""

    ALLOWED: ClassVar[frozenset[tuple[str, str]]] = frozenset({
        ("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode"),
        ("numpy._core.multiarray", "_reconstruct"), ("numpy._core.numeric", "_frombuffer"),
    })

    def find_class(self, module: str, name: str) -> Any:
        module = module.replace("numpy.core.", "numpy._core.")  # files written by numpy < 2
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a data file")
        return super().find_class(module, name)


def read_cifar_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Images (N×3×32×32 uint8) and labels (N int64) of one CIFAR-10 python batch file."""
    with open(path, "rb") as f:
        entry = _ArrayUnpickler(f, encoding="latin1").load()
    if not isinstance(entry, dict):
        raise ValueError(f"{path.name} holds a {type(entry).__name__}, not a batch dict")
    entry = {k.decode() if isinstance(k, bytes) else k: v for k, v in entry.items()}
    data = np.asarray(entry["data"], dtype=np.uint8)
    labels = np.asarray(entry["labels"], dtype=np.int64)
    if data.ndim != 2 or data.shape[1] != 3 * 32 * 32 or len(labels) != len(data):
        raise ValueError(f"{path.name}: expected data of shape (N, 3072) and N labels, got "
                         f"{data.shape} and {labels.shape}")
    if len(labels) and not 0 <= labels.min() <= labels.max() <= 9:
        raise ValueError(f"{path.name}: labels must lie in 0..9")
    return data.reshape(-1, 3, 32, 32), labels


def _cifar_check(cfg: DataConfig) -> None:
    root = _root(cfg, f"{CIFAR_FOLDER}/")
    gone = [f"{CIFAR_FOLDER}/{f}" for f in CIFAR_FILES if not (root / CIFAR_FOLDER / f).is_file()]
    if gone:
        _missing(root, "CIFAR-10", gone, len(CIFAR_FILES), "extract cifar-10-python.tar.gz "
                 f"(the CIFAR-10 python version) into {root}")


def _cifar_load(cfg: DataConfig) -> tuple[np.ndarray, np.ndarray, int]:
    folder = _root(cfg, f"{CIFAR_FOLDER}/") / CIFAR_FOLDER
    images, labels = [], []
    for name in CIFAR_FILES:
        try:
            x, y = read_cifar_batch(folder / name)
        except _READ_ERRORS as err:
            raise ValueError(f"dataset.data_dir: cannot read CIFAR-10 batch {folder / name} "
                             f"({type(err).__name__}: {err}); replace it with an intact copy"
                             ) from None
        images.append(x)
        labels.append(y)
    x = np.concatenate(images).astype(np.float32) / np.float32(255.0)
    return x, np.concatenate(labels), 10


# --- ImageFolder: one sub-folder per class -------------------------------------------------

def _no_images(root: Path, problem: str) -> ValueError:
    return ValueError(f"dataset.data_dir: {root} {problem}; put one folder of images per class "
                      f"there, e.g. {root}/cat/1.png, {root}/dog/1.jpg")


def _imagefolder_check(cfg: DataConfig) -> None:
    from torchvision.datasets.folder import IMG_EXTENSIONS

    root = _root(cfg, "one sub-folder of images per class")
    classes = sorted(d for d in root.iterdir() if d.is_dir())
    if not classes:
        raise _no_images(root, "has no class folders")
    for d in classes:
        if not any(f.name.lower().endswith(IMG_EXTENSIONS) for f in d.rglob("*")):
            raise _no_images(root, f"has a class folder without images ({d.name})")


def _image_folder(cfg: DataConfig) -> Any:
    from torchvision import datasets

    root = _root(cfg, "one sub-folder of images per class")
    try:
        return datasets.ImageFolder(str(root))
    except OSError as err:
        raise _no_images(root, f"cannot be read as an image folder ({err})") from None


def _imagefolder_load(cfg: DataConfig) -> tuple[np.ndarray, np.ndarray, int]:
    from PIL import Image

    folder = _image_folder(cfg)
    size = cfg.image_size or IMAGEFOLDER_SIZE
    need = len(folder.samples) * 3 * size * size * 4
    if need > _free_memory() // 2:
        raise ValueError(f"dataset.image_size: {len(folder.samples)} images at {size}×{size} "
                         f"need {need / 2**30:.1f} GiB, more than half the free memory; use a "
                         "smaller image_size or fewer images, or stream the folder through "
                         "dataset.source (a load() returning torchvision's ImageFolder)")
    x = np.empty((len(folder.samples), 3, size, size), dtype=np.float32)
    for i, (path, _) in enumerate(folder.samples):
        try:
            with Image.open(path) as img:
                rgb = img.convert("RGB").resize((size, size), Image.Resampling.BILINEAR)
                pixels = np.asarray(rgb)
        except OSError as err:
            raise ValueError(f"dataset.data_dir: cannot decode {path} ({err}); remove or "
                             "replace it") from None
        x[i] = pixels.transpose(2, 0, 1) / np.float32(255.0)
    y = np.asarray(folder.targets, dtype=np.int64)
    return x, y, len(folder.classes)


def _free_memory() -> int:
    """Available physical memory in bytes (unbounded where the OS does not say)."""
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return 2**62


register_dataset("digits")(_digits)
for _name, _folder in (("mnist", "MNIST"), ("fashion_mnist", "FashionMNIST")):
    register_dataset(_name, check=_idx_check(_folder))(_idx_loader(_folder))
register_dataset("cifar10", check=_cifar_check, augment="crop_flip")(_cifar_load)
register_dataset("imagefolder", check=_imagefolder_check)(_imagefolder_load)
