"""Local datasets in their real on-disk formats: MNIST and FashionMNIST IDX files, CIFAR-10
python pickle batches, an image folder; studies on each through the CLI; missing-file errors."""

from __future__ import annotations

import gzip
import pickle
import shutil
import struct
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from objectives.data import DATASETS, DataConfig, check_dataset, load_dataset
from objectives.data.datasets import CIFAR_FILES, read_cifar_batch
from search.config import StudyConfig
from search.errors import DatasetError, FrontierError
from search.keys import CONFIG_ATTR
from search.run import check_runnable
from search.storage.studies import create_or_load
from tests.conftest import ENV

ROOT = Path(__file__).resolve().parents[3]
N_TRAIN, N_TEST = 60, 20  # per IDX file pair; every class present
CIFAR_PER_BATCH = 10


def write_idx(path: Path, array: np.ndarray, gz: bool) -> None:
    """An IDX file as LeCun's site describes it: big-endian magic 0x0803 (images, 3 dims) or
    0x0801 (labels, 1 dim), the dimension sizes, then unsigned bytes."""
    magic = 2051 if array.ndim == 3 else 2049
    data = struct.pack(f">{1 + array.ndim}I", magic, *array.shape) + array.tobytes()
    if gz:
        path = path.with_name(path.name + ".gz")
        path.write_bytes(gzip.compress(data))
    else:
        path.write_bytes(data)


def write_mnist(root: Path, folder: str, gz: bool, seed: int = 0
                ) -> tuple[np.ndarray, np.ndarray]:
    """Tiny MNIST-format files under root/folder/raw; returns all images and labels (train
    first, then test)."""
    rng = np.random.default_rng(seed)
    raw = root / folder / "raw"
    raw.mkdir(parents=True)
    images, labels = [], []
    for prefix, n in (("train", N_TRAIN), ("t10k", N_TEST)):
        y = (np.arange(n) % 10).astype(np.uint8)
        x = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        x[:, y.astype(int) * 2, :] = 255  # a class-dependent bright row: learnable
        write_idx(raw / f"{prefix}-images-idx3-ubyte", x, gz)
        write_idx(raw / f"{prefix}-labels-idx1-ubyte", y, gz)
        images.append(x)
        labels.append(y)
    return np.concatenate(images), np.concatenate(labels)


def write_cifar(root: Path, seed: int = 0, protocol: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """Tiny CIFAR-10 python batches: dicts with 'data' (N×3072 uint8, R, G, B planes of 32×32
    row-major) and 'labels', plus batches.meta; returns the images N×3×32×32 and labels."""
    rng = np.random.default_rng(seed)
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    images, labels = [], []
    for i, name in enumerate(CIFAR_FILES):
        data = rng.integers(0, 256, (CIFAR_PER_BATCH, 3072), dtype=np.uint8)
        y = [int(v) for v in (np.arange(CIFAR_PER_BATCH) + i) % 10]
        batch = {"batch_label": f"batch {i + 1} of 6", "labels": y, "data": data,
                 "filenames": [f"img_{i}_{j}.png" for j in range(CIFAR_PER_BATCH)]}
        (folder / name).write_bytes(pickle.dumps(batch, protocol=protocol))
        images.append(data.reshape(-1, 3, 32, 32))
        labels.append(np.array(y))
    meta = {"label_names": ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog",
                            "horse", "ship", "truck"], "num_cases_per_batch": CIFAR_PER_BATCH,
            "num_vis": 3072}
    (folder / "batches.meta").write_bytes(pickle.dumps(meta, protocol=protocol))
    return np.concatenate(images), np.concatenate(labels)


def write_image_folder(root: Path) -> dict[str, tuple[int, int, int]]:
    """Three classes of five images each, of different sizes and formats."""
    colours = {"blue": (0, 0, 255), "green": (0, 255, 0), "red": (255, 0, 0)}
    for name, colour in colours.items():
        (root / name).mkdir(parents=True)
        for j in range(5):
            img = Image.new("RGB" if j % 2 else "L", (20 + 3 * j, 12 + j), 0)
            img.paste(Image.new("RGB", img.size, colour).convert(img.mode))
            img.save(root / name / f"{j}.{'png' if j < 4 else 'jpg'}")
    return colours


# --- loaders read the real formats ---------------------------------------------------------

@pytest.mark.parametrize(("name", "folder", "gz"), [("mnist", "MNIST", False),
                                                     ("fashion_mnist", "FashionMNIST", True)])
def test_idx_files_load_through_torchvision(tmp_path: Path, name: str, folder: str,
                                            gz: bool) -> None:
    images, labels = write_mnist(tmp_path, folder, gz)
    before = sorted(p.name for p in (tmp_path / folder / "raw").iterdir())
    x, y, classes = DATASETS[name](DataConfig(name, data_dir=str(tmp_path)))
    assert classes == 10 and x.shape == (N_TRAIN + N_TEST, 1, 28, 28) and x.dtype == np.float32
    np.testing.assert_array_equal(y, labels)
    np.testing.assert_allclose(x[:, 0] * 255, images, atol=1e-3)
    assert sorted(p.name for p in (tmp_path / folder / "raw").iterdir()) == before  # no writes
    data = load_dataset(DataConfig(name, data_dir=str(tmp_path)))
    assert (len(data.train), len(data.val), len(data.test)) == (48, 16, 16)
    assert data.input_shape == (1, 28, 28) and data.augment == "none"


@pytest.mark.parametrize("protocol", [2, pickle.DEFAULT_PROTOCOL])
def test_cifar_batches_load(tmp_path: Path, protocol: int) -> None:
    images, labels = write_cifar(tmp_path, protocol=protocol)
    x, y, classes = DATASETS["cifar10"](DataConfig("cifar10", data_dir=str(tmp_path)))
    assert classes == 10 and x.shape == (60, 3, 32, 32)
    np.testing.assert_array_equal(y, labels)
    np.testing.assert_allclose(x * 255, images, atol=1e-3)
    data = load_dataset(DataConfig("cifar10", data_dir=str(tmp_path)))
    assert data.augment == "crop_flip" and data.input_shape == (3, 32, 32)
    off = load_dataset(DataConfig("cifar10", data_dir=str(tmp_path), augment="none"))
    assert off.augment == "none"


def test_cifar_batch_cannot_run_code(tmp_path: Path) -> None:
    class Evil:
        def __reduce__(self) -> tuple[object, tuple[str]]:
            return (print, ("pwned",))

    write_cifar(tmp_path)
    bad = tmp_path / "cifar-10-batches-py" / "data_batch_3"
    bad.write_bytes(pickle.dumps({"data": Evil(), "labels": []}))
    with pytest.raises(pickle.UnpicklingError, match=r"refusing to load builtins\.print"):
        read_cifar_batch(bad)
    with pytest.raises(ValueError, match=r"^dataset\.data_dir: cannot read CIFAR-10 batch .*"
                                         r"data_batch_3"):
        DATASETS["cifar10"](DataConfig("cifar10", data_dir=str(tmp_path)))


def test_corrupt_idx_file_is_named(tmp_path: Path) -> None:
    write_mnist(tmp_path, "MNIST", gz=False)
    (tmp_path / "MNIST" / "raw" / "t10k-images-idx3-ubyte").write_bytes(b"\x00\x00\x09\x09junk")
    with pytest.raises(ValueError, match=r"^dataset\.data_dir: cannot read the MNIST IDX files"):
        DATASETS["mnist"](DataConfig("mnist", data_dir=str(tmp_path)))


def test_image_folder(tmp_path: Path) -> None:
    colours = write_image_folder(tmp_path)
    cfg = DataConfig("imagefolder", data_dir=str(tmp_path), image_size=16)
    x, y, classes = DATASETS["imagefolder"](cfg)
    assert classes == 3 and x.shape == (15, 3, 16, 16)
    np.testing.assert_array_equal(y, np.repeat([0, 1, 2], 5))  # sorted folder names
    for i, rgb in enumerate(colours.values()):  # colour stays colour, grey becomes grey RGB
        colour = x[5 * i + 1:5 * i + 5:2].mean(axis=(0, 2, 3)) * 255
        np.testing.assert_allclose(colour, rgb, atol=2)
        grey = x[5 * i]
        assert np.array_equal(grey[0], grey[1]) and np.array_equal(grey[1], grey[2])
    data = load_dataset(DataConfig("imagefolder", data_dir=str(tmp_path)))
    assert data.input_shape == (3, 32, 32) and data.num_classes == 3


def test_image_size_resizes_any_dataset() -> None:
    data = load_dataset(DataConfig(image_size=16))
    assert data.input_shape == (1, 16, 16) and data.train.x.shape[-2:] == (16, 16)


# --- missing files: one line naming them and where they go ---------------------------------

@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("mnist", r"has no MNIST files \(expected {d}/MNIST/raw/train-images-idx3-ubyte\[\.gz\]"),
        ("fashion_mnist", r"has no FashionMNIST files \(expected "
                          r"{d}/FashionMNIST/raw/train-images-idx3-ubyte"),
        ("cifar10", r"has no CIFAR-10 files \(expected {d}/cifar-10-batches-py/data_batch_1, "),
        ("imagefolder", r"has no class folders; put one folder of images per class there"),
    ],
)
def test_empty_folder_names_the_missing_files(tmp_path: Path, name: str, message: str) -> None:
    pattern = r"^dataset\.data_dir: {d} " + message
    with pytest.raises(ValueError, match=pattern.format(d=tmp_path)):
        check_dataset(DataConfig(name, data_dir=str(tmp_path)))


def test_partly_missing_files_are_listed(tmp_path: Path) -> None:
    write_cifar(tmp_path)
    (tmp_path / "cifar-10-batches-py" / "test_batch").unlink()
    with pytest.raises(ValueError, match=r"is missing CIFAR-10 files \(expected [^,]*test_batch\)"):
        check_dataset(DataConfig("cifar10", data_dir=str(tmp_path)))
    with pytest.raises(ValueError, match=r"^dataset\.data_dir: dataset 'mnist' reads local"):
        check_dataset(DataConfig("mnist"))
    (tmp_path / "empty_class").mkdir()
    with pytest.raises(ValueError, match=r"class folder without images \(cifar-10-batches-py\)"):
        check_dataset(DataConfig("imagefolder", data_dir=str(tmp_path)))


# --- studies through the CLI -----------------------------------------------------------------

def _toml(dataset: str, data_dir: Path, space: str) -> str:
    return f"""
[study]
name = "{dataset}_{space.split()[0]}"
n_trials = 2
seed = 0
device = "auto"

[sampler]
name = "random"

[dataset]
name = "{dataset}"
data_dir = "{data_dir}"

[budget]
epochs = 1
finetune_epochs = 1
qat_epochs = 1
batch_size = 16
latency_reps = 1

[space]
name = "{space.split()[0]}"
{space.split(maxsplit=1)[1]}
bits = [4, 32]
prune_ratio = {{ low = 0.0, high = 0.6 }}
"""


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "search", *args], cwd=cwd, env=ENV,
                          capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize(
    ("dataset", "space"),
    [
        ("mnist", "cnn max_depth = 2\nwidths = [4, 8]"),
        ("fashion_mnist", "mobilenet max_stages = 3\ndepths = [1]\nwidth_multiplier = [0.25]"),
        ("cifar10", "resnet max_stages = 2\nblocks = [1]\nwidths = [4, 8]"),
    ],
)
def test_two_trial_study_through_the_cli(tmp_path: Path, dataset: str, space: str) -> None:
    data = tmp_path / "data"
    if dataset == "cifar10":
        write_cifar(data)
    else:
        write_mnist(data, "MNIST" if dataset == "mnist" else "FashionMNIST", gz=True)
    (tmp_path / "s.toml").write_text(_toml(dataset, data, space))
    res = _cli("run", "s.toml", "--quiet", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    name = f"{dataset}_{space.split()[0]}"
    trials = pd.read_csv(tmp_path / "runs" / name / "trials.csv")
    assert list(trials.state) == ["COMPLETE", "COMPLETE"]
    assert (trials.params > 0).all() and trials.val_accuracy.between(0, 1).all()
    assert len(pd.read_csv(tmp_path / "runs" / name / "pareto.csv")) >= 1


def test_empty_data_dir_exits_2_with_one_line_and_writes_nothing(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "s.toml").write_text(_toml("mnist", tmp_path / "data", "cnn max_depth = 1"))
    res = _cli("run", "s.toml", cwd=tmp_path)
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    assert f"dataset.data_dir: {tmp_path / 'data'} has no MNIST files" in lines[0]
    assert "MNIST/raw/t10k-labels-idx1-ubyte[.gz]" in lines[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data", "s.toml"]


def test_study_stored_before_the_new_dataset_options_continues(tmp_path: Path) -> None:
    cfg = StudyConfig(name="old", n_trials=1)
    url = f"sqlite:///{tmp_path / 'x.db'}"
    study = create_or_load(cfg, url)
    stored = study.user_attrs[CONFIG_ATTR]
    for key in ("augment", "image_size"):  # as written by the version before these options
        del stored["dataset"][key]
    study.set_user_attr(CONFIG_ATTR, stored)
    again = create_or_load(cfg, url)
    assert again.study_name == "old" and "augment" not in again.user_attrs[CONFIG_ATTR]["dataset"]
    changed = StudyConfig(name="old", n_trials=1, dataset=DataConfig(augment="crop_flip"))
    with pytest.raises(FrontierError, match=r"^dataset\.augment: study 'old' .* None, not "
                                            r"'crop_flip'"):
        create_or_load(changed, url)


@pytest.mark.parametrize(("study", "folder"), [("mnist_cnn", "MNIST"), ("cifar10_resnet", None)])
def test_shipped_studies_are_valid_once_the_files_are_there(tmp_path: Path, study: str,
                                                            folder: str | None) -> None:
    data = tmp_path / "data"
    if folder:
        write_mnist(data, folder, gz=True)
    else:
        write_cifar(data)
    raw = tomllib.loads((ROOT / "studies" / f"{study}.toml").read_text())
    assert raw["dataset"]["data_dir"] == "data" and raw["study"]["device"] == "auto"
    raw["dataset"]["data_dir"] = str(data)
    cfg = StudyConfig.from_dict(raw)  # validates the space
    assert cfg.space.name in ("cnn", "resnet") and cfg.dataset.data_dir == str(data)
    check_runnable(cfg)  # the files are there
    shutil.rmtree(data)
    data.mkdir()
    assert StudyConfig.from_dict(raw) == cfg  # a config is data: no file is looked at
    with pytest.raises(DatasetError, match=rf"^dataset\.data_dir: {data} has no "):
        check_runnable(cfg)
